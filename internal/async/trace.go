package async

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
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
	s.opts.Propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// extract returns parent carrying the trace context of a message's
// headers, if any.
func (s *Service) extract(parent context.Context, h nats.Header) context.Context {
	if len(h) == 0 {
		return parent
	}
	return s.opts.Propagator.Extract(parent, propagation.HeaderCarrier(h))
}

// endSpan records err (if any) on span and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
