package telemetry

import (
	"fmt"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// rateSampler records at most rate new traces per second (a token bucket
// with a burst of one second's worth). At low traffic every request is
// traced; at high traffic tracing costs a bounded amount, whatever the load.
type rateSampler struct {
	rate  float64
	now   func() time.Time
	mu    sync.Mutex
	spare float64
	last  time.Time
}

func newRateSampler(rate float64, now func() time.Time) *rateSampler {
	return &rateSampler{rate: rate, now: now, spare: rate}
}

// ShouldSample implements sdktrace.Sampler.
func (s *rateSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	psc := trace.SpanContextFromContext(p.ParentContext)
	decision := sdktrace.Drop
	if s.take() {
		decision = sdktrace.RecordAndSample
	}
	return sdktrace.SamplingResult{Decision: decision, Tracestate: psc.TraceState()}
}

func (s *rateSampler) take() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.spare = min(s.rate, s.spare+now.Sub(s.last).Seconds()*s.rate)
	s.last = now
	if s.spare < 1 {
		return false
	}
	s.spare--
	return true
}

// Description implements sdktrace.Sampler.
func (s *rateSampler) Description() string { return fmt.Sprintf("RateLimited{%g/s}", s.rate) }
