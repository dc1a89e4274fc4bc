package telemetry

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracingConfig configures OpenTelemetry tracing.
type TracingConfig struct {
	// OTLPEndpoint, when set (host:port or URL), exports spans with OTLP/HTTP.
	OTLPEndpoint string
	// Rate is the most new traces recorded per second; a caller's sampled
	// trace is always continued. 0 means 20; negative means no limit.
	Rate float64
	// Sample is the fraction of requests, by trace id, that may start a new
	// trace (0 means 1: all; negative: none). Rate still caps the traces it
	// picks: the stricter of the two wins.
	Sample float64
	// Off records no spans at all: Tracer is a no-op (telemetry off).
	Off bool
	// KeepTraces is how many recent traces are kept in memory for the
	// dashboard; 0 means 200.
	KeepTraces int
}

// Tracing is the node's tracer provider, with the most recent traces kept
// in memory.
type Tracing struct {
	Provider *sdktrace.TracerProvider
	Tracer   trace.Tracer
	Recent   *RecentTraces
	// Propagator reads and writes W3C traceparent/tracestate headers.
	Propagator propagation.TextMapPropagator
}

// NewTracing starts tracing. Spans are exported in batches off the request
// path.
func NewTracing(ctx context.Context, cfg TracingConfig) (*Tracing, error) {
	root := rootSampler(cfg.Sample, cfg.Rate)
	if cfg.KeepTraces <= 0 {
		cfg.KeepTraces = 200
	}
	recent := newRecentTraces(cfg.KeepTraces)
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(root)),
		sdktrace.WithBatcher(recent, sdktrace.WithBatchTimeout(200*time.Millisecond)),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("hearth"))),
	}
	if cfg.OTLPEndpoint != "" {
		exp, err := otlptracehttp.New(ctx, otlpEndpoint(cfg.OTLPEndpoint)...)
		if err != nil {
			return nil, fmt.Errorf("otlp exporter for %s: %w", cfg.OTLPEndpoint, err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	var tracer trace.Tracer = tp.Tracer("github.com/hearth-sh/hearth")
	if cfg.Off {
		tracer = noop.NewTracerProvider().Tracer("")
	}
	return &Tracing{Provider: tp, Tracer: tracer, Recent: recent, Propagator: propagation.TraceContext{}}, nil
}

func otlpEndpoint(ep string) []otlptracehttp.Option {
	if len(ep) > 7 && (ep[:7] == "http://" || (len(ep) > 8 && ep[:8] == "https://")) {
		return []otlptracehttp.Option{otlptracehttp.WithEndpointURL(ep)}
	}
	return []otlptracehttp.Option{otlptracehttp.WithEndpoint(ep), otlptracehttp.WithInsecure()}
}

// Shutdown flushes and stops the exporters.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.Provider.Shutdown(ctx) }

// Span is a finished span as kept in memory.
type Span struct {
	TraceID    string            `json:"trace_id"`
	SpanID     string            `json:"span_id"`
	ParentID   string            `json:"parent_id,omitempty"`
	Name       string            `json:"name"`
	Start      time.Time         `json:"start"`
	End        time.Time         `json:"end"`
	Status     string            `json:"status,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Trace is the spans of one trace, by start time.
type Trace struct {
	TraceID string    `json:"trace_id"`
	Start   time.Time `json:"start"`
	Spans   []Span    `json:"spans"`
}

// RecentTraces is a span exporter that keeps the most recent traces.
type RecentTraces struct {
	keep int

	mu     sync.Mutex
	traces map[string]*Trace
	order  []string // trace ids, oldest first
}

func newRecentTraces(keep int) *RecentTraces {
	return &RecentTraces{keep: keep, traces: map[string]*Trace{}}
}

// ExportSpans implements sdktrace.SpanExporter.
func (r *RecentTraces) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range spans {
		sc := s.SpanContext()
		id := sc.TraceID().String()
		t := r.traces[id]
		if t == nil {
			t = &Trace{TraceID: id, Start: s.StartTime()}
			r.traces[id] = t
			r.order = append(r.order, id)
			if len(r.order) > r.keep {
				delete(r.traces, r.order[0])
				r.order = r.order[1:]
			}
		}
		sp := Span{TraceID: id, SpanID: sc.SpanID().String(), Name: s.Name(), Start: s.StartTime(), End: s.EndTime()}
		if p := s.Parent(); p.IsValid() {
			sp.ParentID = p.SpanID().String()
		}
		if s.Status().Code.String() != "Unset" {
			sp.Status = s.Status().Code.String() + " " + s.Status().Description
		}
		if attrs := s.Attributes(); len(attrs) > 0 {
			sp.Attributes = make(map[string]string, len(attrs))
			for _, a := range attrs {
				sp.Attributes[string(a.Key)] = a.Value.Emit()
			}
		}
		if sp.Start.Before(t.Start) {
			t.Start = sp.Start
		}
		t.Spans = append(t.Spans, sp)
	}
	return nil
}

// Shutdown implements sdktrace.SpanExporter.
func (r *RecentTraces) Shutdown(context.Context) error { return nil }

// List returns up to n recent traces, newest first.
func (r *RecentTraces) List(n int) []Trace {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Trace
	for i := len(r.order) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, r.copyLocked(r.order[i]))
	}
	return out
}

// Get returns one trace.
func (r *RecentTraces) Get(traceID string) (Trace, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.traces[traceID]; !ok {
		return Trace{}, false
	}
	return r.copyLocked(traceID), true
}

func (r *RecentTraces) copyLocked(id string) Trace {
	t := *r.traces[id]
	t.Spans = append([]Span(nil), t.Spans...)
	sort.Slice(t.Spans, func(i, j int) bool { return t.Spans[i].Start.Before(t.Spans[j].Start) })
	return t
}

// StartSpan starts a span named prefix+name under ctx's span, unless that
// span is valid and unsampled. The node samples by parent, so a child of
// an unsampled span could not be sampled either: ctx's span stands in for
// it, and the hop costs no span, span id, context or name. Its trace id
// still travels on (traceparent headers, logs).
//
// own says whether the span is the caller's: only then may the caller end
// it. Callers describe a span only when own && span.IsRecording(), and
// build its attributes only then: built before, they would be allocated
// on every hop for nothing.
func StartSpan(ctx context.Context, tracer trace.Tracer, prefix, name string, kind trace.SpanKind) (_ context.Context, span trace.Span, own bool) {
	if parent := trace.SpanFromContext(ctx); parent.SpanContext().IsValid() && !parent.SpanContext().IsSampled() {
		return ctx, parent, false
	}
	ctx, span = tracer.Start(ctx, prefix+name, trace.WithSpanKind(kind))
	return ctx, span, true
}
