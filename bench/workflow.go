package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/wasmbuild"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
	"github.com/hearth-sh/hearth/internal/workflow/engine"
)

// WorkflowOptions configure the workflow benchmark.
type WorkflowOptions struct {
	// EchoDir is the Go echo function the Task states call when the WAT
	// echo cannot be assembled (default ./examples/echo).
	EchoDir string
	// WATEcho is the hand-written WebAssembly echo, the no-op function of
	// the 3-Task chain (default ./examples/wat-echo/echo.wat).
	WATEcho string
	// Duration of each run (default 3s).
	Duration time.Duration
	// Concurrency lists the numbers of concurrent executions (default 1, 64).
	Concurrency []int
}

// Workflow measures the workflow engine on an in-process node: a 10-state
// Pass chain and a 3-Task chain of no-op functions, STANDARD (durable:
// every event is stored on JetStream before the execution moves on) and
// EXPRESS (in memory), with 1 and 64 concurrent executions, each started
// and awaited by StartSync. A transition is one state run.
func Workflow(ctx context.Context, opts WorkflowOptions) (*Report, error) {
	if opts.EchoDir == "" {
		opts.EchoDir = "./examples/echo"
	}
	if opts.WATEcho == "" {
		opts.WATEcho = "./examples/wat-echo/echo.wat"
	}
	if opts.Duration == 0 {
		opts.Duration = 3 * time.Second
	}
	if len(opts.Concurrency) == 0 {
		opts.Concurrency = []int{1, 64}
	}
	rep := &Report{Bench: "workflow"}
	fn, err := assembleWAT(ctx, opts.WATEcho)
	if err != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("no WAT echo (%v): the Tasks call the Go SDK echo", err))
		if fn, err = wasmbuild.Build(ctx, opts.EchoDir); err != nil {
			return nil, fmt.Errorf("build echo function: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "hearth-bench-wf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := node.Start(ctx, node.Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		return nil, err
	}
	defer n.Stop(context.Background())
	maxConc := 0
	for _, c := range opts.Concurrency {
		maxConc = max(maxConc, c)
	}
	if _, err := client.New(n.URL()).Deploy(ctx, "noop", client.FunctionConfig{Concurrency: maxConc, MinWarm: min(maxConc, 8)}, fn); err != nil {
		return nil, fmt.Errorf("deploy no-op function: %w", err)
	}
	eng, err := engine.New(ctx, engine.Options{JS: n.Backbone().JS, Invoker: n, Logger: quiet})
	if err != nil {
		return nil, err
	}
	defer eng.Close(context.Background())

	chains := []struct {
		name, def string
		states    int
	}{
		{"pass", passChain(10), 10},
		{"3task", `{"StartAt":"T1","States":{
			"T1":{"Type":"Task","Resource":"noop","Next":"T2"},
			"T2":{"Type":"Task","Resource":"noop","Next":"T3"},
			"T3":{"Type":"Task","Resource":"noop","End":true}}}`, 3},
	}
	best := map[string]float64{}
	for _, typ := range []asl.Type{asl.Standard, asl.Express} {
		mode := strings.ToLower(string(typ))
		for _, ch := range chains {
			machine := mode + "-" + ch.name
			if _, err := eng.CreateMachine(ctx, engine.MachineSpec{Name: machine, Definition: ch.def, Type: typ}); err != nil {
				return nil, err
			}
			for _, conc := range opts.Concurrency {
				run, err := runWorkflows(ctx, eng, machine, conc, opts.Duration)
				if err != nil {
					return nil, fmt.Errorf("%s with %d concurrent executions: %w", machine, conc, err)
				}
				tps := float64(run.count*ch.states) / run.elapsed.Seconds()
				prefix := fmt.Sprintf("workflow.%s.%s.c%d", mode, ch.name, conc)
				rep.Add(prefix+".transitions_per_s", tps, "transitions/s")
				rep.Add(prefix+".p50_ms", ms(percentile(run.latencies, 50)), "ms")
				rep.Add(prefix+".p99_ms", ms(percentile(run.latencies, 99)), "ms")
				best[mode] = max(best[mode], tps)
				if ch.name == "3task" && conc == 1 && typ == asl.Standard {
					rep.Add("workflow.standard.3task.p50_ms", ms(percentile(run.latencies, 50)), "ms")
					rep.Add("workflow.standard.3task.p99_ms", ms(percentile(run.latencies, 99)), "ms")
				}
			}
		}
	}
	rep.Add("workflow.standard.transitions_per_s", best["standard"], "transitions/s")
	rep.Add("workflow.express.transitions_per_s", best["express"], "transitions/s")
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("STANDARD %.0f durable transitions/s (target ≥ 5000); EXPRESS %.0f transitions/s (target ≥ 100000); 3-Task STANDARD p50 %.2f ms (target < 5 ms)",
			best["standard"], best["express"], rep.Value("workflow.standard.3task.p50_ms")),
		"transitions/s is the best of the concurrency levels, over the Pass and 3-Task chains")
	return rep, nil
}

func passChain(n int) string {
	var b strings.Builder
	b.WriteString(`{"StartAt":"P0","States":{`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		if i == n-1 {
			fmt.Fprintf(&b, `"P%d":{"Type":"Pass","End":true}`, i)
		} else {
			fmt.Fprintf(&b, `"P%d":{"Type":"Pass","Next":"P%d"}`, i, i+1)
		}
	}
	b.WriteString("}}")
	return b.String()
}

type workflowRun struct {
	count     int
	elapsed   time.Duration
	latencies []time.Duration
}

// runWorkflows runs executions back to back on conc workers for d.
func runWorkflows(ctx context.Context, eng *engine.Engine, machine string, conc int, d time.Duration) (*workflowRun, error) {
	var (
		mu    sync.Mutex
		run   workflowRun
		first error
		wg    sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				x, err := eng.StartSync(ctx, engine.StartInput{Machine: machine, Input: []byte(`{"n":1}`)})
				if err == nil && x.Status != "SUCCEEDED" {
					err = fmt.Errorf("execution %s ended %s: %s %s", x.Name, x.Status, x.Error, x.Cause)
				}
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			run.latencies = append(run.latencies, lat...)
			run.count += len(lat)
			mu.Unlock()
		}()
	}
	wg.Wait()
	run.elapsed = time.Since(start)
	if first != nil {
		return nil, first
	}
	return &run, nil
}
