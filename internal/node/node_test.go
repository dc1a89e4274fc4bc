package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// scriptRuntime stands in for a real runtime so these tests can pin down the
// node's own behaviour (registry, versions, errors, auth). The artifact is a
// word that says how its instances behave. The real runtimes are exercised
// end to end in internal/e2e.
type scriptRuntime struct{}

type scriptTemplate struct {
	spec   runtime.Spec
	script string
}

type scriptInstance struct{ t *scriptTemplate }

func (scriptRuntime) Prepare(_ context.Context, spec runtime.Spec, art runtime.Artifact) (runtime.Template, error) {
	s := string(art.Bytes)
	if !strings.HasPrefix(s, "script:") {
		return nil, fmt.Errorf("%w: not a script", runtime.ErrInvalidArtifact)
	}
	return &scriptTemplate{spec: spec, script: strings.TrimPrefix(s, "script:")}, nil
}

func (t *scriptTemplate) Spawn(context.Context) (runtime.Instance, runtime.Phases, error) {
	return &scriptInstance{t}, runtime.Phases{Init: time.Microsecond}, nil
}
func (t *scriptTemplate) Close(context.Context) error { return nil }

func (i *scriptInstance) Invoke(ctx context.Context, req runtime.Request) (runtime.Response, error) {
	switch i.t.script {
	case "crash":
		return runtime.Response{}, fmt.Errorf("%w: boom", runtime.ErrTrap)
	case "hang":
		<-ctx.Done()
		return runtime.Response{}, fmt.Errorf("%w: %v", runtime.ErrTimeout, ctx.Err())
	case "fail":
		return runtime.Response{Error: &runtime.FunctionError{Type: "HandlerError", Message: "nope"}}, nil
	}
	i.t.spec.Log(runtime.Stdout, req.ID, []byte("got "+string(req.Body)))
	body := fmt.Sprintf("%s v%d %s", i.t.script, i.t.spec.Version, req.Body)
	return runtime.Response{Status: 200, Body: []byte(body)}, nil
}
func (i *scriptInstance) Close(context.Context) error { return nil }

func startNode(t *testing.T, dir string, cfg Config) *Node {
	t.Helper()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.Runtimes = map[string]runtime.Runtime{"wasm": scriptRuntime{}}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = n.Stop(context.Background()) })
	return n
}

func TestDeploySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	n := startNode(t, dir, Config{})
	c := client.New(n.URL())
	for i, script := range []string{"a", "b"} {
		fn, err := c.Deploy(ctx, "f", client.FunctionConfig{MemoryMB: 64}, []byte("script:"+script))
		if err != nil {
			t.Fatal(err)
		}
		if fn.Version != int64(i+1) {
			t.Fatalf("deploy %d made version %d", i+1, fn.Version)
		}
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	n = startNode(t, dir, Config{})
	c = client.New(n.URL())
	res, err := c.Invoke(ctx, "f", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Body); got != "b v2 x" {
		t.Fatalf("after restart: %q, want the second version", got)
	}
	fn, err := c.Get(ctx, "f")
	if err != nil || fn.Config.MemoryMB != 64 {
		t.Fatalf("Get after restart = %+v, %v", fn, err)
	}
	if err := c.Delete(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if fn, err := c.Deploy(ctx, "f", client.FunctionConfig{}, []byte("script:c")); err != nil || fn.Version != 3 {
		t.Fatalf("redeploy after delete: version %d, %v; want 3 (numbers never reused)", fn.Version, err)
	}
}

func TestErrors(t *testing.T) {
	n := startNode(t, t.TempDir(), Config{})
	ctx := context.Background()
	c := client.New(n.URL())
	for name, script := range map[string]string{"ok": "ok", "crash": "crash", "hang": "hang", "fail": "fail"} {
		cfg := client.FunctionConfig{Timeout: client.Duration(50 * time.Millisecond)}
		if _, err := c.Deploy(ctx, name, cfg, []byte("script:"+script)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		do         func() error
		wantStatus int
		wantInMsg  string
	}{
		{"unknown function", func() error { _, err := c.Invoke(ctx, "nope", nil); return err }, 404, "not found"},
		{"invalid name", func() error { _, err := c.Invoke(ctx, "Bad_Name", nil); return err }, 400, "lower-case"},
		{"invalid artifact", func() error { _, err := c.Deploy(ctx, "g", client.FunctionConfig{}, []byte("\x00asm")); return err }, 422, "not a script"},
		{"invalid config", func() error {
			_, err := c.Deploy(ctx, "g", client.FunctionConfig{MemoryMB: 1 << 20}, []byte("script:x"))
			return err
		}, 400, "memory_mb"},
		{"min-warm above concurrency", func() error {
			_, err := c.Deploy(ctx, "g", client.FunctionConfig{Concurrency: 1, MinWarm: 2}, []byte("script:x"))
			return err
		}, 400, "min_warm"},
		{"crash", func() error { _, err := c.Invoke(ctx, "crash", nil); return err }, 500, "boom"},
		{"timeout", func() error { _, err := c.Invoke(ctx, "hang", nil); return err }, 504, "timed out"},
		{"payload too large", func() error { _, err := c.Invoke(ctx, "ok", bytes.Repeat([]byte("x"), 7<<20)); return err }, 413, "limit"},
		{"get unknown", func() error { _, err := c.Get(ctx, "nope"); return err }, 404, "not found"},
		{"delete unknown", func() error { return c.Delete(ctx, "nope") }, 404, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			var apiErr *client.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an API error", err)
			}
			if apiErr.Status != tt.wantStatus || !strings.Contains(apiErr.Message, tt.wantInMsg) {
				t.Fatalf("got %d %q, want %d containing %q", apiErr.Status, apiErr.Message, tt.wantStatus, tt.wantInMsg)
			}
		})
	}
	// A handled function error is not an API error.
	res, err := c.Invoke(ctx, "fail", nil)
	if err != nil || res.FunctionError != "HandlerError" || !strings.Contains(string(res.Body), "nope") {
		t.Fatalf("function error: %+v, %v", res, err)
	}
	// The node and other functions keep working after all that.
	if res, err := c.Invoke(ctx, "ok", []byte("still")); err != nil || string(res.Body) != "ok v1 still" {
		t.Fatalf("after errors: %+v, %v", res, err)
	}
	if _, err := c.Get(ctx, "g"); !client.IsNotFound(err) {
		t.Fatalf("a refused deploy stored something: %v", err)
	}
}

func TestMalformedRequests(t *testing.T) {
	n := startNode(t, t.TempDir(), Config{})
	tests := []struct {
		name, contentType, body string
		wantStatus              int
	}{
		{"not multipart", "application/json", "{}", 415},
		{"config not JSON", "multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"config\"\r\n\r\n{oops\r\n--X--\r\n", 400},
		{"unknown config field", "multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"config\"\r\n\r\n{\"memroy_mb\":1}\r\n--X--\r\n", 400},
		{"no artifact", "multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"config\"\r\n\r\n{}\r\n--X--\r\n", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPut, n.URL()+"/v1/functions/f", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || !bytes.Contains(b, []byte(`"error":{"code"`)) {
				t.Fatalf("got %d %s, want %d with a JSON error", resp.StatusCode, b, tt.wantStatus)
			}
		})
	}
}

func TestToken(t *testing.T) {
	if _, err := Start(context.Background(), Config{DataDir: t.TempDir(), Listen: "0.0.0.0:0"}); !errors.Is(err, ErrTokenRequired) {
		t.Fatalf("non-loopback without token: %v, want ErrTokenRequired", err)
	}
	n := startNode(t, t.TempDir(), Config{Token: "s3cret"})
	ctx := context.Background()
	if err := client.New(n.URL()).Health(ctx); err != nil {
		t.Fatalf("healthz needs no token: %v", err)
	}
	var apiErr *client.Error
	if _, err := client.New(n.URL()).List(ctx); !errors.As(err, &apiErr) || apiErr.Status != 401 {
		t.Fatalf("no token: %v, want 401", err)
	}
	if _, err := client.New(n.URL(), client.WithToken("wrong")).List(ctx); !errors.As(err, &apiErr) || apiErr.Status != 401 {
		t.Fatalf("wrong token: %v, want 401", err)
	}
	if _, err := client.New(n.URL(), client.WithToken("s3cret")).List(ctx); err != nil {
		t.Fatalf("right token: %v", err)
	}
}

func TestLogsAndHeaders(t *testing.T) {
	n := startNode(t, t.TempDir(), Config{})
	ctx := context.Background()
	c := client.New(n.URL())
	if _, err := c.Deploy(ctx, "f", client.FunctionConfig{}, []byte("script:ok")); err != nil {
		t.Fatal(err)
	}
	first, err := c.Invoke(ctx, "f", []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Invoke(ctx, "f", []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	if !first.Cold || len(first.Phases) != 5 || second.Cold || len(second.Phases) != 1 {
		t.Fatalf("first cold=%v phases=%v; second cold=%v phases=%v", first.Cold, first.Phases, second.Cold, second.Phases)
	}
	entries, err := c.Logs(ctx, "f", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Stream+":"+e.Message[:min(len(e.Message), 7)])
	}
	want := "stdout:got one hearth:END req stdout:got two hearth:END req"
	if strings.Join(got, " ") != want {
		t.Fatalf("logs = %q, want %q", strings.Join(got, " "), want)
	}
	if entries[0].RequestID != first.RequestID {
		t.Fatalf("log line request id %q, want %q", entries[0].RequestID, first.RequestID)
	}

	fctx, cancel := context.WithCancel(ctx)
	lines := make(chan client.LogEntry, 10)
	go func() { _ = c.FollowLogs(fctx, "f", 0, func(e client.LogEntry) { lines <- e }) }()
	time.Sleep(50 * time.Millisecond) // let the follower subscribe; it shows no history (tail 0)
	if _, err := c.Invoke(ctx, "f", []byte("three")); err != nil {
		t.Fatal(err)
	}
	if e := <-lines; e.Message != "got three" {
		t.Fatalf("followed %q", e.Message)
	}
	cancel()
}

// TestTwoNodesShareDeploys: a second node connected to the first's NATS sees
// deploys and deletes made through the first.
func TestTwoNodesShareDeploys(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsAddr := ln.Addr().String()
	ln.Close()
	a := startNode(t, t.TempDir(), Config{NATSListen: natsAddr})
	b := startNode(t, t.TempDir(), Config{NATSURL: "nats://" + natsAddr})
	ctx := context.Background()
	ca, cb := client.New(a.URL()), client.New(b.URL())
	if _, err := ca.Deploy(ctx, "f", client.FunctionConfig{}, []byte("script:shared")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node b to serve f", func() bool {
		res, err := cb.Invoke(ctx, "f", []byte("x"))
		return err == nil && string(res.Body) == "shared v1 x"
	})
	if err := ca.Delete(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node b to drop f", func() bool {
		_, err := cb.Invoke(ctx, "f", nil)
		return client.IsNotFound(err)
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
