package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
	"github.com/hearth-sh/hearth/internal/workflow/graph"
)

// newWorkflowCommands returns the `hearth wf` commands that talk to a node:
// create, start, describe, history, ls, stop and graph (which also works
// on a local file without a node).
func newWorkflowCommands() []*cobra.Command {
	return []*cobra.Command{
		newWfCreateCommand(), newWfStartCommand(), newWfDescribeCommand(), newWfHistoryCommand(),
		newWfListCommand(), newWfStopCommand(), newWfGraphCommand(),
	}
}

// wfClient builds a client from the root command's --url and --token
// (or HEARTH_URL and HEARTH_TOKEN).
func wfClient(cmd *cobra.Command) *client.Client {
	base, token := envOr("HEARTH_URL", client.DefaultURL), os.Getenv("HEARTH_TOKEN")
	// The root command's persistent flags default to the environment.
	if f := cmd.Flag("url"); f != nil {
		base = f.Value.String()
	}
	if f := cmd.Flag("token"); f != nil && f.Value.String() != "" {
		token = f.Value.String()
	}
	return client.New(base, client.WithToken(token))
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// splitExecution accepts "WORKFLOW EXECUTION" as two arguments or an
// execution ARN (arn:aws:states:REGION:ACCOUNT:execution:WORKFLOW:NAME).
func splitExecution(args []string) (string, string, error) {
	if len(args) == 2 {
		return args[0], args[1], nil
	}
	parts := strings.Split(args[0], ":")
	if len(parts) == 8 && parts[5] == "execution" {
		return parts[6], parts[7], nil
	}
	return "", "", fmt.Errorf("name an execution as WORKFLOW EXECUTION or by its ARN, not %q", args[0])
}

func newWfCreateCommand() *cobra.Command {
	var typ string
	var update bool
	cmd := &cobra.Command{
		Use:   "create NAME FILE",
		Short: "Store a state machine (Amazon States Language) on the node",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := os.ReadFile(args[1])
			if err != nil {
				return fmt.Errorf("read definition: %w", err)
			}
			c := wfClient(cmd)
			var w client.Workflow
			if update {
				w, err = c.UpdateWorkflow(cmd.Context(), args[0], def)
			} else {
				w, err = c.CreateWorkflow(cmd.Context(), args[0], def, typ)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s version %d\n", w.ARN, w.Type, w.Version)
			return nil
		},
	}
	cmd.Flags().StringVar(&typ, "type", "STANDARD", "STANDARD (durable) or EXPRESS (in memory)")
	cmd.Flags().BoolVar(&update, "update", false, "replace the definition of an existing workflow")
	return cmd
}

func newWfStartCommand() *cobra.Command {
	var input, name string
	var wait bool
	cmd := &cobra.Command{
		Use:   "start WORKFLOW",
		Short: "Start an execution (--wait waits for its result)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := readWorkflowInput(input)
			if err != nil {
				return err
			}
			raw, err := asl.EncodeJSON(in)
			if err != nil {
				return fmt.Errorf("encode input: %w", err)
			}
			x, err := wfClient(cmd).StartExecution(cmd.Context(), args[0], client.StartOptions{Name: name, Input: json.RawMessage(raw), Sync: wait})
			if err != nil {
				return err
			}
			return printJSON(cmd, x)
		},
	}
	cmd.Flags().StringVar(&input, "input", "{}", "execution input: JSON text, or @FILE")
	cmd.Flags().StringVar(&name, "name", "", "execution name (unique per workflow; default a UUID)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the execution to finish and print its result")
	return cmd
}

func newWfDescribeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "describe (WORKFLOW EXECUTION | EXECUTION-ARN)",
		Short: "Print an execution's status, input and output",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			wf, name, err := splitExecution(args)
			if err != nil {
				return err
			}
			x, err := wfClient(cmd).DescribeExecution(cmd.Context(), wf, name)
			if err != nil {
				return err
			}
			return printJSON(cmd, x)
		},
	}
}

func newWfHistoryCommand() *cobra.Command {
	var asJSON, reverse bool
	cmd := &cobra.Command{
		Use:   "history (WORKFLOW EXECUTION | EXECUTION-ARN)",
		Short: "Print an execution's history events",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			wf, name, err := splitExecution(args)
			if err != nil {
				return err
			}
			events, err := wfClient(cmd).ExecutionHistory(cmd.Context(), wf, name, reverse)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, events)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tTYPE\tSTATE\tDETAIL")
			for _, ev := range events {
				detail := string(ev.Output)
				if detail == "" {
					detail = string(ev.Input)
				}
				if ev.Error != "" {
					detail = ev.Error + ": " + ev.Cause
				}
				if len(detail) > 80 {
					detail = detail[:77] + "..."
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", ev.ID, ev.Timestamp.Format(time.RFC3339Nano), ev.Type, ev.Name, detail)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the events as JSON")
	cmd.Flags().BoolVar(&reverse, "reverse", false, "newest first")
	return cmd
}

func newWfListCommand() *cobra.Command {
	var status string
	var machines bool
	cmd := &cobra.Command{
		Use:   "ls [WORKFLOW]",
		Short: "List executions (of one workflow; --status filters), or workflows with --workflows",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := wfClient(cmd)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			if machines {
				ws, err := c.ListWorkflows(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintln(tw, "NAME\tTYPE\tVERSION\tUPDATED")
				for _, w := range ws {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", w.Name, w.Type, w.Version, w.Updated.Format(time.RFC3339))
				}
				return tw.Flush()
			}
			f := client.ExecutionFilter{Status: strings.ToUpper(status)}
			if len(args) == 1 {
				f.Workflow = args[0]
			}
			xs, err := c.ListExecutions(cmd.Context(), f)
			if err != nil {
				return err
			}
			fmt.Fprintln(tw, "WORKFLOW\tEXECUTION\tSTATUS\tSTARTED\tSTOPPED")
			for _, x := range xs {
				stop := "-"
				if x.StopTime != nil {
					stop = x.StopTime.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.Workflow, x.Name, x.Status, x.StartTime.Format(time.RFC3339), stop)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only executions with this status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED)")
	cmd.Flags().BoolVar(&machines, "workflows", false, "list the stored workflows instead")
	return cmd
}

func newWfStopCommand() *cobra.Command {
	var errName, cause string
	cmd := &cobra.Command{
		Use:   "stop (WORKFLOW EXECUTION | EXECUTION-ARN)",
		Short: "Stop a running execution (it ends ABORTED)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			wf, name, err := splitExecution(args)
			if err != nil {
				return err
			}
			x, err := wfClient(cmd).StopExecution(cmd.Context(), wf, name, errName, cause)
			if err != nil {
				return err
			}
			return printJSON(cmd, x)
		},
	}
	cmd.Flags().StringVar(&errName, "error", "", "error name recorded on the execution")
	cmd.Flags().StringVar(&cause, "cause", "", "cause recorded on the execution")
	return cmd
}

func newWfGraphCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph (FILE | WORKFLOW)",
		Short: "Print a state machine as a Mermaid flowchart or a DOT digraph",
		Long: `Print a state machine as a graph: from a definition file when FILE exists,
otherwise from the workflow of that name stored on the node.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := os.ReadFile(args[0])
			if os.IsNotExist(err) {
				w, gerr := wfClient(cmd).GetWorkflow(cmd.Context(), args[0])
				if gerr != nil {
					return fmt.Errorf("%s is neither a file nor a workflow on the node: %w", args[0], gerr)
				}
				def, err = w.Definition, nil
				if s := ""; json.Unmarshal(def, &s) == nil {
					def = []byte(s)
				}
			}
			if err != nil {
				return fmt.Errorf("read definition: %w", err)
			}
			m, err := asl.Parse(def)
			if err != nil {
				return fmt.Errorf("parse %s: %w", args[0], err)
			}
			switch strings.ToLower(format) {
			case "mermaid":
				fmt.Fprint(cmd.OutOrStdout(), graph.Mermaid(m))
			case "dot":
				fmt.Fprint(cmd.OutOrStdout(), graph.DOT(m))
			default:
				return fmt.Errorf("--format must be mermaid or dot, not %q", format)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "mermaid", "mermaid or dot")
	return cmd
}
