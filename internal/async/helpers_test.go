package async

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/backbone"
	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// behaviour is what a fake function does on its nth call (from 1).
type behaviour func(ctx context.Context, n int, req runtime.Request) (runtime.Response, error)

// fakeNode is an Invoker and a FunctionLookup over in-memory functions.
type fakeNode struct {
	mu    sync.Mutex
	fns   map[string]registry.Function
	do    map[string]behaviour
	calls map[string][]runtime.Request
}

func newFakeNode() *fakeNode {
	return &fakeNode{fns: map[string]registry.Function{}, do: map[string]behaviour{}, calls: map[string][]runtime.Request{}}
}

func (f *fakeNode) add(name string, cfg registry.Config, b behaviour) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg = cfg.Defaults()
	if cfg.RetryBase == registry.Duration(time.Second) {
		cfg.RetryBase, cfg.RetryCap = registry.Duration(time.Millisecond), registry.Duration(time.Millisecond)
	}
	f.fns[name] = registry.Function{Name: name, Version: 1, Config: cfg}
	f.do[name] = b
}

func (f *fakeNode) Get(_ context.Context, name string) (registry.Function, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn, ok := f.fns[name]
	if !ok {
		return registry.Function{}, fmt.Errorf("%w: %s", registry.ErrNotFound, name)
	}
	return fn, nil
}

func (f *fakeNode) Invoke(ctx context.Context, name string, req runtime.Request) (*invoke.Result, error) {
	f.mu.Lock()
	b, ok := f.do[name]
	f.calls[name] = append(f.calls[name], req)
	n := len(f.calls[name])
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", invoke.ErrNotFound, name)
	}
	resp, err := b(ctx, n, req)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return &invoke.Result{Response: resp, RequestID: req.ID, Version: 1}, err
}

func (f *fakeNode) callsOf(name string) []runtime.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]runtime.Request(nil), f.calls[name]...)
}

func ok(body string) behaviour {
	return func(context.Context, int, runtime.Request) (runtime.Response, error) {
		return runtime.Response{Status: 200, Body: []byte(body)}, nil
	}
}

func failing(typ string) runtime.Response {
	return runtime.Response{Status: 200, Error: &runtime.FunctionError{Type: typ, Message: "deliberate"}}
}

type testEnv struct {
	bb    *backbone.Backbone
	node  *fakeNode
	clock clock.Clock
}

func newEnv(t testing.TB, clk clock.Clock) *testEnv {
	t.Helper()
	bb, err := backbone.Open(context.Background(), backbone.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bb.Close() })
	if clk == nil {
		clk = clock.Real{}
	}
	return &testEnv{bb: bb, node: newFakeNode(), clock: clk}
}

func (e *testEnv) service(t testing.TB, nodeID string) *Service {
	t.Helper()
	return e.serviceWith(t, nodeID, nil)
}

// serviceWith is service with some options changed by set.
func (e *testEnv) serviceWith(t testing.TB, nodeID string, set func(*Options)) *Service {
	t.Helper()
	opts := Options{JS: e.bb.JS, Conn: e.bb.Conn, Invoker: e.node, Functions: e.node,
		Clock: e.clock, NodeID: nodeID, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Jitter: func() float64 { return 0.5 }}
	if set != nil {
		set(&opts)
	}
	s, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// eventually polls cond until it holds; the deadline only stops a test
// that would otherwise hang, it asserts nothing about speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitStatus(t *testing.T, s *Service, id, status string) Record {
	t.Helper()
	var rec Record
	eventually(t, "invocation "+id+" "+status, func() bool {
		var err error
		rec, err = s.Invocation(context.Background(), id)
		return err == nil && rec.Status == status
	})
	return rec
}
