package telemetry

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestStartSpan: a hop under an unsampled parent gets the parent's span,
// not its own; under a sampled parent or none it gets a span of its own.
func TestStartSpan(t *testing.T) {
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample()))).Tracer("test")
	parent := func(flags trace.TraceFlags) context.Context {
		return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: flags, Remote: true}))
	}
	for _, tc := range []struct {
		name          string
		ctx           context.Context
		wantOwn       bool
		wantRecording bool
	}{
		{"no parent", context.Background(), true, true},
		{"sampled parent", parent(trace.FlagsSampled), true, true},
		{"unsampled parent", parent(0), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, span, own := StartSpan(tc.ctx, tracer, "hop ", "f", trace.SpanKindInternal)
			if own != tc.wantOwn || span.IsRecording() != tc.wantRecording {
				t.Fatalf("own %v, recording %v; want %v, %v", own, span.IsRecording(), tc.wantOwn, tc.wantRecording)
			}
			if !trace.SpanContextFromContext(ctx).Equal(span.SpanContext()) {
				t.Error("the returned context does not carry the returned span")
			}
			if own {
				defer span.End()
				if got, want := span.SpanContext().TraceID(), trace.SpanContextFromContext(tc.ctx).TraceID(); tc.ctx != context.Background() && got != want {
					t.Errorf("trace id %v, want the parent's %v", got, want)
				}
				return
			}
			if !span.SpanContext().Equal(trace.SpanContextFromContext(tc.ctx)) {
				t.Error("the stand-in is not the parent's span")
			}
		})
	}
}
