package engine

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/workflow"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// tracedHarness is a harness whose engines trace every execution into one
// recorder (across restarts, as one exporter would).
func tracedHarness(t *testing.T) (*harness, trace.Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tracer := tp.Tracer("test")
	h := newHarnessWith(t, func(o *Options) { o.Tracer = tracer })
	return h, tracer, rec
}

// spanLog remembers the span context each function invocation ran in.
type spanLog struct {
	mu   sync.Mutex
	seen map[string][]trace.SpanContext
}

// wrap returns fn recording its invocations' span contexts under name.
func (l *spanLog) wrap(name string, fn func(context.Context, []byte) (any, *runtime.FunctionError)) func(context.Context, []byte) (any, *runtime.FunctionError) {
	return func(ctx context.Context, body []byte) (any, *runtime.FunctionError) {
		l.mu.Lock()
		if l.seen == nil {
			l.seen = map[string][]trace.SpanContext{}
		}
		l.seen[name] = append(l.seen[name], trace.SpanContextFromContext(ctx))
		l.mu.Unlock()
		return fn(ctx, body)
	}
}

func (l *spanLog) get(name string) []trace.SpanContext {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]trace.SpanContext(nil), l.seen[name]...)
}

// tree is the spans as sorted "name <- parent name" lines; it fails the
// test if they are not all in trace id.
func tree(t *testing.T, spans []sdktrace.ReadOnlySpan, id trace.TraceID) []string {
	t.Helper()
	names := map[trace.SpanID]string{}
	for _, s := range spans {
		names[s.SpanContext().SpanID()] = s.Name()
	}
	var out []string
	for _, s := range spans {
		if s.SpanContext().TraceID() != id {
			t.Errorf("span %q is in trace %s, want %s", s.Name(), s.SpanContext().TraceID(), id)
		}
		parent := "-"
		if p := s.Parent(); p.IsValid() {
			if parent = names[p.SpanID()]; parent == "" {
				parent = "?"
			}
		}
		out = append(out, s.Name()+" <- "+parent)
	}
	slices.Sort(out)
	return out
}

func named(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// TestTraceAcrossRestart starts a STANDARD execution inside a request's
// span; it parks on a one-day Wait, the engine restarts, and the execution
// finishes a day later: everything is one trace, the resumed run hangs
// under the first execution span, and every Task's function runs in its
// state's span.
func TestTraceAcrossRestart(t *testing.T) {
	h, tracer, rec := tracedHarness(t)
	var log spanLog
	h.fns.set("add", log.wrap("add", addOne))
	h.machine("daily", `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"add","Next":"W"},
		"W":{"Type":"Wait","Seconds":86400,"Next":"U"},
		"U":{"Type":"Task","Resource":"add","End":true}}}`)
	ctx, request := tracer.Start(context.Background(), "request")
	x, err := h.eng.Start(ctx, StartInput{Machine: "daily", Name: "d1", Input: json.RawMessage(`{"N":0}`)})
	request.End()
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the execution to park", func() bool {
		d, err := h.eng.Describe(context.Background(), x.ARN)
		return err == nil && !d.WakeAt.IsZero()
	})
	eventually(t, "the first run's span to end", func() bool { return len(named(rec.Ended(), "workflow d1")) == 1 })
	h.restart()
	h.clk.Advance(24 * time.Hour)
	if done := h.wait(x.ARN); done.Status != workflow.StatusSucceeded || string(done.Output) != `{"N":2}` {
		t.Fatalf("execution ended %+v", done)
	}
	eventually(t, "the second run's span to end", func() bool { return len(named(rec.Ended(), "workflow d1")) == 2 })

	spans := rec.Ended()
	want := []string{
		"request <- -",
		"state T <- workflow d1",
		"state U <- workflow d1",
		"state W <- workflow d1",
		"state W <- workflow d1",
		"workflow d1 <- request",
		"workflow d1 <- workflow d1",
	}
	if got := tree(t, spans, request.SpanContext().TraceID()); !slices.Equal(got, want) {
		t.Fatalf("spans\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	runs := named(spans, "workflow d1")
	if runs[1].Parent().SpanID() != runs[0].SpanContext().SpanID() {
		t.Errorf("the resumed run's parent is %s, want the first run %s", runs[1].Parent().SpanID(), runs[0].SpanContext().SpanID())
	}
	calls := log.get("add")
	if len(calls) != 2 || !calls[0].Equal(named(spans, "state T")[0].SpanContext()) || !calls[1].Equal(named(spans, "state U")[0].SpanContext()) {
		t.Errorf("the functions ran in spans %v, want those of states T and U", calls)
	}
	for _, a := range runs[0].Attributes() {
		if a.Key == workflow.AttrExecution && a.Value.AsString() != x.ARN {
			t.Errorf("execution attribute %q, want %s", a.Value.AsString(), x.ARN)
		}
	}
}

// TestTraceNestedAndExpress checks that an EXPRESS execution is traced
// like a STANDARD one, and that a child execution started by a Task
// (startExecution.sync) hangs under that Task's span.
func TestTraceNestedAndExpress(t *testing.T) {
	tests := []struct {
		name string
		typ  asl.Type
		def  string
		want []string
	}{
		{
			name: "express",
			typ:  asl.Express,
			def:  `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"add","Next":"P"},"P":{"Type":"Pass","End":true}}}`,
			want: []string{"request <- -", "state P <- workflow x", "state T <- workflow x", "workflow x <- request"},
		},
		{
			name: "nested",
			typ:  asl.Standard,
			def: `{"StartAt":"Run","States":{"Run":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2",
				"Parameters":{"StateMachineArn":"child","Name":"kid","Input":{"N":1}},"End":true}}}`,
			want: []string{"request <- -", "state Run <- workflow x", "state T <- workflow kid", "workflow kid <- state Run", "workflow x <- request"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, tracer, rec := tracedHarness(t)
			var log spanLog
			h.fns.set("add", log.wrap("add", addOne))
			h.machine("child", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"add","End":true}}}`)
			if _, err := h.eng.CreateMachine(context.Background(), MachineSpec{Name: "m", Definition: tt.def, Type: tt.typ}); err != nil {
				t.Fatal(err)
			}
			ctx, request := tracer.Start(context.Background(), "request")
			done, err := h.eng.StartSync(ctx, StartInput{Machine: "m", Name: "x", Input: json.RawMessage(`{"N":0}`)})
			request.End()
			if err != nil || done.Status != workflow.StatusSucceeded {
				t.Fatalf("execution: %v %+v", err, done)
			}
			// Runs end their span just after they store their outcome.
			eventually(t, "every span to end", func() bool { return len(rec.Ended()) == len(tt.want) })
			spans := rec.Ended()
			if got := tree(t, spans, request.SpanContext().TraceID()); !slices.Equal(got, tt.want) {
				t.Fatalf("spans\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if calls := log.get("add"); len(calls) != 1 || !calls[0].Equal(named(spans, "state T")[0].SpanContext()) {
				t.Errorf("the function ran in span %v, want the Task's", calls)
			}
		})
	}
}
