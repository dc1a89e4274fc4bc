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
	"time"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/wasmbuild"
)

// WarmOptions configure the warm-path benchmark.
type WarmOptions struct {
	// EchoDir is the Go echo function to build (default ./examples/echo).
	EchoDir string
	// Duration of each load run, after a one-second warm-up.
	Duration time.Duration
	// ColdSamples is how many cold starts to time.
	ColdSamples int
}

// Warm measures, in one process: warm invokes of an echo function through
// the HTTP API next to a bare net/http echo handler (2 connections each), and
// cold starts with the compiled code cached, by phase.
func Warm(ctx context.Context, opts WarmOptions) (*Report, error) {
	if opts.EchoDir == "" {
		opts.EchoDir = "./examples/echo"
	}
	if opts.Duration == 0 {
		opts.Duration = 5 * time.Second
	}
	if opts.ColdSamples == 0 {
		opts.ColdSamples = 200
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
	if _, err := c.Deploy(ctx, "echo", client.FunctionConfig{Concurrency: 2, MinWarm: 2}, wasm); err != nil {
		return nil, err
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
	warm, err := closedLoop(ctx, n.URL()+"/v1/functions/echo/invoke", body, 2, time.Second, opts.Duration)
	if err != nil {
		return nil, fmt.Errorf("hearth load: %w", err)
	}
	rep.Add("warm.http.rps", warm.rps(), "req/s")
	rep.Add("warm.http.p50_us", us(percentile(warm.latencies, 50)), "µs")
	rep.Add("warm.http.p99_us", us(percentile(warm.latencies, 99)), "µs")
	rep.Add("baseline.nethttp.rps", base.rps(), "req/s")
	rep.Add("baseline.nethttp.p50_us", us(percentile(base.latencies, 50)), "µs")
	rep.Add("baseline.nethttp.p99_us", us(percentile(base.latencies, 99)), "µs")
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("warm rps is %.0f%% of bare net/http (target ≥ 50%%)", 100*warm.rps()/base.rps()),
		fmt.Sprintf("warm p50 is %+.0f µs from bare net/http (target ≤ +100 µs)",
			rep.Value("warm.http.p50_us")-rep.Value("baseline.nethttp.p50_us")))

	if err := coldStarts(ctx, c, wasm, opts.ColdSamples, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// coldStarts times invocations that each find no warm instance: the function
// keeps idle instances for 1 ms, and the bench waits past that between calls.
// The compiled code is cached (the function was compiled at deploy).
func coldStarts(ctx context.Context, c *client.Client, wasm []byte, samples int, rep *Report) error {
	cfg := client.FunctionConfig{Concurrency: 1, KeepAlive: client.Duration(time.Millisecond)}
	if _, err := c.Deploy(ctx, "echo-cold", cfg, wasm); err != nil {
		return err
	}
	var total []time.Duration
	phases := map[string][]time.Duration{}
	for len(total) < samples && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
		t0 := time.Now()
		res, err := c.Invoke(ctx, "echo-cold", []byte(`{"name":"cold"}`))
		if err != nil {
			return fmt.Errorf("cold invoke: %w", err)
		}
		d := time.Since(t0)
		if !res.Cold {
			continue
		}
		total = append(total, d)
		for _, p := range res.Phases {
			phases[p.Name] = append(phases[p.Name], p.Duration)
		}
	}
	rep.Add("cold.cached.p50_ms", ms(percentile(total, 50)), "ms")
	rep.Add("cold.cached.p99_ms", ms(percentile(total, 99)), "ms")
	for _, name := range []string{"provision", "runtime", "code", "init", "handler"} {
		rep.Add("cold.cached.phase."+name+".p50_ms", ms(percentile(phases[name], 50)), "ms")
		rep.Add("cold.cached.phase."+name+".p99_ms", ms(percentile(phases[name], 99)), "ms")
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
