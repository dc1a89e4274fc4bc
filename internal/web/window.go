package web

import (
	"sync"
	"time"
)

// latencyBounds are the upper bounds of the latency histogram's buckets:
// powers of two from 10µs to about 84s, then an overflow bucket. Factor-two
// buckets keep every function's window small (a fixed array per slot) at
// the price of percentiles known to within their bucket, as with
// Prometheus' histogram_quantile.
var latencyBounds = func() [24]time.Duration {
	var b [24]time.Duration
	d := 10 * time.Microsecond
	for i := range b {
		b[i] = d
		d *= 2
	}
	return b
}()

const numLatencyBuckets = len(latencyBounds) + 1 // the last one is the overflow

// slot is one slice of a function's rolling window.
type slot struct {
	index           int64 // which slice of time (time / slot width) it counts; stale when behind
	n, errors, cold int64
	latency         [numLatencyBuckets]int64
}

// window is one function's rolling window of invocations, its recent cold
// starts and its totals since the dashboard started.
//
// It is guarded by its own mutex, held for a few field updates per
// invocation, so that functions never contend with each other.
type window struct {
	mu       sync.Mutex
	width    time.Duration // of one slot
	slots    []slot        // a ring indexed by slot index modulo its length
	colds    []ColdStart   // a ring of the most recent cold starts
	nextCold int           // where the next cold start goes in colds
	version  int64
	lastSeen time.Time
	total    Totals
}

func newWindow(width time.Duration, slots, keepColds int) *window {
	return &window{width: width, slots: make([]slot, slots), colds: make([]ColdStart, 0, keepColds)}
}

// bucketOf returns the latency bucket that d falls in.
func bucketOf(d time.Duration) int {
	// A linear scan of 24 bounds is as quick as a search here and branch-friendly.
	for i, b := range latencyBounds {
		if d <= b {
			return i
		}
	}
	return len(latencyBounds)
}

func (w *window) record(inv recordable) {
	idx := inv.at.UnixNano() / int64(w.width)
	b := bucketOf(inv.duration)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total.Invocations++
	if inv.failed {
		w.total.Errors++
	}
	if inv.cold {
		w.total.Cold++
		w.pushCold(inv.coldStart)
	}
	w.version = max(w.version, inv.version)
	if inv.at.After(w.lastSeen) {
		w.lastSeen = inv.at
	}
	s := &w.slots[int(idx%int64(len(w.slots)))]
	if s.index != idx {
		if idx < s.index {
			return // a lap behind the ring: older than the whole window
		}
		*s = slot{index: idx}
	}
	s.n++
	s.latency[b]++
	if inv.failed {
		s.errors++
	}
	if inv.cold {
		s.cold++
	}
}

func (w *window) pushCold(c ColdStart) {
	if cap(w.colds) == 0 {
		return
	}
	if len(w.colds) < cap(w.colds) {
		w.colds = append(w.colds, c)
		return
	}
	w.colds[w.nextCold] = c
	w.nextCold = (w.nextCold + 1) % len(w.colds)
}

// recordable is an invocation reduced to what a window keeps; it is built
// outside the window's lock.
type recordable struct {
	at        time.Time
	version   int64
	duration  time.Duration
	failed    bool
	cold      bool
	coldStart ColdStart
}

// snapshot sums the slots that lie within the window ending at now.
func (w *window) snapshot(now time.Time) (sum slot, version int64, lastSeen time.Time, total Totals) {
	cur := now.UnixNano() / int64(w.width)
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.slots {
		s := &w.slots[i]
		if s.n == 0 || s.index > cur || cur-s.index >= int64(len(w.slots)) {
			continue
		}
		sum.n += s.n
		sum.errors += s.errors
		sum.cold += s.cold
		for j, c := range s.latency {
			sum.latency[j] += c
		}
	}
	return sum, w.version, w.lastSeen, w.total
}

// coldStarts returns the kept cold starts, newest first.
func (w *window) coldStarts() []ColdStart {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]ColdStart, 0, len(w.colds))
	n := len(w.colds)
	for i := range n {
		// With a full ring, the newest entry is just before nextCold.
		j := (w.nextCold - 1 - i + 2*n) % n
		if n < cap(w.colds) {
			j = n - 1 - i
		}
		out = append(out, w.colds[j])
	}
	return out
}

// quantile estimates the q-quantile (0 < q <= 1) of the latencies counted
// in hist, interpolating linearly inside the bucket it falls in. It reports
// false when hist is empty.
func quantile(hist [numLatencyBuckets]int64, q float64) (time.Duration, bool) {
	var n int64
	for _, c := range hist {
		n += c
	}
	if n == 0 {
		return 0, false
	}
	target := q * float64(n)
	var cum float64
	for i, c := range hist {
		if c == 0 {
			continue
		}
		if cum+float64(c) >= target {
			if i == len(latencyBounds) {
				return latencyBounds[len(latencyBounds)-1], true // overflow: all we know is "more than"
			}
			lower := time.Duration(0)
			if i > 0 {
				lower = latencyBounds[i-1]
			}
			frac := (target - cum) / float64(c)
			return lower + time.Duration(frac*float64(latencyBounds[i]-lower)), true
		}
		cum += float64(c)
	}
	return latencyBounds[len(latencyBounds)-1], true
}
