package web

import (
	"testing"
	"time"
)

func TestBucketOf(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{10 * time.Microsecond, 0},
		{11 * time.Microsecond, 1},
		{20 * time.Microsecond, 1},
		{time.Millisecond, 7}, // 10µs·2^7 = 1.28ms
		{latencyBounds[len(latencyBounds)-1], len(latencyBounds) - 1},
		{time.Hour, len(latencyBounds)},
	}
	for _, tt := range tests {
		if got := bucketOf(tt.d); got != tt.want {
			t.Errorf("bucketOf(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	hist := func(counts map[int]int64) [numLatencyBuckets]int64 {
		var h [numLatencyBuckets]int64
		for i, c := range counts {
			h[i] = c
		}
		return h
	}
	tests := []struct {
		name   string
		hist   [numLatencyBuckets]int64
		q      float64
		want   time.Duration
		wantOK bool
	}{
		{"empty", hist(nil), 0.5, 0, false},
		{"one bucket, median interpolates to its middle", hist(map[int]int64{1: 2}), 0.5, 15 * time.Microsecond, true},
		{"one bucket, p99 near its top", hist(map[int]int64{1: 100}), 0.99, 19900 * time.Nanosecond, true},
		{"first bucket starts at zero", hist(map[int]int64{0: 4}), 0.5, 5 * time.Microsecond, true},
		{"median in the lower of two buckets", hist(map[int]int64{0: 3, 5: 1}), 0.5, 6666 * time.Nanosecond, true},
		{"p99 in the upper of two buckets", hist(map[int]int64{0: 3, 5: 1}), 0.99, 313600 * time.Nanosecond, true},
		{"overflow reports the last bound", hist(map[int]int64{len(latencyBounds): 1}), 0.5, latencyBounds[len(latencyBounds)-1], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := quantile(tt.hist, tt.q)
			if ok != tt.wantOK || absDiff(got, tt.want) > 10*time.Nanosecond {
				t.Fatalf("quantile = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}

func TestColdStartRingKeepsTheNewest(t *testing.T) {
	w := newWindow(time.Second, 60, 3)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		w.record(recordable{at: start.Add(time.Duration(i) * time.Millisecond), cold: true,
			coldStart: ColdStart{RequestID: string(rune('a' + i))}})
	}
	var got string
	for _, c := range w.coldStarts() {
		got += c.RequestID
	}
	if got != "edc" {
		t.Fatalf("cold starts newest first = %q, want %q", got, "edc")
	}
}

func TestWindowDropsReportsOlderThanItself(t *testing.T) {
	w := newWindow(time.Second, 10, 1)
	now := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	w.record(recordable{at: now})
	w.record(recordable{at: now.Add(-10 * time.Second)}) // same slot of the ring, a lap behind
	sum, _, _, total := w.snapshot(now)
	if sum.n != 1 {
		t.Fatalf("window counts %d invocations, want 1: a report a whole window late must not reset the slot", sum.n)
	}
	if total.Invocations != 2 {
		t.Fatalf("totals count %d, want 2", total.Invocations)
	}
}
