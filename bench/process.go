package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/process"
)

// ProcessOptions configure the process-runtime benchmark.
type ProcessOptions struct {
	// EchoDir is the aws-lambda-go echo function to build (default
	// ./examples/lambda-echo).
	EchoDir string
	// Duration of each warm run, after a one-second warm-up (default 3 s).
	Duration time.Duration
	// ColdSamples is how many cold starts (and fork+exec baselines) to time
	// (default 100).
	ColdSamples int
	// RIE is the AWS Lambda Runtime Interface Emulator binary. Empty builds
	// it with go install from the module proxy; if that fails the emulator
	// baseline is skipped with a note.
	RIE string
}

// Process measures, in one run, an aws-lambda-go echo function on hearth's
// process runtime (sandboxed as on this host): warm invokes through the
// HTTP API with a sequential client, the function's own time (the Runtime
// API exchange with the process, measured at the instance), cold starts by
// phase; next to the same binary run by the AWS Lambda Runtime Interface
// Emulator (warm, sequential client) and started by a plain fork+exec per
// request.
func Process(ctx context.Context, opts ProcessOptions) (*Report, error) {
	if opts.EchoDir == "" {
		opts.EchoDir = "./examples/lambda-echo"
	}
	if opts.Duration <= 0 {
		opts.Duration = 3 * time.Second
	}
	if opts.ColdSamples <= 0 {
		opts.ColdSamples = 100
	}
	dir, err := os.MkdirTemp("", "hearth-bench-process-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	pkgDir := filepath.Join(dir, "pkg")
	bootstrap := filepath.Join(pkgDir, "bootstrap")
	if err := goBuild(ctx, opts.EchoDir, bootstrap); err != nil {
		return nil, err
	}
	zip, err := process.ZipDir(pkgDir)
	if err != nil {
		return nil, err
	}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	pr, err := process.New(ctx, process.Config{DataDir: filepath.Join(dir, "process"), Logger: discard})
	if err != nil {
		return nil, err
	}
	defer pr.Close(context.Background())
	n, err := node.Start(ctx, node.Config{DataDir: filepath.Join(dir, "node"), Listen: "127.0.0.1:0", Logger: discard,
		Runtimes: map[string]runtime.Runtime{"process": pr}})
	if err != nil {
		return nil, err
	}
	defer n.Stop(context.Background())
	c := client.New(n.URL())

	rep := &Report{Bench: "process"}
	sb := pr.Sandbox()
	rep.Notes = append(rep.Notes, fmt.Sprintf("sandbox: namespaces=%v cgroup=%s", sb.Namespaces, sb.Cgroup))
	body := []byte(`{"hello":"bench"}`)

	if _, err := c.Deploy(ctx, "echo", client.FunctionConfig{Runtime: "process", Concurrency: 1, MinWarm: 1}, zip); err != nil {
		return nil, err
	}
	warm, err := closedLoop(ctx, n.URL()+"/v1/functions/echo/invoke", body, 1, time.Second, opts.Duration)
	if err != nil {
		return nil, fmt.Errorf("hearth warm load: %w", err)
	}
	own, err := instanceLoop(ctx, pr, zip, body, opts.Duration)
	if err != nil {
		return nil, fmt.Errorf("function's own time: %w", err)
	}
	rep.Add("process.warm.p50_us", us(percentile(warm.latencies, 50)), "µs")
	rep.Add("process.warm.p99_us", us(percentile(warm.latencies, 99)), "µs")
	rep.Add("process.warm.rps", warm.rps(), "req/s")
	rep.Add("process.warm.function.p50_us", us(percentile(own, 50)), "µs")
	rep.Add("process.warm.overhead.p50_us", rep.Value("process.warm.p50_us")-rep.Value("process.warm.function.p50_us"), "µs")

	if err := processColdStarts(ctx, c, zip, opts.ColdSamples, rep); err != nil {
		return nil, err
	}
	fork, err := forkExecBaseline(ctx, bootstrap, body, opts.ColdSamples)
	if err != nil {
		return nil, fmt.Errorf("fork+exec baseline: %w", err)
	}
	rep.Add("baseline.forkexec.p50_ms", ms(percentile(fork, 50)), "ms")
	rep.Add("baseline.forkexec.p99_ms", ms(percentile(fork, 99)), "ms")

	if err := rieBaseline(ctx, opts.RIE, dir, bootstrap, body, opts.Duration, rep); err != nil {
		rep.Notes = append(rep.Notes, "emulator baseline skipped: "+err.Error())
	} else {
		rep.Notes = append(rep.Notes, fmt.Sprintf("warm p50 is %.2f of the emulator's (target ≤ 0.20)",
			rep.Value("process.warm.p50_us")/rep.Value("baseline.rie.warm.p50_us")))
	}
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("warm overhead over the function's own time: %.0f µs (target ≤ 150 µs)", rep.Value("process.warm.overhead.p50_us")),
		fmt.Sprintf("cold start p50 is %+.2f ms from fork+exec+runtime init of the bare binary (target ≤ +2 ms)",
			rep.Value("process.cold.p50_ms")-rep.Value("baseline.forkexec.p50_ms")))
	return rep, nil
}

func goBuild(ctx context.Context, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = pkg
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// instanceLoop times invocations straight on an instance, without the
// API, dispatcher or pool: the handing over of the event through the
// Runtime API, the function's work and its answer.
func instanceLoop(ctx context.Context, pr *process.Runtime, zip, body []byte, d time.Duration) ([]time.Duration, error) {
	tmpl, err := pr.Prepare(ctx, runtime.Spec{Name: "own", Version: 1, Timeout: 10 * time.Second}, runtime.Artifact{Bytes: zip})
	if err != nil {
		return nil, err
	}
	defer tmpl.Close(ctx)
	inst, _, err := tmpl.Spawn(ctx)
	if err != nil {
		return nil, err
	}
	defer inst.Close(context.Background())
	var lat []time.Duration
	warmUntil := time.Now().Add(time.Second)
	for end := warmUntil.Add(d); time.Now().Before(end) && ctx.Err() == nil; {
		t0 := time.Now()
		if _, err := inst.Invoke(ctx, runtime.Request{ID: "bench", Body: body}); err != nil {
			return nil, err
		}
		if t0.After(warmUntil) {
			lat = append(lat, time.Since(t0))
		}
	}
	return lat, nil
}

// processColdStarts times invocations that each find no warm instance (the
// function keeps idle instances for 1 ms), in total and by phase.
func processColdStarts(ctx context.Context, c *client.Client, zip []byte, samples int, rep *Report) error {
	cfg := client.FunctionConfig{Runtime: "process", Concurrency: 1, KeepAlive: client.Duration(time.Millisecond)}
	return timeColdInvokes(ctx, c, cfg, zip, []byte(`{"cold":true}`), samples, rep, "process.cold",
		[]string{"provision", "runtime", "init", "handler"})
}

// forkExecBaseline starts the bare binary once per request, with a minimal
// Runtime API that hands it one event, and times exec to answer: fork,
// exec, the Go runtime's and the function's init, one invocation.
func forkExecBaseline(ctx context.Context, bootstrap string, body []byte, samples int) ([]time.Duration, error) {
	answered := make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "fork")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()))
		_, _ = w.Write(body)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
		answered <- struct{}{}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	env := append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+ln.Addr().String(), "AWS_LAMBDA_FUNCTION_NAME=fork")
	var out []time.Duration
	for range samples {
		cmd := exec.CommandContext(ctx, bootstrap)
		cmd.Env = env
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		select {
		case <-answered:
			out = append(out, time.Since(t0))
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, errors.New("the bare binary did not answer within 10 s")
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	return out, nil
}

// rieBaseline runs the same binary under the AWS Lambda Runtime Interface
// Emulator and loads it with a sequential client.
func rieBaseline(ctx context.Context, rie, dir, bootstrap string, body []byte, d time.Duration, rep *Report) error {
	if rie == "" {
		bin := filepath.Join(dir, "rie-bin")
		cmd := exec.CommandContext(ctx, "go", "install", "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@latest")
		cmd.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("cannot build aws-lambda-rie: %v: %s", err, bytes.TrimSpace(b))
		}
		rie = filepath.Join(bin, "aws-lambda-rie")
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return err
	}
	invokeAddr, err := freeAddr()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, rie, "--runtime-api-address", apiAddr, "--runtime-interface-emulator-address", invokeAddr, bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = append(os.Environ(), "LOG_LEVEL=error")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start aws-lambda-rie: %w", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	url := "http://" + invokeAddr + "/2015-03-31/functions/function/invocations"
	if err := waitServing(ctx, url, body); err != nil {
		return err
	}
	res, err := closedLoop(ctx, url, body, 1, time.Second, d)
	if err != nil {
		return fmt.Errorf("emulator load: %w", err)
	}
	rep.Add("baseline.rie.warm.p50_us", us(percentile(res.latencies, 50)), "µs")
	rep.Add("baseline.rie.warm.p99_us", us(percentile(res.latencies, 99)), "µs")
	rep.Add("baseline.rie.warm.rps", res.rps(), "req/s")
	return nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitServing polls url until it answers 200 (the emulator starts its
// server and the function on the first request).
func waitServing(ctx context.Context, url string, body []byte) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("aws-lambda-rie did not serve %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
