package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/hearth-sh/hearth/bench"
)

func newBenchCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench NAME",
		Short: "Run a self-contained benchmark (warm, process, state) and print its table or --json",
	}
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, `print one JSON object {"bench":…,"results":[…]}`)
	var cpuProfile string
	cmd.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole bench to this file")
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		if cpuProfile == "" {
			return nil
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		return pprof.StartCPUProfile(f)
	}
	cmd.PersistentPostRun = func(*cobra.Command, []string) {
		if cpuProfile != "" {
			pprof.StopCPUProfile()
		}
	}
	var warm bench.WarmOptions
	warmCmd := &cobra.Command{
		Use:   "warm",
		Short: "Warm invoke through the HTTP API next to bare net/http, cold starts by phase, and telemetry on vs off",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := bench.Warm(cmd.Context(), warm)
			if err != nil {
				return err
			}
			if asJSON {
				return rep.WriteJSON(os.Stdout)
			}
			return rep.WriteTable(os.Stdout)
		},
	}
	warmCmd.Flags().StringVar(&warm.EchoDir, "echo", "./examples/echo", "the Go echo function to build")
	warmCmd.Flags().StringVar(&warm.WATEcho, "wat-echo", "./examples/wat-echo/echo.wat", "the WebAssembly text echo to assemble with wat2wasm")
	warmCmd.Flags().DurationVar(&warm.Duration, "duration", 5*time.Second, "length of each load run")
	warmCmd.Flags().IntVar(&warm.ColdSamples, "cold-samples", 200, "number of cold starts to time")
	warmCmd.Flags().IntVar(&warm.TelemetryRounds, "telemetry-rounds", 40, "rounds of each side of the telemetry on/off comparison (-1 skips it)")
	warmCmd.Flags().DurationVar(&warm.TelemetryRound, "telemetry-round", 250*time.Millisecond, "length of each telemetry round")
	cmd.AddCommand(warmCmd)
	var proc bench.ProcessOptions
	procCmd := &cobra.Command{
		Use:   "process",
		Short: "An aws-lambda-go echo on the process runtime next to the Lambda RIE and a plain fork+exec",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := bench.Process(cmd.Context(), proc)
			if err != nil {
				return err
			}
			if asJSON {
				return rep.WriteJSON(os.Stdout)
			}
			return rep.WriteTable(os.Stdout)
		},
	}
	procCmd.Flags().StringVar(&proc.EchoDir, "echo", "./examples/lambda-echo", "the aws-lambda-go echo function to build")
	procCmd.Flags().DurationVar(&proc.Duration, "duration", 3*time.Second, "length of each warm run")
	procCmd.Flags().IntVar(&proc.ColdSamples, "cold-samples", 100, "number of cold starts to time")
	procCmd.Flags().StringVar(&proc.RIE, "rie", "", "aws-lambda-rie binary (default: go install it)")
	cmd.AddCommand(procCmd)
	var st bench.StateOptions
	stateCmd := &cobra.Command{
		Use:   "state",
		Short: "State ops from inside a function and over HTTP, per backend, next to redis-benchmark and raw NATS KV",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := bench.State(cmd.Context(), st)
			if err != nil {
				return err
			}
			if asJSON {
				return rep.WriteJSON(os.Stdout)
			}
			return rep.WriteTable(os.Stdout)
		},
	}
	stateCmd.Flags().StringVar(&st.PostgresURL, "postgres", "", "also measure a PostgreSQL store at this URL")
	cmd.AddCommand(stateCmd)
	var ev bench.EventsOptions
	var evSync string
	evCmd := &cobra.Command{
		Use:   "events",
		Short: "Async invocations accepted and completed per second and pub/sub latency, next to raw JetStream",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if ev.SyncAlways, err = syncAlways(evSync, false); err != nil {
				return err
			}
			rep, err := bench.Events(cmd.Context(), ev)
			if err != nil {
				return err
			}
			if asJSON {
				return rep.WriteJSON(os.Stdout)
			}
			return rep.WriteTable(os.Stdout)
		},
	}
	evCmd.Flags().DurationVar(&ev.Duration, "duration", 5*time.Second, "length of each rate measurement")
	evCmd.Flags().IntVar(&ev.Concurrency, "concurrency", 8, "how many async invocations of each no-op function run at once")
	evCmd.Flags().StringVar(&evSync, "sync", "interval", "the node's backbone fsyncs as with hearth up --sync: interval or always (every write, hearth and the raw loops alike)")
	evCmd.Flags().IntVar(&ev.Rounds, "rounds", 5, "rounds of the no-op against the raw loops, side by side; figures are medians")
	evCmd.Flags().StringVar(&ev.NoopWAT, "noop", "./bench/eventsnoop/noop.wat", "the WebAssembly text no-op to assemble with wat2wasm")
	cmd.AddCommand(evCmd)
	var cs bench.ColdstartOptions
	csCmd := &cobra.Command{
		Use:   "coldstart",
		Short: "Cold starts from init, from a snapshot and recycle resets; memory of idle restored instances",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := bench.Coldstart(cmd.Context(), cs)
			if err != nil {
				return err
			}
			if asJSON {
				return rep.WriteJSON(os.Stdout)
			}
			return rep.WriteTable(os.Stdout)
		},
	}
	csCmd.Flags().StringVar(&cs.GuestDir, "guest", "./bench/coldstartguest", "the Go guest to build")
	csCmd.Flags().IntVar(&cs.Samples, "samples", 1000, "snapshot cold starts and resets to time per guest")
	csCmd.Flags().IntVar(&cs.InitSamples, "init-samples", 100, "normal cold starts to time (a tenth for 100 MB)")
	csCmd.Flags().IntVar(&cs.IdleInstances, "idle", 10000, "idle restored instances to hold")
	cmd.AddCommand(csCmd)
	var wfOpts bench.WorkflowOptions
	wfCmd := &cobra.Command{
		Use:   "workflow",
		Short: "STANDARD and EXPRESS transitions/s and 3-Task latency, 1 and 64 concurrent executions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := bench.Workflow(cmd.Context(), wfOpts)
			if err != nil {
				return err
			}
			if asJSON {
				return rep.WriteJSON(os.Stdout)
			}
			return rep.WriteTable(os.Stdout)
		},
	}
	wfCmd.Flags().DurationVar(&wfOpts.Duration, "duration", 3*time.Second, "length of each run")
	cmd.AddCommand(wfCmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return fmt.Errorf("name a benchmark: %s", "warm, coldstart, events, process, state, workflow")
	}
	return cmd
}
