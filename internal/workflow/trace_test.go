package workflow

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// newRecorder returns a tracer that samples every span and the recorder
// that holds them once ended.
func newRecorder(t *testing.T) (trace.Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("test"), rec
}

// spanTree describes the ended spans as "name <- parent name" lines,
// sorted, and checks that they all belong to one trace.
func spanTree(t *testing.T, spans []sdktrace.ReadOnlySpan) []string {
	t.Helper()
	names := map[trace.SpanID]string{}
	for _, s := range spans {
		names[s.SpanContext().SpanID()] = s.Name()
	}
	var out []string
	for _, s := range spans {
		if s.SpanContext().TraceID() != spans[0].SpanContext().TraceID() {
			t.Errorf("span %q is in trace %s, not %s", s.Name(), s.SpanContext().TraceID(), spans[0].SpanContext().TraceID())
		}
		parent := "-"
		if p := s.Parent(); p.IsValid() {
			parent = names[p.SpanID()]
			if parent == "" {
				parent = "?"
			}
		}
		out = append(out, s.Name()+" <- "+parent)
	}
	slices.Sort(out)
	return out
}

func spanNamed(spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) string {
	for _, a := range s.Attributes() {
		if a.Key == k {
			return a.Value.Emit()
		}
	}
	return ""
}

// spanInvoker runs Task states with fn and remembers the span context
// each invocation's ctx carried, by function.
type spanInvoker struct {
	mu    sync.Mutex
	seen  map[string][]trace.SpanContext
	calls int
	fn    func(req TaskRequest, n int) (any, error)
}

func (s *spanInvoker) Invoke(ctx context.Context, req TaskRequest) (any, error) {
	s.mu.Lock()
	if s.seen == nil {
		s.seen = map[string][]trace.SpanContext{}
	}
	s.seen[req.Function] = append(s.seen[req.Function], trace.SpanContextFromContext(ctx))
	s.calls++
	n := s.calls
	s.mu.Unlock()
	if s.fn == nil {
		return req.Input, nil
	}
	return s.fn(req, n)
}

// TestTraceStructure runs machines under a request span and checks the
// trace they make: one trace, an execution span under the request, a span
// per state under it (branches and iterations in between), and every Task
// invoked in its state's span.
func TestTraceStructure(t *testing.T) {
	tests := []struct {
		name       string
		def        string
		fn         func(req TaskRequest, n int) (any, error)
		wantStatus Status
		want       []string // "span <- parent", sorted
		// check looks at details of the spans.
		check func(t *testing.T, spans []sdktrace.ReadOnlySpan, inv *spanInvoker)
	}{
		{
			name: "task choice pass with a retry",
			def: `{"StartAt":"T","States":{
				"T":{"Type":"Task","Resource":"f","ResultPath":"$.r","Next":"C",
					"Retry":[{"ErrorEquals":["Flaky"],"IntervalSeconds":1,"MaxAttempts":2}]},
				"C":{"Type":"Choice","Choices":[{"Variable":"$.r","StringEquals":"ok","Next":"P"}],"Default":"F"},
				"P":{"Type":"Pass","End":true},
				"F":{"Type":"Fail","Error":"Unexpected"}}}`,
			fn: func(_ TaskRequest, n int) (any, error) {
				if n == 1 {
					return nil, &asl.Error{Name: "Flaky", Cause: "first try"}
				}
				return "ok", nil
			},
			wantStatus: StatusSucceeded,
			want: []string{
				"request <- -",
				"state C <- workflow exec",
				"state P <- workflow exec",
				"state T <- workflow exec",
				"workflow exec <- request",
			},
			check: func(t *testing.T, spans []sdktrace.ReadOnlySpan, inv *spanInvoker) {
				task := spanNamed(spans, "state T")
				if got := inv.seen["f"]; len(got) != 2 || !got[0].Equal(task.SpanContext()) || !got[1].Equal(task.SpanContext()) {
					t.Errorf("the invocations ran in spans %v, want both in the Task's %v", got, task.SpanContext())
				}
				if attr(task, AttrStateType) != "Task" || attr(task, AttrResource) != "f" || attr(task, AttrRetryCount) != "1" {
					t.Errorf("Task span attributes %v", task.Attributes())
				}
				var retries []string
				for _, ev := range task.Events() {
					if ev.Name == "retry" {
						retries = append(retries, ev.Attributes[1].Value.Emit())
					}
				}
				if !slices.Equal(retries, []string{"Flaky"}) {
					t.Errorf("retry events %v, want one for Flaky", retries)
				}
				if task.Status().Code != codes.Unset {
					t.Errorf("a Task that succeeded on retry has status %v", task.Status())
				}
				x := spanNamed(spans, "workflow exec")
				if attr(x, AttrMachine) != "m" || attr(x, AttrExecution) != "exec-id" || attr(x, AttrType) != "STANDARD" || attr(x, AttrStatus) != "SUCCEEDED" {
					t.Errorf("execution span attributes %v", x.Attributes())
				}
				if c := spanNamed(spans, "state C"); attr(c, AttrStateType) != "Choice" {
					t.Errorf("Choice span attributes %v", c.Attributes())
				}
			},
		},
		{
			name: "caught failure",
			def: `{"StartAt":"T","States":{
				"T":{"Type":"Task","Resource":"f","Next":"P",
					"Catch":[{"ErrorEquals":["States.ALL"],"Next":"H"}]},
				"H":{"Type":"Pass","End":true},
				"P":{"Type":"Pass","End":true}}}`,
			fn: func(TaskRequest, int) (any, error) {
				return nil, &asl.Error{Name: "OutOfStock", Cause: "none left"}
			},
			wantStatus: StatusSucceeded,
			want:       []string{"request <- -", "state H <- workflow exec", "state T <- workflow exec", "workflow exec <- request"},
			check: func(t *testing.T, spans []sdktrace.ReadOnlySpan, _ *spanInvoker) {
				task := spanNamed(spans, "state T")
				if task.Status().Code != codes.Error || attr(task, AttrError) != "OutOfStock" || attr(task, AttrCatch) != "H" {
					t.Errorf("caught Task span: status %v, attributes %v", task.Status(), task.Attributes())
				}
				if x := spanNamed(spans, "workflow exec"); x.Status().Code != codes.Unset {
					t.Errorf("execution that succeeded has status %v", x.Status())
				}
			},
		},
		{
			name: "uncaught failure",
			def:  `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"f","End":true}}}`,
			fn: func(TaskRequest, int) (any, error) {
				return nil, errors.New("connection refused")
			},
			wantStatus: StatusFailed,
			want:       []string{"request <- -", "state T <- workflow exec", "workflow exec <- request"},
			check: func(t *testing.T, spans []sdktrace.ReadOnlySpan, _ *spanInvoker) {
				for _, name := range []string{"state T", "workflow exec"} {
					s := spanNamed(spans, name)
					if s.Status().Code != codes.Error || attr(s, AttrError) != asl.ErrTaskFailed {
						t.Errorf("%s: status %v, attributes %v", name, s.Status(), s.Attributes())
					}
				}
				if x := spanNamed(spans, "workflow exec"); attr(x, AttrStatus) != "FAILED" {
					t.Errorf("execution status attribute %q", attr(x, AttrStatus))
				}
			},
		},
		{
			name: "parallel branches and map iterations",
			def: `{"StartAt":"Par","States":{
				"Par":{"Type":"Parallel","Next":"M","Branches":[
					{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
					{"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}]},
				"M":{"Type":"Map","ItemsPath":"$[0].xs","End":true,
					"ItemProcessor":{"StartAt":"Inner","States":{"Inner":{"Type":"Task","Resource":"g","End":true}}}}}}`,
			wantStatus: StatusSucceeded,
			want: []string{
				"branch 0 <- state Par",
				"branch 1 <- state Par",
				"iteration 0 <- state M",
				"iteration 1 <- state M",
				"request <- -",
				"state A <- branch 0",
				"state B <- branch 1",
				"state Inner <- iteration 0",
				"state Inner <- iteration 1",
				"state M <- workflow exec",
				"state Par <- workflow exec",
				"workflow exec <- request",
			},
			check: func(t *testing.T, spans []sdktrace.ReadOnlySpan, inv *spanInvoker) {
				inner := map[trace.SpanID]bool{}
				for _, s := range spans {
					if s.Name() == "state Inner" {
						inner[s.SpanContext().SpanID()] = true
					}
				}
				for _, sc := range inv.seen["g"] {
					if !inner[sc.SpanID()] {
						t.Errorf("an iteration's Task ran in span %v, not in its state's", sc)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tracer, rec := newRecorder(t)
			inv := &spanInvoker{fn: tt.fn}
			x := &Executor{Invoker: inv, Clock: &instantClock{now: time.Unix(0, 0)}, Tracer: tracer}
			ctx, request := tracer.Start(context.Background(), "request")
			res, err := x.Run(ctx, Execution{ID: "exec-id", Name: "exec", StateMachineName: "m",
				Machine: mustParse(t, tt.def), Input: mustInput(t, `{"xs":[1,2]}`)}, nil)
			request.End()
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.wantStatus {
				t.Fatalf("status %s (%s: %s), want %s", res.Status, res.Error, res.Cause, tt.wantStatus)
			}
			spans := rec.Ended()
			if got := spanTree(t, spans); !slices.Equal(got, tt.want) {
				t.Errorf("spans\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			// ExecutionStarted holds the execution span's context, for a
			// resumed run to continue.
			x0 := spanNamed(spans, "workflow exec")
			if tp := res.History[0].Trace["traceparent"]; !strings.Contains(tp, x0.SpanContext().SpanID().String()) {
				t.Errorf("ExecutionStarted trace context %v, want the execution span %s", res.History[0].Trace, x0.SpanContext().SpanID())
			}
			if tt.check != nil {
				tt.check(t, spans, inv)
			}
		})
	}
}

// counter is a Counter for tests.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) Inc() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

func (c *counter) value() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestTraceContinuesAfterParking parks an execution on a one-day Wait and
// runs it again from its history, as the engine does after the wait or a
// restart: the second run continues the first one's trace under the first
// execution span, traces only the states it works in, and the transition
// counter counts every state once.
func TestTraceContinuesAfterParking(t *testing.T) {
	m := mustParse(t, `{"StartAt":"A","States":{
		"A":{"Type":"Task","Resource":"f","Next":"W"},
		"W":{"Type":"Wait","Seconds":86400,"Next":"B"},
		"B":{"Type":"Task","Resource":"g","End":true}}}`)
	tracer, rec := newRecorder(t)
	clk := clock.NewFake(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	store := NewMemoryStore()
	inv := &spanInvoker{}
	transitions := &counter{}
	x := &Executor{Invoker: inv, Clock: clk, Sink: store, ParkAfter: time.Minute, Tracer: tracer,
		TransitionCounter: func(*Execution) Counter { return transitions }}
	exec := Execution{ID: "exec-id", Name: "exec", StateMachineName: "m", Machine: m, Input: map[string]any{}}

	ctx, request := tracer.Start(context.Background(), "request")
	_, err := x.Run(ctx, exec, nil)
	request.End()
	var parked *ParkedError
	if !errors.As(err, &parked) {
		t.Fatalf("first run: %v, want parked", err)
	}
	first := rec.Ended()
	if got, want := spanTree(t, first), []string{"request <- -", "state A <- workflow exec", "state W <- workflow exec", "workflow exec <- request"}; !slices.Equal(got, want) {
		t.Fatalf("first run's spans %v, want %v", got, want)
	}
	firstExec := spanNamed(first, "workflow exec")
	if attr(firstExec, AttrStatus) != "RUNNING" || len(firstExec.Events()) != 1 || firstExec.Events()[0].Name != "parked" {
		t.Errorf("parked run's span: attributes %v, events %v", firstExec.Attributes(), firstExec.Events())
	}

	clk.Advance(24 * time.Hour)
	history, err := store.Load(context.Background(), exec.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing of the request is in the context now: the trace comes from
	// the history.
	res, err := x.Run(context.Background(), exec, history)
	if err != nil || res.Status != StatusSucceeded {
		t.Fatalf("second run: %v %+v", err, res)
	}
	all := rec.Ended()
	second := all[len(first):]
	if got, want := spanTree(t, all), []string{
		"request <- -",
		"state A <- workflow exec",
		"state B <- workflow exec",
		"state W <- workflow exec",
		"state W <- workflow exec",
		"workflow exec <- request",
		"workflow exec <- workflow exec",
	}; !slices.Equal(got, want) {
		t.Fatalf("spans of both runs\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	resumed := spanNamed(second, "workflow exec")
	if resumed.Parent().SpanID() != firstExec.SpanContext().SpanID() || attr(resumed, AttrResumed) != "true" || attr(resumed, AttrStatus) != "SUCCEEDED" {
		t.Errorf("resumed run's span: parent %s (first run %s), attributes %v", resumed.Parent().SpanID(), firstExec.SpanContext().SpanID(), resumed.Attributes())
	}
	if w := spanNamed(second, "state W"); attr(w, AttrResumed) != "true" {
		t.Errorf("the Wait the second run finished: attributes %v", w.Attributes())
	}
	if got := inv.seen["g"]; len(got) != 1 || !got[0].Equal(spanNamed(second, "state B").SpanContext()) {
		t.Errorf("the resumed Task ran in span %v", got)
	}
	if got := transitions.value(); got != 3 {
		t.Errorf("%d transitions counted, want 3 (replayed states are not transitions)", got)
	}
}

// TestTraceUnsampled checks that an execution whose trace is not sampled
// records no spans, stores its context all the same, and stays unsampled
// when it resumes (the decision follows the stored flags).
func TestTraceUnsampled(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	clk := clock.NewFake(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	store := NewMemoryStore()
	inv := &spanInvoker{}
	x := &Executor{Invoker: inv, Clock: clk, Sink: store, ParkAfter: time.Minute, Tracer: tp.Tracer("test")}
	exec := Execution{ID: "e", Name: "e", Machine: mustParse(t, `{"StartAt":"W","States":{
		"W":{"Type":"Wait","Seconds":3600,"Next":"T"},"T":{"Type":"Task","Resource":"f","End":true}}}`)}
	if _, err := x.Run(context.Background(), exec, nil); err == nil {
		t.Fatal("the first run did not park")
	}
	clk.Advance(time.Hour)
	history, _ := store.Load(context.Background(), exec.ID)
	if tp := history[0].Trace["traceparent"]; !strings.HasSuffix(tp, "-00") {
		t.Errorf("stored trace context %q, want an unsampled traceparent", tp)
	}
	if _, err := x.Run(context.Background(), exec, history); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans recorded, want none", n)
	}
	if got := inv.seen["f"]; len(got) != 1 || got[0].IsSampled() || got[0].TraceID().String() != history[0].Trace["traceparent"][3:35] {
		t.Errorf("the Task ran in %v, want the stored unsampled trace", got)
	}
}
