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

// rootSampler decides for requests that do not continue a caller's trace:
// a trace id ratio (sample; 0 means all, negative none), then the rate
// limit (rate per second; 0 means 20, negative no limit). The ratio comes
// first so that requests it drops take no token from the bucket, and so
// that, at 1% of a high load, the rate cap still bounds the cost.
func rootSampler(sample, rate float64) sdktrace.Sampler {
	var ratio sdktrace.Sampler
	switch {
	case sample == 0 || sample >= 1:
		ratio = nil // every request is eligible
	case sample < 0:
		return sdktrace.NeverSample()
	default:
		ratio = sdktrace.TraceIDRatioBased(sample)
	}
	var limit sdktrace.Sampler
	switch {
	case rate == 0:
		limit = newRateSampler(20, time.Now)
	case rate > 0:
		limit = newRateSampler(rate, time.Now)
	}
	switch {
	case ratio == nil && limit == nil:
		return sdktrace.AlwaysSample()
	case ratio == nil:
		return limit
	case limit == nil:
		return ratio
	}
	return both{ratio, limit}
}

// both samples what its first sampler and then its second both sample.
type both struct{ first, second sdktrace.Sampler }

// ShouldSample implements sdktrace.Sampler.
func (b both) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if r := b.first.ShouldSample(p); r.Decision != sdktrace.RecordAndSample {
		return r
	}
	return b.second.ShouldSample(p)
}

// Description implements sdktrace.Sampler.
func (b both) Description() string {
	return "Both{" + b.first.Description() + "," + b.second.Description() + "}"
}
