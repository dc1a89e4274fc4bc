package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hearth-sh/hearth/client"
)

// newAsyncCommands returns the commands of async invocations, pub/sub and
// schedules: dlq, topic, publish, subscribe, unsubscribe, schedule and
// invocation.
func newAsyncCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{
		newDLQCommand(g), newTopicCommand(g), newPublishCommand(g),
		newSubscribeCommand(g, true), newSubscribeCommand(g, false),
		newScheduleCommand(g), newInvocationCommand(g),
	}
}

func printAsyncJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	fmt.Println(string(b))
	return nil
}

func asyncTable() *tabwriter.Writer { return tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0) }

func newDLQCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "Inspect and redrive a function's dead-letter queue"}
	cmd.AddCommand(&cobra.Command{
		Use:   "ls FUNCTION",
		Short: "List a function's dead letters, oldest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dls, err := g.client().DeadLetters(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			tw := asyncTable()
			fmt.Fprintln(tw, "ID\tFAILED\tATTEMPTS\tCONDITION\tERROR")
			for _, d := range dls {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", d.ID, d.FailedAt.Format(time.RFC3339), len(d.Attempts), d.Condition, asyncCell(d.Error, 60))
			}
			return tw.Flush()
		},
	}, &cobra.Command{
		Use:   "show FUNCTION ID",
		Short: "Show a dead letter with every attempt's error (JSON)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dl, err := g.client().DeadLetter(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return printAsyncJSON(dl)
		},
	}, &cobra.Command{
		Use:   "redrive FUNCTION [ID]",
		Short: "Queue dead letters again: all of them, or the one named",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 2 {
				id = args[1]
			}
			ids, err := g.client().Redrive(cmd.Context(), args[0], id)
			if err != nil {
				return err
			}
			for _, id := range ids {
				fmt.Println(id)
			}
			fmt.Fprintf(os.Stderr, "redrove %d invocation(s)\n", len(ids))
			return nil
		},
	})
	return cmd
}

func newTopicCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "topic", Short: "Create, list and remove pub/sub topics"}
	cmd.AddCommand(&cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := g.client().CreateTopic(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Printf("created topic %s\n", args[0])
			return nil
		},
	}, &cobra.Command{
		Use:   "ls",
		Short: "List topics and their subscribers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			topics, err := g.client().Topics(cmd.Context())
			if err != nil {
				return err
			}
			tw := asyncTable()
			fmt.Fprintln(tw, "TOPIC\tMESSAGES\tSUBSCRIBERS (PENDING)")
			for _, t := range topics {
				subs := make([]string, len(t.Subscriptions))
				for i, s := range t.Subscriptions {
					subs[i] = fmt.Sprintf("%s (%d)", s.Function, s.Pending)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\n", t.Name, t.Messages, strings.Join(subs, ", "))
			}
			return tw.Flush()
		},
	}, &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a topic with its subscriptions and undelivered events",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.client().DeleteTopic(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Printf("deleted topic %s\n", args[0])
			return nil
		},
	})
	return cmd
}

func newPublishCommand(g *globals) *cobra.Command {
	var data string
	var opts client.PublishOptions
	cmd := &cobra.Command{
		Use:     "publish TOPIC --data DATA|-",
		Short:   "Publish an event to a topic; prints its id",
		Example: "  hearth publish orders --data '{\"id\":42}' --type order.placed --ordering-key customer-7",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := []byte(data)
			if data == "-" {
				var err error
				if body, err = io.ReadAll(os.Stdin); err != nil {
					return fmt.Errorf("read data from stdin: %w", err)
				}
			}
			id, err := g.client().Publish(cmd.Context(), args[0], body, opts)
			if err != nil {
				return err
			}
			fmt.Println(id)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "event data (- reads stdin)")
	cmd.Flags().StringVar(&opts.Type, "type", "", "CloudEvents type (default hearth.message)")
	cmd.Flags().StringVar(&opts.Source, "source", "", "CloudEvents source (default hearth)")
	cmd.Flags().StringVar(&opts.ID, "id", "", "event id (default a new UUID; a repeat within 2 minutes is dropped)")
	cmd.Flags().StringVar(&opts.ContentType, "content-type", "", "content type of the data (default application/json)")
	cmd.Flags().StringVar(&opts.OrderingKey, "ordering-key", "", "deliver events of this key in order to each subscriber")
	return cmd
}

func newSubscribeCommand(g *globals, subscribe bool) *cobra.Command {
	var fn string
	cmd := &cobra.Command{
		Use:   "subscribe TOPIC --fn FUNCTION",
		Short: "Make a function receive every event of a topic",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fn == "" {
				return errors.New("--fn FUNCTION is required")
			}
			if !subscribe {
				if err := g.client().Unsubscribe(cmd.Context(), args[0], fn); err != nil {
					return err
				}
				fmt.Printf("%s no longer receives %s's events\n", fn, args[0])
				return nil
			}
			if err := g.client().Subscribe(cmd.Context(), args[0], fn); err != nil {
				return err
			}
			fmt.Printf("%s receives every event of %s from now on\n", fn, args[0])
			return nil
		},
	}
	if !subscribe {
		cmd.Use, cmd.Short = "unsubscribe TOPIC --fn FUNCTION", "End a function's subscription to a topic"
	}
	cmd.Flags().StringVar(&fn, "fn", "", "the subscribing function")
	return cmd
}

func newScheduleCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "schedule", Short: "Invoke functions on a cron expression or an interval"}
	var spec client.ScheduleSpec
	var every time.Duration
	add := &cobra.Command{
		Use:     "add NAME (--cron EXPR | --every DURATION) --fn FUNCTION [--data DATA]",
		Short:   "Add a schedule; it fires once per tick across the cluster",
		Example: "  hearth schedule add nightly --cron '0 3 * * *' --fn report\n  hearth schedule add poll --every 30s --fn poller --data '{}'",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if spec.Function == "" {
				return errors.New("--fn FUNCTION is required")
			}
			if (spec.Cron == "") == (every == 0) {
				return errors.New("give exactly one of --cron EXPR and --every DURATION")
			}
			spec.Name, spec.Every = args[0], client.Duration(every)
			sc, err := g.client().AddSchedule(cmd.Context(), spec)
			if err != nil {
				return err
			}
			fmt.Printf("next tick %s\n", sc.Next.Format(time.RFC3339))
			return nil
		},
	}
	add.Flags().StringVar(&spec.Cron, "cron", "", "five-field cron expression in UTC, e.g. '0 3 * * *'")
	add.Flags().DurationVar(&every, "every", 0, "interval, e.g. 30s (at least 1s)")
	add.Flags().StringVar(&spec.Function, "fn", "", "the function to invoke")
	add.Flags().StringVar(&spec.Data, "data", "", "request body of each invocation")
	cmd.AddCommand(add, &cobra.Command{
		Use:   "ls",
		Short: "List schedules with their next tick",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := g.client().Schedules(cmd.Context())
			if err != nil {
				return err
			}
			tw := asyncTable()
			fmt.Fprintln(tw, "NAME\tFUNCTION\tWHEN\tNEXT")
			for _, s := range list {
				when := s.Cron
				if when == "" {
					when = "every " + time.Duration(s.Every).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Function, when, s.Next.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}, &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a schedule",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.client().DeleteSchedule(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Printf("removed schedule %s\n", args[0])
			return nil
		},
	})
	return cmd
}

func newInvocationCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "invocation", Short: "Inspect async invocations"}
	cmd.AddCommand(&cobra.Command{
		Use:   "get ID",
		Short: "Show an async invocation's status, attempts and result (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := g.client().Invocation(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printAsyncJSON(inv)
		},
	})
	return cmd
}

// asyncCell shortens s to one line of at most n runes for a table cell.
func asyncCell(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
