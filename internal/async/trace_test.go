package async

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// spanCtxs remembers the span context each call of a fake function ran in.
type spanCtxs struct {
	mu  sync.Mutex
	got []trace.SpanContext
}

func (c *spanCtxs) wrap(b behaviour) behaviour {
	return func(ctx context.Context, n int, req runtime.Request) (runtime.Response, error) {
		c.mu.Lock()
		c.got = append(c.got, trace.SpanContextFromContext(ctx))
		c.mu.Unlock()
		return b(ctx, n, req)
	}
}

func (c *spanCtxs) all() []trace.SpanContext {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]trace.SpanContext(nil), c.got...)
}

func spansNamed(sr *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// TestAsyncHopsShareOneTrace: a request's async invocation, each of its
// attempts (a retry too), the function's own context, the destination it
// sends to, and a topic's deliveries are one connected trace with the
// request's span at its root.
func TestAsyncHopsShareOneTrace(t *testing.T) {
	env := newEnv(t, nil)
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	s := env.serviceWith(t, "n1", func(o *Options) { o.Tracer = tp.Tracer("test") })
	var flakyCtx, nextCtx, subCtx spanCtxs
	env.node.add("flaky", registry.Config{Retries: ptr(2), OnSuccess: "function:next"}, flakyCtx.wrap(
		func(_ context.Context, n int, _ runtime.Request) (runtime.Response, error) {
			if n == 1 {
				return failing("HandlerError"), nil
			}
			return runtime.Response{Status: 200}, nil
		}))
	env.node.add("next", registry.Config{}, nextCtx.wrap(ok("")))
	env.node.add("sub", registry.Config{}, subCtx.wrap(ok("")))
	bg := context.Background()
	if err := s.CreateTopic(bg, "events"); err != nil {
		t.Fatal(err)
	}
	if err := s.Subscribe(bg, "events", "sub"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		hop      string // the producer span's name
		do       func(ctx context.Context) error
		consumer string // the consumer's attempt span name
		calls    *spanCtxs
		attempts []string // outcomes, in order
	}{
		{"queue-with-retry", "async enqueue flaky", func(ctx context.Context) error {
			id, err := s.Enqueue(ctx, "flaky", runtime.Request{Body: []byte("x")}, "")
			if err == nil {
				waitStatus(t, s, id, StatusSucceeded)
			}
			return err
		}, "async attempt flaky", &flakyCtx, []string{"error", "success"}},
		{"topic", "async publish events", func(ctx context.Context) error {
			_, err := s.Publish(ctx, "events", []byte(`{"a":1}`), PublishOptions{})
			return err
		}, "async attempt sub", &subCtx, []string{"success"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, root := tp.Tracer("test").Start(bg, "request "+tt.name)
			if err := tt.do(ctx); err != nil {
				t.Fatal(err)
			}
			root.End()
			tid := root.SpanContext().TraceID()
			eventually(t, "attempt spans of "+tt.name, func() bool {
				return len(spansNamed(sr, tt.consumer)) == len(tt.attempts)
			})
			producers := spansNamed(sr, tt.hop)
			if len(producers) != 1 || producers[0].Parent().SpanID() != root.SpanContext().SpanID() ||
				producers[0].SpanContext().TraceID() != tid {
				t.Fatalf("%q spans %v: want one, child of the request", tt.hop, producers)
			}
			attempts := spansNamed(sr, tt.consumer)
			calls := tt.calls.all()
			if len(calls) != len(tt.attempts) {
				t.Fatalf("%d calls, want %d", len(calls), len(tt.attempts))
			}
			for i, a := range attempts {
				if a.SpanContext().TraceID() != tid || a.Parent().SpanID() != producers[0].SpanContext().SpanID() {
					t.Errorf("attempt %d: trace %s parent %s, want trace %s parent %s", i+1, a.SpanContext().TraceID(),
						a.Parent().SpanID(), tid, producers[0].SpanContext().SpanID())
				}
				if got := attr(a, attrAttempt).AsInt64(); got != int64(i+1) {
					t.Errorf("attempt span %d has attempt number %d", i+1, got)
				}
				if got := attr(a, attrOutcome).AsString(); got != tt.attempts[i] {
					t.Errorf("attempt %d outcome %q, want %q", i+1, got, tt.attempts[i])
				}
				if calls[i].SpanID() != a.SpanContext().SpanID() || calls[i].TraceID() != tid {
					t.Errorf("call %d ran in span %s of trace %s, want the attempt's span %s", i+1,
						calls[i].SpanID(), calls[i].TraceID(), a.SpanContext().SpanID())
				}
			}
		})
	}

	// flaky's on_success destination continued the trace from its
	// successful attempt: next's enqueue is that attempt's child, and next
	// ran in the same trace.
	eventually(t, "the destination ran", func() bool { return len(nextCtx.all()) == 1 })
	eventually(t, "the destination's attempt span", func() bool { return len(spansNamed(sr, "async attempt next")) == 1 })
	flaky := spansNamed(sr, "async attempt flaky")
	success := flaky[len(flaky)-1]
	enq := spansNamed(sr, "async enqueue next")
	if len(enq) != 1 || enq[0].Parent().SpanID() != success.SpanContext().SpanID() {
		t.Fatalf("destination enqueue spans %v: want one, child of flaky's successful attempt", enq)
	}
	if got := nextCtx.all()[0]; got.TraceID() != success.SpanContext().TraceID() {
		t.Fatalf("destination ran in trace %s, want %s", got.TraceID(), success.SpanContext().TraceID())
	}
}

// TestInjectTraceContextMatchesPropagator: the enqueue's own writer of the
// W3C headers writes exactly what the OpenTelemetry propagator writes.
func TestInjectTraceContextMatchesPropagator(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ts, err := trace.ParseTraceState("vendor=value,other=1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		sc   trace.SpanContext
	}{
		{"none", trace.SpanContext{}},
		{"sampled", trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})},
		{"not sampled", trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid})},
		{"other flag bits", trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: 0xff})},
		{"trace state", trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: ts})},
		{"remote", trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, Remote: true})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := trace.ContextWithSpanContext(context.Background(), tc.sc)
			want, got := nats.Header{}, nats.Header{}
			propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(want))
			injectTraceContext(ctx, got)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

// TestUnsampledTraceMakesNoAsyncSpans: under a request whose trace is not
// sampled (ParentBased, as the node samples), the async hops start no
// spans of their own, and the function still runs in the request's trace.
func TestUnsampledTraceMakesNoAsyncSpans(t *testing.T) {
	env := newEnv(t, nil)
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	tracer := &countingTracer{Tracer: tp.Tracer("test")}
	s := env.serviceWith(t, "n1", func(o *Options) { o.Tracer = tracer })
	var calls spanCtxs
	env.node.add("quiet", registry.Config{}, calls.wrap(ok("")))
	ctx, root := tp.Tracer("test").Start(context.Background(), "request")
	if root.SpanContext().IsSampled() || !root.SpanContext().IsValid() {
		t.Fatalf("root span %v: want a valid, unsampled one", root.SpanContext())
	}
	id, err := s.Enqueue(ctx, "quiet", runtime.Request{}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, id, StatusSucceeded)
	root.End()
	got := calls.all()
	if len(got) != 1 || got[0].TraceID() != root.SpanContext().TraceID() {
		t.Fatalf("the function ran in %v, want the request's trace %s", got, root.SpanContext().TraceID())
	}
	if n := tracer.starts.Load(); n != 0 {
		t.Errorf("the service started %d spans, want none", n)
	}
}

// countingTracer counts the spans started through it.
type countingTracer struct {
	trace.Tracer
	starts atomic.Int64
}

func (c *countingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	c.starts.Add(1)
	return c.Tracer.Start(ctx, name, opts...)
}
