package wasm_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
)

// upperHost is a HostCalls that upper-cases its input for "test.upper".
type upperHost struct{ calls chan wasm.Call }

func (h upperHost) HostCall(ctx context.Context, op string, in []byte) ([]byte, error) {
	c, _ := wasm.CallFrom(ctx)
	h.calls <- c
	if op != "test.upper" {
		return nil, fmt.Errorf("no capability %q", op)
	}
	return []byte(strings.ToUpper(string(in))), nil
}

// outcome is what one invocation should give: a response, or an error
// wrapping a sentinel; want* fields are checked when set.
type outcome struct {
	status    int
	body      string
	headers   map[string][]string
	errType   string
	errSubstr string // in Response.Error.Message or in the error
	err       error  // sentinel the invocation error must wrap
}

func check(t *testing.T, resp runtime.Response, err error, want outcome) {
	t.Helper()
	if want.err != nil {
		if !errors.Is(err, want.err) {
			t.Fatalf("Invoke error = %v, want %v", err, want.err)
		}
		if !strings.Contains(err.Error(), want.errSubstr) {
			t.Fatalf("Invoke error = %q, want it to say %q", err, want.errSubstr)
		}
		return
	}
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if want.errType != "" {
		if resp.Error == nil || resp.Error.Type != want.errType || !strings.Contains(resp.Error.Message, want.errSubstr) {
			t.Fatalf("Response.Error = %v, want %s mentioning %q", resp.Error, want.errType, want.errSubstr)
		}
		return
	}
	if resp.Error != nil {
		t.Fatalf("unexpected function error %v", resp.Error)
	}
	if want.status != 0 && resp.Status != want.status {
		t.Fatalf("status = %d, want %d", resp.Status, want.status)
	}
	if string(resp.Body) != want.body {
		t.Fatalf("body = %q, want %q", resp.Body, want.body)
	}
	for k, v := range want.headers {
		if !reflect.DeepEqual(resp.Headers[k], v) {
			t.Fatalf("header %s = %q, want %q (all: %v)", k, resp.Headers[k], v, resp.Headers)
		}
	}
}

func TestReactorInvoke(t *testing.T) {
	code := guest(t, "testdata/reactor", false)
	r := newRuntime(t, wasm.Config{Host: upperHost{calls: make(chan wasm.Call, 1)}})
	tmpl := prepare(t, r, runtime.Spec{Env: map[string]string{"GREETING": "howdy"}, MaxResponseBytes: 1 << 16, MemoryBytes: 64 << 20}, code)
	tests := []struct {
		name string
		req  runtime.Request
		want outcome
	}{
		{"echo", runtime.Request{ID: "r1", Method: "PUT", Path: "/echo", Query: "a=1&b", Headers: map[string][]string{"X-Test": {"yes"}}, Body: []byte("payload")},
			outcome{status: 201, body: "payload", headers: map[string][]string{"X-Method": {"PUT"}, "X-Query": {"a=1&b"}, "X-Got": {"yes"}}}},
		{"empty body", runtime.Request{Path: "/echo"}, outcome{status: 201, body: ""}},
		{"environment", runtime.Request{Path: "/env"}, outcome{status: 200, body: "howdy fn"}},
		{"host call", runtime.Request{Path: "/hostcall", Body: []byte("shout")}, outcome{status: 200, body: "SHOUT"}},
		{"handled error", runtime.Request{Path: "/error"}, outcome{errType: "HandlerError", errSubstr: "it went wrong"}},
		{"bad request", runtime.Request{Path: "/badrequest"}, outcome{errType: "BadRequest", errSubstr: "no such thing"}},
		{"panic", runtime.Request{Path: "/panic"}, outcome{err: runtime.ErrTrap, errSubstr: "panic: boom"}},
		{"exit", runtime.Request{Path: "/exit"}, outcome{err: runtime.ErrTrap, errSubstr: "exited with code 3"}},
		{"memory limit", runtime.Request{Path: "/alloc"}, outcome{err: runtime.ErrMemoryLimit, errSubstr: "of 64 MiB"}},
		{"response too large", runtime.Request{Path: "/big"}, outcome{err: runtime.ErrResponseTooLarge, errSubstr: "limit 65536"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := spawn(t, tmpl)
			resp, err := inst.Invoke(context.Background(), tt.req)
			check(t, resp, err, tt.want)
			if err != nil {
				// A broken instance refuses further work.
				if _, err := inst.Invoke(context.Background(), runtime.Request{Path: "/count"}); err == nil {
					t.Fatal("a broken instance served another invocation")
				}
			}
		})
	}
}

// TestReactorKeepsState checks that one instance serves many invocations,
// handled errors included, and that instances do not share memory.
func TestReactorKeepsState(t *testing.T) {
	r := newRuntime(t, wasm.Config{})
	tmpl := prepare(t, r, runtime.Spec{}, guest(t, "testdata/reactor", false))
	a, b := spawn(t, tmpl), spawn(t, tmpl)
	for _, step := range []struct {
		inst runtime.Instance
		path string
		want string
	}{
		{a, "/count", "1"}, {a, "/error", ""}, {a, "/count", "3"}, {b, "/count", "1"},
	} {
		resp, err := step.inst.Invoke(context.Background(), runtime.Request{Path: step.path})
		if err != nil {
			t.Fatal(err)
		}
		if step.want != "" && string(resp.Body) != step.want {
			t.Fatalf("%s = %q, want %q", step.path, resp.Body, step.want)
		}
	}
}

func TestReactorLogs(t *testing.T) {
	var rec logRecorder
	r := newRuntime(t, wasm.Config{})
	tmpl := prepare(t, r, runtime.Spec{Log: rec.log}, guest(t, "testdata/reactor", false))
	inst := spawn(t, tmpl)
	if _, err := inst.Invoke(context.Background(), runtime.Request{ID: "req-7", Path: "/log"}); err != nil {
		t.Fatal(err)
	}
	want := []logLine{
		{runtime.Stdout, "", "init says hi"},
		{runtime.Stdout, "req-7", "to stdout"},
		{runtime.Stderr, "req-7", "to stderr"},
		{runtime.Stderr, "req-7", "[WARN] careful"},
		{runtime.Stdout, "req-7", "partial line"},
	}
	if got := rec.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("log lines:\n got %v\nwant %v", got, want)
	}
}

func TestHostCalls(t *testing.T) {
	code := guest(t, "testdata/reactor", false)
	t.Run("identifies the invocation", func(t *testing.T) {
		calls := make(chan wasm.Call, 1)
		r := newRuntime(t, wasm.Config{Host: upperHost{calls: calls}})
		inst := spawn(t, prepare(t, r, runtime.Spec{Name: "up", Version: 4}, code))
		if _, err := inst.Invoke(context.Background(), runtime.Request{ID: "r9", Path: "/hostcall"}); err != nil {
			t.Fatal(err)
		}
		if got, want := <-calls, (wasm.Call{Function: "up", Version: 4, RequestID: "r9"}); got != want {
			t.Fatalf("CallFrom = %+v, want %+v", got, want)
		}
	})
	t.Run("unavailable without a host", func(t *testing.T) {
		r := newRuntime(t, wasm.Config{})
		inst := spawn(t, prepare(t, r, runtime.Spec{}, code))
		resp, err := inst.Invoke(context.Background(), runtime.Request{Path: "/hostcall"})
		check(t, resp, err, outcome{errType: "HandlerError", errSubstr: `capability "test.upper" is not available`})
	})
}

// TestTimeout drives Spec.Timeout with a fake clock and the context's
// deadline with a real one.
func TestTimeout(t *testing.T) {
	code := guest(t, "testdata/reactor", false)
	t.Run("spec timeout", func(t *testing.T) {
		fake := clock.NewFake(time.Unix(0, 0))
		r := newRuntime(t, wasm.Config{Clock: fake})
		inst := spawn(t, prepare(t, r, runtime.Spec{Timeout: 3 * time.Second}, code))
		done := make(chan error, 1)
		go func() {
			_, err := inst.Invoke(context.Background(), runtime.Request{Path: "/loop"})
			done <- err
		}()
		for fake.Pending() == 0 {
			time.Sleep(time.Millisecond) // wait for Invoke to arm its timer; no timing is asserted
		}
		fake.Advance(3 * time.Second)
		err := <-done
		check(t, runtime.Response{}, err, outcome{err: runtime.ErrTimeout, errSubstr: "after 3s"})
	})
	t.Run("context deadline", func(t *testing.T) {
		r := newRuntime(t, wasm.Config{})
		inst := spawn(t, prepare(t, r, runtime.Spec{}, code))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := inst.Invoke(ctx, runtime.Request{Path: "/loop"})
		check(t, runtime.Response{}, err, outcome{err: runtime.ErrTimeout, errSubstr: "deadline"})
	})
}

func TestSpawnPhases(t *testing.T) {
	r := newRuntime(t, wasm.Config{})
	tmpl := prepare(t, r, runtime.Spec{}, guest(t, "testdata/reactor", false))
	inst, ph, err := tmpl.Spawn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(context.Background())
	if ph.Runtime <= 0 || ph.Init <= 0 {
		t.Fatalf("phases %+v: want instantiation (runtime) and _initialize (init) measured", ph)
	}
	if tmpl.CompileTime() <= 0 {
		t.Fatal("CompileTime not measured")
	}
}

func TestCommandInvoke(t *testing.T) {
	var rec logRecorder
	r := newRuntime(t, wasm.Config{})
	tmpl := prepare(t, r, runtime.Spec{Log: rec.log, MaxResponseBytes: 1 << 16, Timeout: 10 * time.Second}, guest(t, "testdata/command", true))
	inst := spawn(t, tmpl) // one instance for all: each Invoke starts afresh
	tests := []struct {
		name string
		req  runtime.Request
		want outcome
	}{
		{"stdin to stdout", runtime.Request{ID: "c1", Method: "POST", Query: "q=1", Headers: map[string][]string{"X-Test": {"t"}}, Body: []byte("body")},
			outcome{status: 200, body: "POST q=1 t body"}},
		{"again, fresh", runtime.Request{ID: "c2", Method: "GET"}, outcome{status: 200, body: "GET   "}},
		{"non-zero exit", runtime.Request{Path: "/fail"}, outcome{errType: "HandlerError", errSubstr: "exited with code 4: cannot do that"}},
		{"panic", runtime.Request{Path: "/panic"}, outcome{errType: "HandlerError", errSubstr: "panic: command boom"}},
		{"stdout too large", runtime.Request{Path: "/big"}, outcome{err: runtime.ErrResponseTooLarge, errSubstr: "65536"}},
		{"still serving", runtime.Request{ID: "c3", Method: "GET"}, outcome{status: 200, body: "GET   "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := inst.Invoke(context.Background(), tt.req)
			check(t, resp, err, tt.want)
		})
	}
	found := false
	for _, l := range rec.all() {
		if l == (logLine{runtime.Stderr, "c1", "log c1"}) {
			found = true
		}
	}
	if !found {
		t.Fatalf("stderr line of c1 not logged: %v", rec.all())
	}
}

func TestCommandTimeout(t *testing.T) {
	r := newRuntime(t, wasm.Config{})
	inst := spawn(t, prepare(t, r, runtime.Spec{}, guest(t, "testdata/command", true)))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := inst.Invoke(ctx, runtime.Request{Path: "/loop"})
	check(t, runtime.Response{}, err, outcome{err: runtime.ErrTimeout, errSubstr: "deadline"})
}
