package workflow

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

func mustParse(t *testing.T, def string) *asl.Machine {
	t.Helper()
	m, err := asl.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustInput(t *testing.T, s string) any {
	t.Helper()
	v, err := asl.DecodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// countingInvoker counts invocations per function and remembers the
// idempotency keys it saw.
type countingInvoker struct {
	mu    sync.Mutex
	calls map[string]int
	keys  map[string][]string
	fn    func(ctx context.Context, req TaskRequest, n int) (any, error)
}

func (c *countingInvoker) Invoke(ctx context.Context, req TaskRequest) (any, error) {
	c.mu.Lock()
	if c.calls == nil {
		c.calls, c.keys = map[string]int{}, map[string][]string{}
	}
	c.calls[req.Function]++
	n := c.calls[req.Function]
	c.keys[req.Function] = append(c.keys[req.Function], req.IdempotencyKey)
	c.mu.Unlock()
	return c.fn(ctx, req, n)
}

func (c *countingInvoker) count(fn string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[fn]
}

// waitForTimer yields until the fake clock has a pending timer.
func waitForTimer(clk *clock.Fake) {
	for clk.Pending() == 0 {
		runtime.Gosched()
	}
}

// TestResumeFromHistory crashes an execution twice (in the middle of a Task,
// and during a 30-day Wait) and resumes it from its stored history: no
// completed Task runs again, the in-flight Task runs again with the same
// idempotency key, and the Wait ends 30 days after it started.
func TestResumeFromHistory(t *testing.T) {
	m := mustParse(t, `{"StartAt":"A","States":{
		"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:first","ResultPath":"$.a","Next":"B"},
		"B":{"Type":"Task","Resource":"second","ResultPath":"$.b","Next":"W"},
		"W":{"Type":"Wait","Seconds":2592000,"Next":"C"},
		"C":{"Type":"Task","Resource":"third","ResultPath":"$.c","End":true}}}`)
	var crash context.CancelFunc
	inv := &countingInvoker{fn: func(ctx context.Context, req TaskRequest, n int) (any, error) {
		if req.Function == "second" && n == 1 {
			crash() // the node dies while "second" runs
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return req.Function + "-done", nil
	}}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	store := NewMemoryStore()
	x := New(inv, clk, store, nil)
	exec := Execution{ID: "exec-1", Name: "exec-1", Machine: m, Input: mustInput(t, `{}`)}

	ctx, cancel := context.WithCancel(context.Background())
	crash = cancel
	if _, err := x.Run(ctx, exec, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: err = %v, want context.Canceled", err)
	}

	// Second life: resume, then crash during the Wait.
	history, _ := store.Load(context.Background(), exec.ID)
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := x.Run(ctx2, exec, history)
		done <- err
	}()
	waitForTimer(clk)
	cancel2()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("second run: err = %v, want context.Canceled", err)
	}
	if got := inv.count("first"); got != 1 {
		t.Errorf("first ran %d times, want 1", got)
	}
	if keys := inv.keys["second"]; len(keys) != 2 || keys[0] != keys[1] {
		t.Errorf("second ran with idempotency keys %v, want the same key twice", keys)
	}

	// Third life: 30 days pass while nothing runs; the Wait ends on time.
	clk.Advance(29 * 24 * time.Hour)
	history, _ = store.Load(context.Background(), exec.ID)
	results := make(chan *Result, 1)
	go func() {
		res, err := x.Run(context.Background(), exec, history)
		if err != nil {
			t.Error(err)
		}
		results <- res
	}()
	waitForTimer(clk)
	clk.Advance(24 * time.Hour)
	res := <-results
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s (%s %s)", res.Status, res.Error, res.Cause)
	}
	want := map[string]any{"a": "first-done", "b": "second-done", "c": "third-done"}
	if !asl.Equal(res.Output, want) {
		t.Errorf("output %v, want %v", res.Output, want)
	}
	for fn, n := range map[string]int{"first": 1, "second": 2, "third": 1} {
		if got := inv.count(fn); got != n {
			t.Errorf("%s ran %d times, want %d", fn, got, n)
		}
	}
	stored, _ := store.Load(context.Background(), exec.ID)
	if len(stored) != len(res.History) {
		t.Errorf("store has %d events, result %d", len(stored), len(res.History))
	}
	seen := map[string]bool{}
	for i, ev := range stored {
		if ev.ID != int64(i+1) {
			t.Errorf("event %d has ID %d", i, ev.ID)
		}
		if seen[ev.Key] {
			t.Errorf("event key %s recorded twice", ev.Key)
		}
		seen[ev.Key] = true
	}
	if stored[1].Type != TaskStateEntered || stored[2].Type != LambdaFunctionScheduled {
		t.Errorf("events 2-3 are %s, %s; want TaskStateEntered, LambdaFunctionScheduled", stored[1].Type, stored[2].Type)
	}
}

func TestRetryCatchAndTimeout(t *testing.T) {
	tests := []struct {
		name       string
		def        string
		fn         func(ctx context.Context, req TaskRequest, n int) (any, error)
		wantStatus Status
		wantOut    string
		wantError  string
		wantCalls  int
		wantEvents []EventType
	}{
		{
			name: "retry until success",
			def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"f","End":true,
				"Retry":[{"ErrorEquals":["Boom"],"IntervalSeconds":1,"MaxAttempts":3}]}}}`,
			fn: func(_ context.Context, _ TaskRequest, n int) (any, error) {
				if n < 3 {
					return nil, &asl.Error{Name: "Boom", Cause: "try again"}
				}
				return "ok", nil
			},
			wantStatus: StatusSucceeded, wantOut: `"ok"`, wantCalls: 3,
			wantEvents: []EventType{ExecutionStarted, TaskStateEntered, TaskScheduled, TaskStarted, TaskFailed, TaskScheduled, TaskStarted, TaskFailed, TaskScheduled, TaskStarted, TaskSucceeded, TaskStateExited, ExecutionSucceeded},
		},
		{
			name: "retries exhausted then caught",
			def: `{"StartAt":"T","States":{
				"T":{"Type":"Task","Resource":"f","End":true,
					"Retry":[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":1}],
					"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.err","Next":"F"}]},
				"F":{"Type":"Fail","ErrorPath":"$.err.Error","CausePath":"$.err.Cause"}}}`,
			fn: func(_ context.Context, _ TaskRequest, _ int) (any, error) {
				return nil, &asl.Error{Name: "Boom", Cause: "always"}
			},
			wantStatus: StatusFailed, wantError: "Boom", wantCalls: 2,
			wantEvents: []EventType{ExecutionStarted, TaskStateEntered, TaskScheduled, TaskStarted, TaskFailed, TaskScheduled, TaskStarted, TaskFailed, TaskStateExited, FailStateEntered, ExecutionFailed},
		},
		{
			name: "TaskFailed does not catch Timeout",
			def: `{"StartAt":"T","States":{
				"T":{"Type":"Task","Resource":"f","TimeoutSeconds":5,"End":true,
					"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"S"}]},
				"S":{"Type":"Succeed"}}}`,
			fn: func(ctx context.Context, _ TaskRequest, _ int) (any, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			},
			wantStatus: StatusFailed, wantError: asl.ErrTimeout, wantCalls: 1,
			wantEvents: []EventType{ExecutionStarted, TaskStateEntered, TaskScheduled, TaskStarted, TaskTimedOut, ExecutionFailed},
		},
		{
			name: "plain errors are States.TaskFailed",
			def: `{"StartAt":"T","States":{
				"T":{"Type":"Task","Resource":"f","End":true,
					"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"S"}]},
				"S":{"Type":"Pass","Parameters":{"caught.$":"$.Error"},"End":true}}}`,
			fn: func(_ context.Context, _ TaskRequest, _ int) (any, error) {
				return nil, errors.New("connection refused")
			},
			wantStatus: StatusSucceeded, wantOut: `{"caught":"States.TaskFailed"}`, wantCalls: 1,
			wantEvents: []EventType{ExecutionStarted, TaskStateEntered, TaskScheduled, TaskStarted, TaskFailed, TaskStateExited, PassStateEntered, PassStateExited, ExecutionSucceeded},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &countingInvoker{fn: tt.fn}
			x := New(inv, &instantClock{now: time.Unix(0, 0)}, nil, nil)
			res, err := x.Run(context.Background(), Execution{ID: "e", Machine: mustParse(t, tt.def), Input: mustInput(t, `{}`)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.wantStatus || res.Error != tt.wantError {
				t.Fatalf("status %s error %q (%s), want %s %q", res.Status, res.Error, res.Cause, tt.wantStatus, tt.wantError)
			}
			if tt.wantOut != "" && !asl.Equal(res.Output, mustInput(t, tt.wantOut)) {
				t.Errorf("output %v, want %s", res.Output, tt.wantOut)
			}
			if got := inv.count("f"); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			var got []EventType
			for _, ev := range res.History {
				got = append(got, ev.Type)
			}
			if len(got) != len(tt.wantEvents) {
				t.Fatalf("events %v\nwant %v", got, tt.wantEvents)
			}
			for i := range got {
				if got[i] != tt.wantEvents[i] {
					t.Fatalf("events %v\nwant %v", got, tt.wantEvents)
				}
			}
		})
	}
}

func TestRetryDelays(t *testing.T) {
	r := &asl.Retrier{IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 3, MaxDelaySeconds: 10, JitterStrategy: "NONE"}
	want := []time.Duration{2 * time.Second, 6 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if d, ok := r.Delay(i+1, 0.5); !ok || d != w {
			t.Errorf("attempt %d: %v %v, want %v", i+1, d, ok, w)
		}
	}
	if _, ok := r.Delay(5, 0); ok {
		t.Error("attempt 5 allowed, want exhausted")
	}
	r.JitterStrategy = "FULL"
	if d, _ := r.Delay(1, 0.25); d != 500*time.Millisecond {
		t.Errorf("full jitter delay %v, want 500ms", d)
	}
}

func TestFunctionName(t *testing.T) {
	tests := []struct {
		resource, want string
		ok             bool
	}{
		{"arn:aws:lambda:us-east-1:123456789012:function:resize", "resize", true},
		{"arn:aws:lambda:eu-west-1:123456789012:function:resize:prod", "resize", true},
		{"resize", "resize", true},
		{"arn:aws:states:::lambda:invoke", "", false},
		{"arn:aws:states:::sqs:sendMessage", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := FunctionName(tt.resource)
		if got != tt.want || ok != tt.ok {
			t.Errorf("FunctionName(%q) = %q, %v; want %q, %v", tt.resource, got, ok, tt.want, tt.ok)
		}
	}
}

func parseDefinition(def string) (*asl.Machine, error) { return asl.Parse([]byte(def)) }

// TestResumeInsideMap crashes in the middle of a Map and resumes: finished
// iterations keep their recorded results and only the interrupted
// iteration's task runs again.
func TestResumeInsideMap(t *testing.T) {
	m := mustParse(t, `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":2,"End":true,
		"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"f","End":true}}}}}}`)
	var crash context.CancelFunc
	var mu sync.Mutex
	calls := map[string][]string{}
	release := make(chan struct{})
	inv := InvokerFunc(func(ctx context.Context, req TaskRequest) (any, error) {
		item := req.Input.(string)
		mu.Lock()
		calls[item] = append(calls[item], req.IdempotencyKey)
		n := len(calls[item])
		mu.Unlock()
		if item == "c" && n == 1 {
			<-release // wait until a and b are done, then the node dies
			crash()
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return item + "!", nil
	})
	store := NewMemoryStore()
	x := New(inv, &instantClock{}, store, nil)
	exec := Execution{ID: "map-exec", Machine: m, Input: mustInput(t, `["a","b","c","d"]`)}
	ctx, cancel := context.WithCancel(context.Background())
	crash = cancel
	go func() {
		for {
			// Wait until a and b have their results stored.
			events, _ := store.Load(context.Background(), "map-exec")
			succeeded := 0
			for _, ev := range events {
				if ev.Type == TaskSucceeded {
					succeeded++
				}
			}
			if succeeded >= 2 {
				close(release)
				return
			}
			runtime.Gosched()
		}
	}()
	if _, err := x.Run(ctx, exec, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v", err)
	}
	history, _ := store.Load(context.Background(), exec.ID)
	res, err := x.Run(context.Background(), exec, history)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusSucceeded || !asl.Equal(res.Output, mustInput(t, `["a!","b!","c!","d!"]`)) {
		t.Fatalf("result %s %s (%s)", res.Status, mustJSON(res.Output), res.Cause)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, item := range []string{"a", "b"} {
		if len(calls[item]) != 1 {
			t.Errorf("%s ran %d times, want 1", item, len(calls[item]))
		}
	}
	if c := calls["c"]; len(c) != 2 || c[0] != c[1] {
		t.Errorf("c ran with keys %v, want twice with one key", c)
	}
	if len(calls["d"]) > 2 {
		t.Errorf("d ran %d times", len(calls["d"]))
	}
}
