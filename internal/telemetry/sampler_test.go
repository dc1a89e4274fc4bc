package telemetry

import (
	"testing"
	"time"
)

func TestRateSampler(t *testing.T) {
	now := time.Unix(0, 0)
	s := newRateSampler(5, func() time.Time { return now })
	count := func(n int) (got int) {
		for range n {
			if s.take() {
				got++
			}
		}
		return got
	}
	tests := []struct {
		advance time.Duration
		tries   int
		want    int
	}{
		{0, 10, 5},                      // a full bucket: one second's worth
		{0, 10, 0},                      // empty until time passes
		{200 * time.Millisecond, 10, 1}, // refills at 5/s
		{10 * time.Second, 100, 5},      // never more than the burst
	}
	for i, tt := range tests {
		now = now.Add(tt.advance)
		if got := count(tt.tries); got != tt.want {
			t.Fatalf("step %d: %d sampled, want %d", i, got, tt.want)
		}
	}
}
