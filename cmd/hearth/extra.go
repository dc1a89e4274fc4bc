package main

import "github.com/spf13/cobra"

// addHelperCommands wires commands that live in their own files.
func addHelperCommands(root *cobra.Command) {
	wf := &cobra.Command{Use: "wf", Short: "Workflows in Amazon States Language"}
	wf.AddCommand(newWorkflowRunCommand())
	wf.AddCommand(newWorkflowCommands()...)
	root.AddCommand(newSimCommand(), wf)
}
