package telemetry

import (
	"context"
	"encoding/binary"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestRootSampler counts what each configuration samples of 10,000 new
// traces with evenly spread ids, in less than one second of the clock
// (the rate limiters start full: a second's worth).
func TestRootSampler(t *testing.T) {
	tests := []struct {
		name         string
		sample, rate float64
		min, max     int
	}{
		{"no ratio, no limit", 1, -1, 10000, 10000},
		{"default ratio, default rate", 0, 0, 20, 20},
		{"ratio only", 0.01, -1, 80, 120},
		{"the rate caps the ratio", 0.5, 30, 30, 30},
		{"the ratio caps the rate", 0.01, 1000, 80, 120},
		{"none", -1, -1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := rootSampler(tt.sample, tt.rate)
			got := 0
			for i := range 10000 {
				var id trace.TraceID
				// TraceIDRatioBased reads the id's last 8 bytes.
				binary.BigEndian.PutUint64(id[8:], uint64(i)*(^uint64(0)/10000))
				r := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: id, Name: "x"})
				if r.Decision == sdktrace.RecordAndSample {
					got++
				}
			}
			if got < tt.min || got > tt.max {
				t.Fatalf("%s sampled %d of 10000, want %d..%d", s.Description(), got, tt.min, tt.max)
			}
		})
	}
}

// TestTracingOff: with Off the tracer records nothing, even for a caller's
// sampled trace.
func TestTracingOff(t *testing.T) {
	tr, err := NewTracing(context.Background(), TracingConfig{Off: true, Rate: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	_, span := tr.Tracer.Start(context.Background(), "x")
	defer span.End()
	if span.IsRecording() || span.SpanContext().IsSampled() {
		t.Fatal("span recorded with tracing off")
	}
}
