package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hearth-sh/hearth/client"
)

func newStateCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "state", Short: "Read and write the node's key/value state stores"}
	var showETag bool
	get := &cobra.Command{
		Use:   "get STORE KEY",
		Short: "Print a key's value (--etag also prints its ETag on stderr)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, etag, err := g.client().StateGet(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if showETag {
				fmt.Fprintf(os.Stderr, "etag %s\n", etag)
			}
			os.Stdout.Write(v)
			if len(v) > 0 && v[len(v)-1] != '\n' {
				fmt.Println()
			}
			return nil
		},
	}
	get.Flags().BoolVar(&showETag, "etag", false, "print the ETag on stderr")

	var opts client.StateSetOptions
	var ttl time.Duration
	set := &cobra.Command{
		Use:     "set STORE KEY VALUE|-",
		Short:   "Write a key (VALUE - reads stdin); prints the new ETag",
		Example: "  hearth state set default greeting hello --ttl 1h\n  hearth state set default config - --if-match 42 < config.json",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			value := []byte(args[2])
			if args[2] == "-" {
				var err error
				if value, err = io.ReadAll(os.Stdin); err != nil {
					return fmt.Errorf("read value from stdin: %w", err)
				}
			}
			opts.TTL = ttl
			etag, err := g.client().StateSet(cmd.Context(), args[0], args[1], value, opts)
			if err != nil {
				return err
			}
			fmt.Println(etag)
			return nil
		},
	}
	set.Flags().StringVar(&opts.IfMatch, "if-match", "", "write only if the key still has this ETag")
	set.Flags().BoolVar(&opts.IfNoneMatch, "if-none-match", false, "write only if the key does not exist")
	set.Flags().DurationVar(&ttl, "ttl", 0, "expire the key after this long")

	var ifMatch string
	rm := &cobra.Command{
		Use:   "rm STORE KEY",
		Short: "Delete a key",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.client().StateDelete(cmd.Context(), args[0], args[1], ifMatch)
		},
	}
	rm.Flags().StringVar(&ifMatch, "if-match", "", "delete only if the key still has this ETag")

	var limit int
	ls := &cobra.Command{
		Use:   "ls STORE [PREFIX]",
		Short: "List keys (all pages)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix := ""
			if len(args) == 2 {
				prefix = args[1]
			}
			cursor := ""
			for printed := 0; ; {
				keys, next, err := g.client().StateList(cmd.Context(), args[0], prefix, cursor, 1000)
				if err != nil {
					return err
				}
				for _, k := range keys {
					if limit > 0 && printed == limit {
						return nil
					}
					fmt.Println(k)
					printed++
				}
				if next == "" {
					return nil
				}
				cursor = next
			}
		},
	}
	ls.Flags().IntVar(&limit, "limit", 0, "print at most this many keys")
	cmd.AddCommand(get, set, rm, ls)
	return cmd
}
