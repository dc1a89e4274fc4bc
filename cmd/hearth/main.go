// Command hearth runs a hearth node and talks to one: deploy, invoke and
// inspect functions, run benchmarks and the policy simulator.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hearth-sh/hearth/client"
)

// globals are the flags every command shares.
type globals struct {
	url   string
	token string
}

func (g *globals) client() *client.Client {
	return client.New(g.url, client.WithToken(g.token))
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "hearth:", err)
		var exit *exitError
		if errors.As(err, &exit) {
			os.Exit(exit.code)
		}
		os.Exit(1)
	}
}

// exitError asks main to exit with a specific code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func newRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "hearth",
		Short:         "hearth: a self-hosted serverless platform with no cold starts and first-class state",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.url, "url", envOr("HEARTH_URL", client.DefaultURL), "node API URL (env HEARTH_URL)")
	root.PersistentFlags().StringVar(&g.token, "token", os.Getenv("HEARTH_TOKEN"), "API token (env HEARTH_TOKEN)")
	root.AddCommand(
		newUpCommand(),
		newDeployCommand(g),
		newInvokeCommand(g),
		newListCommand(g),
		newGetCommand(g),
		newRemoveCommand(g),
		newLogsCommand(g),
		newStateCommand(g),
		newBenchCommand(),
	)
	root.AddCommand(newAsyncCommands(g)...)
	addHelperCommands(root)
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
