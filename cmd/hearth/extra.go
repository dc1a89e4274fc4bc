package main

import "github.com/spf13/cobra"

// addHelperCommands wires commands that live in their own files.
func addHelperCommands(root *cobra.Command) {
	root.AddCommand(newSimCommand())
}
