package engine

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/backbone"
	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// fakeFunctions is an Invoker whose functions are Go funcs; it counts the
// runs of every idempotency key.
type fakeFunctions struct {
	mu    sync.Mutex
	fns   map[string]func(ctx context.Context, body []byte) (any, *runtime.FunctionError)
	runs  map[string]int
	calls []string
}

func newFakeFunctions() *fakeFunctions {
	return &fakeFunctions{fns: map[string]func(context.Context, []byte) (any, *runtime.FunctionError){}, runs: map[string]int{}}
}

func (f *fakeFunctions) Invoke(ctx context.Context, name string, req runtime.Request) (*invoke.Result, error) {
	f.mu.Lock()
	fn := f.fns[name]
	f.runs[req.Headers["Idempotency-Key"][0]]++
	f.calls = append(f.calls, name)
	f.mu.Unlock()
	if fn == nil {
		return nil, invoke.ErrNotFound
	}
	out, fe := fn(ctx, req.Body)
	if fe != nil {
		return &invoke.Result{Response: runtime.Response{Status: 200, Error: fe}}, nil
	}
	body, _ := json.Marshal(out)
	return &invoke.Result{Response: runtime.Response{Status: 200, Body: body}}, nil
}

func (f *fakeFunctions) set(name string, fn func(ctx context.Context, body []byte) (any, *runtime.FunctionError)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fns[name] = fn
}

func (f *fakeFunctions) keyRuns() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.runs {
		out[k] = v
	}
	return out
}

// harness is an engine on an embedded backbone in a temporary directory,
// reopenable on the same directory to simulate a restart.
type harness struct {
	t   *testing.T
	dir string
	clk *clock.Fake
	fns *fakeFunctions
	bb  *backbone.Backbone
	eng *Engine
	// options, when set, adds to the Options of every engine opened.
	options func(*Options)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, nil)
}

// newHarnessWith is newHarness with options added to the engine's.
func newHarnessWith(t *testing.T, options func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), clk: clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), fns: newFakeFunctions(), options: options}
	h.open()
	t.Cleanup(h.close)
	return h
}

func (h *harness) open() {
	h.t.Helper()
	bb, err := backbone.Open(context.Background(), backbone.Config{DataDir: h.dir})
	if err != nil {
		h.t.Fatal(err)
	}
	opts := Options{JS: bb.JS, Invoker: h.fns, Clock: h.clk, ParkAfter: time.Minute}
	if h.options != nil {
		h.options(&opts)
	}
	eng, err := New(context.Background(), opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.bb, h.eng = bb, eng
}

func (h *harness) close() {
	if h.eng == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.eng.Close(ctx); err != nil {
		h.t.Error(err)
	}
	if err := h.bb.Close(); err != nil {
		h.t.Error(err)
	}
	h.eng, h.bb = nil, nil
}

func (h *harness) restart() {
	h.close()
	h.open()
}

func (h *harness) machine(name, def string) *Machine {
	h.t.Helper()
	m, err := h.eng.CreateMachine(context.Background(), MachineSpec{Name: name, Definition: def})
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) start(machine, name, input string) *Execution {
	h.t.Helper()
	x, err := h.eng.Start(context.Background(), StartInput{Machine: machine, Name: name, Input: json.RawMessage(input)})
	if err != nil {
		h.t.Fatal(err)
	}
	return x
}

func (h *harness) wait(arn string) *Execution {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	x, err := h.eng.Wait(ctx, arn)
	if err != nil {
		h.t.Fatalf("wait for %s: %v", arn, err)
	}
	return x
}

// eventually polls cond (state another goroutine changes) until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
