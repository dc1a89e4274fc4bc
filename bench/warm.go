package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/wasmbuild"
)

// WarmOptions configure the warm-path benchmark.
type WarmOptions struct {
	// EchoDir is the Go echo function to build (default ./examples/echo).
	EchoDir string
	// WATEcho is the hand-written WebAssembly echo (default
	// ./examples/wat-echo/echo.wat), assembled with wat2wasm.
	WATEcho string
	// Duration of each load run, after a one-second warm-up.
	Duration time.Duration
	// ColdSamples is how many cold starts to time.
	ColdSamples int
	// TelemetryRounds is how many rounds of each side the telemetry
	// overhead runs (default 40; negative skips it), each TelemetryRound
	// long (default 250 ms). Short alternating rounds put the noise of a
	// shared machine on both sides.
	TelemetryRounds int
	TelemetryRound  time.Duration
}

// Warm measures, in one process: warm invokes of an echo function through
// the HTTP API next to a bare net/http echo handler (2 connections each), and
// cold starts with the compiled code cached, by phase.
//
// The headline warm figures (warm.http.*) use the WAT echo, whose own work
// is a copy of the body: they measure hearth's overhead, as the bare handler
// measures net/http's. The same function written in Go with the SDK is
// measured too (warm.http.go.*): Go code runs several times slower under
// wazero's interruption checks, and that cost is the guest's, not the
// platform's. Without wat2wasm only the Go figures are reported.
//
// Last, telemetry's cost on the same warm path (telemetry.*): see
// telemetryOverhead.
func Warm(ctx context.Context, opts WarmOptions) (*Report, error) {
	if opts.EchoDir == "" {
		opts.EchoDir = "./examples/echo"
	}
	if opts.WATEcho == "" {
		opts.WATEcho = "./examples/wat-echo/echo.wat"
	}
	if opts.Duration == 0 {
		opts.Duration = 5 * time.Second
	}
	if opts.ColdSamples == 0 {
		opts.ColdSamples = 200
	}
	if opts.TelemetryRounds == 0 {
		opts.TelemetryRounds = 40
	}
	if opts.TelemetryRound == 0 {
		opts.TelemetryRound = 250 * time.Millisecond
	}
	wasm, err := wasmbuild.Build(ctx, opts.EchoDir)
	if err != nil {
		return nil, fmt.Errorf("build echo function: %w", err)
	}
	dir, err := os.MkdirTemp("", "hearth-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	n, err := node.Start(ctx, node.Config{DataDir: dir, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, err
	}
	defer n.Stop(context.Background())
	c := client.New(n.URL())
	warmCfg := client.FunctionConfig{Concurrency: 2, MinWarm: 2}
	if _, err := c.Deploy(ctx, "echo-go", warmCfg, wasm); err != nil {
		return nil, err
	}
	watWasm, watErr := assembleWAT(ctx, opts.WATEcho)
	if watErr == nil {
		if _, err := c.Deploy(ctx, "echo", warmCfg, watWasm); err != nil {
			return nil, err
		}
	}
	baseURL, stopBase, err := startBaseline()
	if err != nil {
		return nil, err
	}
	defer stopBase()

	rep := &Report{Bench: "warm"}
	body := []byte(`{"name":"bench"}`)
	base, err := closedLoop(ctx, baseURL, body, 2, time.Second, opts.Duration)
	if err != nil {
		return nil, fmt.Errorf("baseline load: %w", err)
	}
	goWarm, err := closedLoop(ctx, n.URL()+"/v1/functions/echo-go/invoke", body, 2, time.Second, opts.Duration)
	if err != nil {
		return nil, fmt.Errorf("hearth load (Go echo): %w", err)
	}
	if watErr == nil {
		warm, err := closedLoop(ctx, n.URL()+"/v1/functions/echo/invoke", body, 2, time.Second, opts.Duration)
		if err != nil {
			return nil, fmt.Errorf("hearth load: %w", err)
		}
		rep.Add("warm.http.rps", warm.rps(), "req/s")
		rep.Add("warm.http.p50_us", us(percentile(warm.latencies, 50)), "µs")
		rep.Add("warm.http.p99_us", us(percentile(warm.latencies, 99)), "µs")
	} else {
		rep.Notes = append(rep.Notes, fmt.Sprintf("no WAT echo (%v): warm.http.* not measured", watErr))
	}
	rep.Add("warm.http.go.rps", goWarm.rps(), "req/s")
	rep.Add("warm.http.go.p50_us", us(percentile(goWarm.latencies, 50)), "µs")
	rep.Add("warm.http.go.p99_us", us(percentile(goWarm.latencies, 99)), "µs")
	rep.Add("baseline.nethttp.rps", base.rps(), "req/s")
	rep.Add("baseline.nethttp.p50_us", us(percentile(base.latencies, 50)), "µs")
	rep.Add("baseline.nethttp.p99_us", us(percentile(base.latencies, 99)), "µs")
	for _, v := range []struct{ name, prefix string }{{"WAT echo", "warm.http"}, {"Go SDK echo", "warm.http.go"}} {
		if rep.Value(v.prefix+".rps") == 0 {
			continue
		}
		rep.Notes = append(rep.Notes,
			fmt.Sprintf("%s: %.0f%% of bare net/http's req/s (target ≥ 50%%), p50 %+.0f µs from it (target ≤ +100 µs)", v.name,
				100*rep.Value(v.prefix+".rps")/base.rps(), rep.Value(v.prefix+".p50_us")-rep.Value("baseline.nethttp.p50_us")))
	}

	if err := coldStarts(ctx, c, wasm, opts.ColdSamples, rep); err != nil {
		return nil, err
	}
	if opts.TelemetryRounds > 0 {
		echo := watWasm
		if watErr != nil {
			echo = wasm
		}
		if err := telemetryOverhead(ctx, echo, opts, rep); err != nil {
			return nil, fmt.Errorf("telemetry overhead: %w", err)
		}
	}
	return rep, nil
}

// telemetryOverhead runs the warm echo on two nodes of this process, one
// with telemetry off and one with metrics on and 1% of requests traced (no
// rate cap, so that exactly the ratio decides), in alternating rounds
// (off, on, on, off, …) so that a noisy machine's drift falls on both. The
// overhead is the median over pairs of neighbouring rounds, so that one
// round hit by another process's burst does not decide it.
//
// Throughput on a shared machine moves with the other processes' load, so
// the process's CPU time per request (load generator included, the same on
// both sides) is reported too: it barely moves with contention, and on a
// CPU-bound closed loop the throughput lost is 1 − cpu_off/cpu_on.
func telemetryOverhead(ctx context.Context, echo []byte, opts WarmOptions, rep *Report) error {
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Two nodes of each kind, started off, on, on, off: a node's own
	// placement (its ports, its instances' memory, which it was started
	// after) moves its req/s by several percent between two nodes of the
	// same kind, as much as telemetry does, so each kind is measured on two
	// nodes and the pairs always compare an off node with an on node.
	type side struct {
		name string
		on   bool
		url  string
	}
	sides := []side{{name: "off-a"}, {name: "on-a", on: true}, {name: "on-b", on: true}, {name: "off-b"}}
	for i := range sides {
		dir, err := os.MkdirTemp("", "hearth-bench-telemetry-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg := node.Config{TelemetryOff: true}
		if sides[i].on {
			cfg = node.Config{TraceSample: 0.01, TraceRate: -1}
		}
		cfg.DataDir, cfg.Listen, cfg.Logger = dir, "127.0.0.1:0", logger
		n, err := node.Start(ctx, cfg)
		if err != nil {
			return fmt.Errorf("telemetry %s node: %w", sides[i].name, err)
		}
		defer n.Stop(context.Background())
		if _, err := client.New(n.URL()).Deploy(ctx, "echo", client.FunctionConfig{Concurrency: 2, MinWarm: 2}, echo); err != nil {
			return err
		}
		sides[i].url = n.URL() + "/v1/functions/echo/invoke"
	}
	body := []byte(`{"name":"bench"}`)
	for _, s := range sides {
		if _, err := closedLoop(ctx, s.url, body, 2, 0, 200*time.Millisecond); err != nil {
			return fmt.Errorf("telemetry %s warm-up: %w", s.name, err)
		}
	}
	// Each block runs the four nodes once, in an order that turns
	// (ABBA across blocks), and gives two pairs: off-a with on-a, and on-b
	// with off-b.
	var total [2]loadResult  // by kind: off, on
	var cpu [2]time.Duration // process CPU during each kind's rounds
	var pairs []float64      // overhead of each off/on pair of rounds
	blocks := max(opts.TelemetryRounds/2, 1)
	for b := range blocks {
		var rps [4]float64
		order := []int{0, 1, 2, 3}
		if b%2 == 1 {
			order = []int{1, 0, 3, 2}
		}
		for _, i := range order {
			cpu0, err := processCPU()
			if err != nil {
				return err
			}
			res, err := closedLoop(ctx, sides[i].url, body, 2, 0, opts.TelemetryRound)
			if err != nil {
				return fmt.Errorf("telemetry %s: %w", sides[i].name, err)
			}
			cpu1, err := processCPU()
			if err != nil {
				return err
			}
			k := 0
			if sides[i].on {
				k = 1
			}
			cpu[k] += cpu1 - cpu0
			total[k].requests += res.requests
			total[k].elapsed += res.elapsed
			rps[i] = res.rps()
		}
		pairs = append(pairs, 100*(rps[0]-rps[1])/rps[0], 100*(rps[3]-rps[2])/rps[3])
	}
	rep.Add("telemetry.off.rps", total[0].rps(), "req/s")
	rep.Add("telemetry.on.rps", total[1].rps(), "req/s")
	rep.Add("telemetry.overhead_pct", median(pairs), "%")
	perReq := func(k int) float64 { return us(cpu[k]) / float64(max(1, total[k].requests)) }
	rep.Add("telemetry.off.cpu_us_per_req", perReq(0), "µs")
	rep.Add("telemetry.on.cpu_us_per_req", perReq(1), "µs")
	rep.Add("telemetry.cpu_overhead_pct", 100*(1-perReq(0)/perReq(1)), "%")
	q := len(pairs) / 4 // pairs is sorted by median
	rep.Notes = append(rep.Notes, fmt.Sprintf("telemetry: metrics on and 1%% of requests traced cost %.1f%% of the req/s with telemetry off (target ≤ 5%%; median of %d off/on pairs of %s rounds on two nodes of each kind, middle half %.1f%% to %.1f%%); %.1f%% more CPU per request",
		median(pairs), len(pairs), opts.TelemetryRound, pairs[q], pairs[len(pairs)-1-q], rep.Value("telemetry.cpu_overhead_pct")))
	return nil
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// median returns the middle value of xs (the mean of the two middle ones
// for an even count); xs is sorted in place.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// assembleWAT turns a .wat file into a module with wat2wasm (Debian: wabt).
func assembleWAT(ctx context.Context, path string) ([]byte, error) {
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		return nil, fmt.Errorf("wat2wasm not found (apt-get install wabt): %w", err)
	}
	out, err := os.CreateTemp("", "hearth-echo-*.wasm")
	if err != nil {
		return nil, err
	}
	out.Close()
	defer os.Remove(out.Name())
	if msg, err := exec.CommandContext(ctx, tool, path, "-o", out.Name()).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("wat2wasm %s: %w: %s", path, err, msg)
	}
	return os.ReadFile(out.Name())
}

// coldStarts times invocations that each find no warm instance: the function
// keeps idle instances for 1 ms, and the bench waits past that between calls.
// The compiled code is cached (the function was compiled at deploy).
func coldStarts(ctx context.Context, c *client.Client, wasm []byte, samples int, rep *Report) error {
	cfg := client.FunctionConfig{Concurrency: 1, KeepAlive: client.Duration(time.Millisecond)}
	return timeColdInvokes(ctx, c, cfg, wasm, []byte(`{"name":"cold"}`), samples, rep, "cold.cached",
		[]string{"provision", "runtime", "code", "init", "handler"})
}

// timeColdInvokes deploys artifact as echo-cold with cfg (which keeps idle
// instances for 1 ms), invokes it until samples invocations were cold,
// waiting past the keep-alive between calls, and reports their total time
// and each of phases as PREFIX.p50_ms, PREFIX.phase.NAME.p50_ms and p99s.
func timeColdInvokes(ctx context.Context, c *client.Client, cfg client.FunctionConfig, artifact, body []byte,
	samples int, rep *Report, prefix string, phases []string) error {
	if _, err := c.Deploy(ctx, "echo-cold", cfg, artifact); err != nil {
		return err
	}
	var total []time.Duration
	byPhase := map[string][]time.Duration{}
	for len(total) < samples && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
		t0 := time.Now()
		res, err := c.Invoke(ctx, "echo-cold", body)
		if err != nil {
			return fmt.Errorf("cold invoke: %w", err)
		}
		d := time.Since(t0)
		if !res.Cold {
			continue
		}
		total = append(total, d)
		for _, p := range res.Phases {
			byPhase[p.Name] = append(byPhase[p.Name], p.Duration)
		}
	}
	rep.Add(prefix+".p50_ms", ms(percentile(total, 50)), "ms")
	rep.Add(prefix+".p99_ms", ms(percentile(total, 99)), "ms")
	for _, name := range phases {
		rep.Add(prefix+".phase."+name+".p50_ms", ms(percentile(byPhase[name], 50)), "ms")
		rep.Add(prefix+".phase."+name+".p99_ms", ms(percentile(byPhase[name], 99)), "ms")
	}
	return nil
}

// startBaseline serves a bare net/http echo handler: the ceiling that the
// warm path is compared against.
func startBaseline() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = io.Copy(&buf, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(buf.Bytes())
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/", func() { _ = srv.Close() }, nil
}
