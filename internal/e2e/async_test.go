package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/api/asyncapi"
	"github.com/hearth-sh/hearth/internal/async"
	"github.com/hearth-sh/hearth/internal/backbone"
	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// asyncNode is a real node with an async service beside it, reached over
// the node's NATS port, and the async API served in front of the service.
// Until the node starts the service itself, this is how the service meets a
// real node: its Invoke, its registry, its JetStream.
type asyncNode struct {
	node *node.Node
	c    *client.Client // the node's API
	ac   *client.Client // the async API
	svc  *async.Service
	bb   *backbone.Backbone
	srv  *httptest.Server
}

func startAsyncNode(t *testing.T, dataDir, natsAddr string) *asyncNode {
	t.Helper()
	ctx := context.Background()
	n, c := startNode(t, node.Config{DataDir: dataDir, NATSListen: natsAddr})
	bb, err := backbone.Open(ctx, backbone.Config{URL: "nats://" + natsAddr})
	if err != nil {
		t.Fatalf("connect to the node's NATS: %v", err)
	}
	reg, err := registry.Open(ctx, bb.JS, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := async.New(ctx, async.Options{JS: bb.JS, Conn: bb.Conn, Invoker: n, Functions: reg, NodeID: "e2e",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	asyncapi.Register(mux, svc)
	mux.HandleFunc("POST /v1/functions/{name}/invoke", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		asyncapi.ServeAsyncInvoke(w, r, svc, r.PathValue("name"), runtime.Request{Method: "POST", Path: "/", Body: body})
	})
	srv := httptest.NewServer(mux)
	a := &asyncNode{node: n, c: c, ac: client.New(srv.URL), svc: svc, bb: bb, srv: srv}
	t.Cleanup(func() { a.stop(t, context.Background()) })
	return a
}

// stop closes the service within ctx (a cancelled ctx cuts in-flight
// invocations short), then the node.
func (a *asyncNode) stop(t *testing.T, ctx context.Context) {
	if a.svc == nil {
		return
	}
	_ = a.svc.Close(ctx)
	a.srv.Close()
	_ = a.bb.Close()
	_ = a.node.Stop(context.Background())
	a.svc = nil
}

func waitAsync(t *testing.T, c *client.Client, id string, done func(client.Invocation) bool) client.Invocation {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		inv, err := c.Invocation(context.Background(), id)
		if err == nil && done(inv) {
			return inv
		}
		if time.Now().After(deadline) {
			t.Fatalf("invocation %s: %+v %v", id, inv, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func finished(inv client.Invocation) bool { return inv.Status == "succeeded" || inv.Status == "failed" }

// TestAsyncRetriesOnRealFunctions: a real guest's handled error is retried
// and ends in the dead-letter queue with every attempt, a BadRequest is not
// retried, and a good request succeeds.
func TestAsyncRetriesOnRealFunctions(t *testing.T) {
	a := startAsyncNode(t, t.TempDir(), freePort(t))
	ctx := context.Background()
	retries := 2
	deploy(t, a.c, "bad", client.FunctionConfig{Retries: &retries, RetryBase: client.Duration(10 * time.Millisecond),
		RetryCap: client.Duration(50 * time.Millisecond), Env: map[string]string{"GREETING": "hi"}}, build(t, "testdata/misbehave"))
	tests := []struct {
		body         string
		wantStatus   string
		wantAttempts int
		wantDL       string
	}{
		{"fine", "succeeded", 1, ""},
		{"error", "failed", 3, "RetriesExhausted"},
		{"bad", "failed", 1, "BadRequest"},
		{"panic", "failed", 3, "RetriesExhausted"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			id, err := a.ac.InvokeAsync(ctx, "bad", []byte(tt.body), "")
			if err != nil {
				t.Fatal(err)
			}
			inv := waitAsync(t, a.ac, id, finished)
			if inv.Status != tt.wantStatus || len(inv.Attempts) != tt.wantAttempts {
				t.Fatalf("%+v: want %s after %d attempts", inv, tt.wantStatus, tt.wantAttempts)
			}
			if tt.wantDL == "" {
				if string(inv.Result.Body) != "ok hi" {
					t.Fatalf("result %q", inv.Result.Body)
				}
				return
			}
			dl, err := a.ac.DeadLetter(ctx, "bad", id)
			if err != nil || dl.Condition != tt.wantDL || len(dl.Attempts) != tt.wantAttempts || string(dl.Request.Body) != tt.body {
				t.Fatalf("dead letter %+v %v", dl, err)
			}
			for _, at := range dl.Attempts {
				if at.Error == "" {
					t.Fatalf("attempt without its error: %+v", at)
				}
			}
		})
	}
}

// TestAsyncSurvivesRestart: invocations queued and in flight when the node
// stops all run after it starts again, each completing exactly once.
func TestAsyncSurvivesRestart(t *testing.T) {
	dir, natsAddr := t.TempDir(), freePort(t)
	a := startAsyncNode(t, dir, natsAddr)
	ctx := context.Background()
	deploy(t, a.c, "slow", client.FunctionConfig{Concurrency: 2, Env: map[string]string{"GREETING": "x"}}, build(t, "testdata/misbehave"))
	const n = 12
	ids := make([]string, n)
	for i := range ids {
		id, err := a.ac.InvokeAsync(ctx, "slow", []byte("sleep"), "")
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	waitAsync(t, a.ac, ids[0], func(inv client.Invocation) bool { return inv.Status == "running" || finished(inv) })
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	a.stop(t, stopped)

	b := startAsyncNode(t, dir, natsAddr)
	for _, id := range ids {
		inv := waitAsync(t, b.ac, id, finished)
		successes := 0
		for _, at := range inv.Attempts {
			if at.Outcome == "success" {
				successes++
			}
		}
		if inv.Status != "succeeded" || successes != 1 || string(inv.Result.Body) != "slept x" {
			t.Fatalf("%s after restart: %+v, want one successful attempt", id, inv)
		}
	}
}
