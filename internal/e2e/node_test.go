// Package e2e holds end-to-end tests: they start real nodes (embedded NATS,
// the wazero runtime, real Go guests built for wasip1) and talk HTTP to them.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/wasmbuild"
)

func build(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := wasmbuild.Build(context.Background(), dir)
	if err != nil {
		t.Fatalf("build %s: %v", dir, err)
	}
	return b
}

func startNode(t *testing.T, cfg node.Config) (*node.Node, *client.Client) {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := node.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { _ = n.Stop(context.Background()) })
	return n, client.New(n.URL())
}

func deploy(t *testing.T, c *client.Client, name string, cfg client.FunctionConfig, wasm []byte) client.Function {
	t.Helper()
	fn, err := c.Deploy(context.Background(), name, cfg, wasm)
	if err != nil {
		t.Fatalf("deploy %s: %v", name, err)
	}
	return fn
}

func invoke(t *testing.T, c *client.Client, name, body string) *client.InvokeResult {
	t.Helper()
	res, err := c.Invoke(context.Background(), name, []byte(body))
	if err != nil {
		t.Fatalf("invoke %s %q: %v", name, body, err)
	}
	return res
}

func TestHelloColdThenWarm(t *testing.T) {
	_, c := startNode(t, node.Config{})
	deploy(t, c, "hello", client.FunctionConfig{}, build(t, "../../examples/hello"))
	first := invoke(t, c, "hello", `{"name":"x"}`)
	if got := strings.TrimSpace(string(first.Body)); got != `{"message":"hello, x"}` {
		t.Fatalf("hello answered %s", got)
	}
	if !first.Cold || len(first.Phases) != 5 {
		t.Fatalf("first invoke: cold=%v phases=%v, want a cold start with 5 phases", first.Cold, first.Phases)
	}
	second := invoke(t, c, "hello", `{"name":"y"}`)
	if second.Cold || !strings.Contains(string(second.Body), "hello, y") {
		t.Fatalf("second invoke: cold=%v body=%s, want warm", second.Cold, second.Body)
	}
}

// TestBadGuests: every way a guest can fail gets its own precise error, only
// that instance is lost, and the node and other functions keep working.
func TestBadGuests(t *testing.T) {
	_, c := startNode(t, node.Config{})
	ctx := context.Background()
	deploy(t, c, "hello", client.FunctionConfig{}, build(t, "../../examples/hello"))
	deploy(t, c, "bad", client.FunctionConfig{MemoryMB: 64, Timeout: client.Duration(time.Second),
		Env: map[string]string{"GREETING": "hi"}}, build(t, "testdata/misbehave"))

	tests := []struct {
		body       string
		wantStatus int
		wantCode   string
	}{
		{"panic", 500, "function_crashed"},
		{"exit", 500, "function_crashed"},
		{"loop", 504, "function_timeout"},
		{"alloc", 500, "function_out_of_memory"},
		{"big", 500, "response_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			_, err := c.Invoke(ctx, "bad", []byte(tt.body))
			var apiErr *client.Error
			if !errors.As(err, &apiErr) || apiErr.Status != tt.wantStatus || apiErr.Code != tt.wantCode {
				t.Fatalf("err = %#v, want %d %s", err, tt.wantStatus, tt.wantCode)
			}
			if apiErr.Message == "" {
				t.Fatal("empty error message")
			}
			if res := invoke(t, c, "bad", "fine"); string(res.Body) != "ok hi" {
				t.Fatalf("after %s: %q", tt.body, res.Body)
			}
			if res := invoke(t, c, "hello", `{"name":"z"}`); !strings.Contains(string(res.Body), "hello, z") {
				t.Fatalf("other function after %s: %s", tt.body, res.Body)
			}
		})
	}

	handled := []struct{ body, wantType string }{{"error", "HandlerError"}, {"bad", "BadRequest"}}
	for _, tt := range handled {
		res := invoke(t, c, "bad", tt.body)
		if res.FunctionError != tt.wantType || res.Cold {
			t.Fatalf("%s: function error %q cold=%v, want %s on a warm instance", tt.body, res.FunctionError, res.Cold, tt.wantType)
		}
	}
}

func TestInvalidModules(t *testing.T) {
	_, c := startNode(t, node.Config{})
	ctx := context.Background()
	tests := []struct {
		name     string
		artifact []byte
		wantMsg  string
	}{
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), "not a WebAssembly"},
		{"truncated", []byte("\x00asm\x01\x00\x00\x00\x01\x05"), ""},
		{"no memory", []byte("\x00asm\x01\x00\x00\x00"), "memory"},
		// Exports its memory and nothing else: neither a reactor nor a command.
		{"no handler", []byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x01\x07\x0a\x01\x06memory\x02\x00"), "_start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Deploy(ctx, "broken", client.FunctionConfig{}, tt.artifact)
			var apiErr *client.Error
			if !errors.As(err, &apiErr) || apiErr.Status != 422 || !strings.Contains(apiErr.Message, tt.wantMsg) {
				t.Fatalf("err = %v, want 422 mentioning %q", err, tt.wantMsg)
			}
		})
	}
	if _, err := c.Get(ctx, "broken"); !client.IsNotFound(err) {
		t.Fatalf("an invalid module was stored: %v", err)
	}
}

func TestRedeployFinishesInFlightOnOldVersion(t *testing.T) {
	_, c := startNode(t, node.Config{})
	wasm := build(t, "testdata/misbehave")
	deploy(t, c, "f", client.FunctionConfig{Env: map[string]string{"GREETING": "v1"}}, wasm)
	invoke(t, c, "f", "warm up")

	var wg sync.WaitGroup
	var inflight *client.InvokeResult
	wg.Go(func() { inflight = invoke(t, c, "f", "sleep") })
	time.Sleep(100 * time.Millisecond) // the sleep (300 ms) is running
	deploy(t, c, "f", client.FunctionConfig{Env: map[string]string{"GREETING": "v2"}}, wasm)
	after := invoke(t, c, "f", "x")
	wg.Wait()
	if string(inflight.Body) != "slept v1" || inflight.Version != 1 {
		t.Fatalf("in-flight invocation: %q version %d, want v1", inflight.Body, inflight.Version)
	}
	if string(after.Body) != "ok v2" || after.Version != 2 {
		t.Fatalf("after redeploy: %q version %d, want v2", after.Body, after.Version)
	}
}

func TestThrottleAndMinWarm(t *testing.T) {
	n, c := startNode(t, node.Config{QueueTimeout: 50 * time.Millisecond})
	wasm := build(t, "testdata/misbehave")
	deploy(t, c, "one", client.FunctionConfig{Concurrency: 1, MinWarm: 1}, wasm)

	// min-warm: the first invocation finds a provisioned instance.
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := invoke(t, c, "one", "x")
		if !res.Cold {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no warm instance although min_warm is 1")
		}
	}

	var wg sync.WaitGroup
	wg.Go(func() { invoke(t, c, "one", "sleep") })
	time.Sleep(100 * time.Millisecond)
	resp, err := http.Post(n.URL()+"/v1/functions/one/invoke", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wg.Wait()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !bytes.Contains(b, []byte("throttled")) {
		t.Fatalf("over concurrency: %d %s (Retry-After %q), want 429 throttled", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
}

func TestLogsCaptureGuestOutput(t *testing.T) {
	_, c := startNode(t, node.Config{})
	deploy(t, c, "f", client.FunctionConfig{}, build(t, "testdata/misbehave"))
	res := invoke(t, c, "f", "log")
	entries, err := c.Logs(context.Background(), "f", 10)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if e.RequestID == res.RequestID {
			seen[e.Stream+":"+strings.SplitN(e.Message, " ", 2)[0]] = true
		}
	}
	for _, want := range []string{"stdout:to", "stderr:to", "hearth:END"} {
		if !seen[want] {
			t.Fatalf("log lines for request %s: %v, missing %s", res.RequestID, entries, want)
		}
	}
}

func wasmBuild(dir string) ([]byte, error) { return wasmbuild.Build(context.Background(), dir) }
