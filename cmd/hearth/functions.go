package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/runtime/process"
	"github.com/hearth-sh/hearth/internal/wasmbuild"
)

func newDeployCommand(g *globals) *cobra.Command {
	var (
		wasmFile, zipPath, memory, runtime string
		handler                            string
		policy, onSuccess, onFailure       string
		snapshot, isolation                string
		retries                            int
		timeout, keepAlive                 time.Duration
		concurrency, minWarm               int
		env                                []string
	)
	cmd := &cobra.Command{
		Use:   "deploy NAME [DIR]",
		Short: "Build a Go function directory for wasip1 (or take --wasm FILE) and deploy it as a new version",
		Example: "  hearth deploy hello ./examples/hello\n" +
			"  hearth deploy hello --wasm hello.wasm --memory 64MiB --timeout 5s --min-warm 1",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			var artifact []byte
			var err error
			switch {
			case (wasmFile != "" || zipPath != "") && len(args) == 2, wasmFile != "" && zipPath != "":
				return errors.New("give one of a directory, --wasm or --zip")
			case wasmFile != "":
				artifact, err = os.ReadFile(wasmFile)
			case zipPath != "":
				if runtime == "" {
					runtime = "process"
				}
				artifact, err = readPackage(zipPath)
			case len(args) == 2:
				fmt.Fprintf(os.Stderr, "building %s for GOOS=wasip1 GOARCH=wasm…\n", args[1])
				artifact, err = wasmbuild.Build(cmd.Context(), args[1])
			default:
				return errors.New("nothing to deploy: give a Go function directory, --wasm FILE or --zip PACKAGE")
			}
			if err != nil {
				return err
			}
			cfg := client.FunctionConfig{Runtime: runtime, Handler: handler, Concurrency: concurrency, MinWarm: minWarm,
				Timeout: client.Duration(timeout), KeepAlive: client.Duration(keepAlive), Policy: policy,
				OnSuccess: onSuccess, OnFailure: onFailure, Snapshot: snapshot, Isolation: isolation}
			if cmd.Flags().Changed("retries") {
				cfg.Retries = &retries
			}
			if memory != "" {
				if cfg.MemoryMB, err = parseMemory(memory); err != nil {
					return err
				}
			}
			if cfg.Env, err = parseEnv(env); err != nil {
				return err
			}
			fn, err := g.client().Deploy(cmd.Context(), name, cfg, artifact)
			if err != nil {
				return err
			}
			fmt.Printf("deployed %s version %d (%d bytes, sha256 %s)\n", fn.Name, fn.Version, fn.Size, fn.Digest[:12])
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&wasmFile, "wasm", "", "deploy a prebuilt WebAssembly module")
	f.StringVar(&zipPath, "zip", "", "deploy a Lambda deployment package (a .zip, or a directory to zip) on the process runtime")
	f.StringVar(&memory, "memory", "", "max memory, e.g. 64MiB, 1GiB or a number of MiB (default 128MiB)")
	f.DurationVar(&timeout, "timeout", 0, "max time of one invocation (default 30s)")
	f.IntVar(&concurrency, "concurrency", 0, "max concurrent instances on a node (default 10)")
	f.IntVar(&minWarm, "min-warm", 0, "instances kept warm always (provisioned concurrency)")
	f.DurationVar(&keepAlive, "keep-alive", 0, "how long an idle instance lives (default 10m)")
	f.StringArrayVar(&env, "env", nil, "environment variable K=V (repeatable)")
	f.StringVar(&runtime, "runtime", "", "runtime: wasm (default) or process")
	f.StringVar(&handler, "handler", "", "entry point, for runtimes that need one")
	f.StringVar(&snapshot, "snapshot", "", "auto (default: restore instances from a post-init snapshot) or off")
	f.StringVar(&isolation, "isolation", "", "per-request: reset the instance to its snapshot before every request")
	f.StringVar(&policy, "policy", "", "keep-alive / pre-warm policy: fixed (default), histogram or forecast")
	f.IntVar(&retries, "retries", 2, "retries of a failed async invocation")
	f.StringVar(&onSuccess, "on-success", "", "async destination on success: function:NAME or topic:NAME")
	f.StringVar(&onFailure, "on-failure", "", "async destination on failure: function:NAME or topic:NAME")
	return cmd
}

// readPackage reads a Lambda deployment package: a zip file as is, or a
// directory zipped.
func readPackage(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--zip: %w", err)
	}
	if info.IsDir() {
		return process.ZipDir(path)
	}
	return os.ReadFile(path)
}

// parseMemory reads a size such as 64MiB, 64MB, 1GiB or 128 (MiB).
func parseMemory(s string) (int, error) {
	units := []struct {
		suffix string
		mib    float64
	}{{"GiB", 1024}, {"GB", 1000 * 1000 * 1000 / float64(1<<20)}, {"MiB", 1}, {"MB", 1000 * 1000 / float64(1<<20)}, {"", 1}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || v <= 0 {
			break
		}
		return int(v*u.mib + 0.5), nil
	}
	return 0, fmt.Errorf("--memory %q: use a size such as 64MiB, 1GiB or a number of MiB", s)
}

func parseEnv(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: use K=V", kv)
		}
		out[k] = v
	}
	return out, nil
}

func newInvokeCommand(g *globals) *cobra.Command {
	var data, idemKey string
	var verbose, async bool
	cmd := &cobra.Command{
		Use:     "invoke NAME",
		Short:   "Invoke a function and print its response",
		Example: "  hearth invoke hello --data '{\"name\":\"x\"}'\n  echo '{}' | hearth invoke hello --data - --verbose",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			payload := []byte(data)
			if data == "-" {
				var err error
				if payload, err = io.ReadAll(os.Stdin); err != nil {
					return fmt.Errorf("read payload from stdin: %w", err)
				}
			}
			if async {
				id, err := g.client().InvokeAsync(cmd.Context(), args[0], payload, idemKey)
				if err != nil {
					return err
				}
				fmt.Println(id)
				fmt.Fprintf(os.Stderr, "queued; see it with: hearth invocation get %s\n", id)
				return nil
			}
			var res *client.InvokeResult
			var err error
			if idemKey != "" {
				var replayed bool
				res, replayed, err = g.client().InvokeIdempotent(cmd.Context(), args[0], payload, idemKey)
				if err == nil && replayed && verbose {
					fmt.Fprintln(os.Stderr, "replayed: the first result for this idempotency key")
				}
			} else {
				res, err = g.client().Invoke(cmd.Context(), args[0], payload)
			}
			if err != nil {
				return err
			}
			if verbose {
				kind := "warm"
				if res.Cold {
					kind = "cold start"
				}
				fmt.Fprintf(os.Stderr, "request %s, version %d, %s\n", res.RequestID, res.Version, kind)
				for _, p := range res.Phases {
					fmt.Fprintf(os.Stderr, "  %-9s %9.3f ms\n", p.Name, float64(p.Duration)/float64(time.Millisecond))
				}
			}
			os.Stdout.Write(res.Body)
			if len(res.Body) > 0 && res.Body[len(res.Body)-1] != '\n' {
				fmt.Println()
			}
			if res.FunctionError != "" {
				return &exitError{code: 1, err: fmt.Errorf("function returned an error (%s)", res.FunctionError)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&data, "data", "d", "", "request payload, or - to read stdin")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show cold/warm and the time of each phase")
	cmd.Flags().BoolVar(&async, "async", false, "queue the invocation and print its id (retries, DLQ, destinations apply)")
	cmd.Flags().StringVar(&idemKey, "idempotency-key", "", "run at most once per key within the function's idempotency window")
	return cmd
}

func newListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List functions",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fns, err := g.client().List(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tRUNTIME\tMEMORY\tTIMEOUT\tCONCURRENCY\tMIN-WARM\tDEPLOYED")
			for _, fn := range fns {
				c := fn.Config
				fmt.Fprintf(tw, "%s\t%d\t%s\t%dMiB\t%s\t%d\t%d\t%s\n", fn.Name, fn.Version, c.Runtime, c.MemoryMB,
					time.Duration(c.Timeout), c.Concurrency, c.MinWarm, fn.CreatedAt.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
}

func newGetCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a function's current version and config as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fn, err := g.client().Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(fn)
		},
	}
}

func newRemoveCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"delete"},
		Short:   "Remove a function (invocations in flight finish)",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.client().Delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Printf("removed %s\n", args[0])
			return nil
		},
	}
}

func newLogsCommand(g *globals) *cobra.Command {
	var follow bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Show a function's stdout/stderr and hearth's line per invocation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			print := func(e client.LogEntry) {
				fmt.Printf("%s %-6s %s %s\n", e.Time.Local().Format("15:04:05.000"), e.Stream, short(e.RequestID), e.Message)
			}
			if follow {
				return g.client().FollowLogs(cmd.Context(), args[0], tail, print)
			}
			entries, err := g.client().Logs(cmd.Context(), args[0], tail)
			if err != nil {
				return err
			}
			for _, e := range entries {
				print(e)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep streaming new lines")
	cmd.Flags().IntVarP(&tail, "tail", "n", 100, "number of recent lines to show first")
	return cmd
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	if id == "" {
		return "-"
	}
	return id
}
