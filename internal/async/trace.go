package async

import (
	"context"
	"encoding/hex"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/telemetry"
)

// Span attributes of the async hops. The invocation id is an attribute, not
// a metric label: it is unbounded.
const (
	attrInvocationID = attribute.Key("faas.invocation_id")
	attrFunction     = attribute.Key("faas.name")
	attrTopic        = attribute.Key("messaging.destination.name")
	attrAttempt      = attribute.Key("hearth.async.attempt")
	attrOutcome      = attribute.Key("hearth.async.outcome")
)

// inject writes ctx's trace context (W3C traceparent) into a message's
// headers, so that whoever takes the message continues the same trace.
func (s *Service) inject(ctx context.Context, h nats.Header) {
	if _, plain := s.opts.Propagator.(propagation.TraceContext); plain {
		injectTraceContext(ctx, h)
		return
	}
	s.opts.Propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// injectTraceContext writes what propagation.TraceContext does, without
// its formatting and its header key canonicalization at every enqueue.
func injectTraceContext(ctx context.Context, h nats.Header) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	b := make([]byte, 0, 55)
	b = append(b, "00-"...)
	b = hex.AppendEncode(b, tid[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, sid[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, []byte{byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))})
	h["Traceparent"] = []string{string(b)}
	if ts := sc.TraceState().String(); ts != "" {
		h["Tracestate"] = []string{ts}
	}
}

// extract returns parent carrying the trace context of a message's
// headers, if any.
func (s *Service) extract(parent context.Context, h nats.Header) context.Context {
	if len(h) == 0 {
		return parent
	}
	return s.opts.Propagator.Extract(parent, propagation.HeaderCarrier(h))
}

// startSpan starts the span of an async hop (see telemetry.StartSpan) and
// says whether it is the caller's to describe and end: its own, and
// recording.
func (s *Service) startSpan(ctx context.Context, prefix, name string, kind trace.SpanKind) (context.Context, trace.Span, bool) {
	ctx, span, own := telemetry.StartSpan(ctx, s.opts.Tracer, prefix, name, kind)
	return ctx, span, own && span.IsRecording()
}

// endSpan records err (if any) on span and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
