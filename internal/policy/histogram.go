package policy

import (
	"math"
	"time"
)

// Histogram is the hybrid histogram policy of Shahrad et al., "Serverless in
// the Wild: Characterizing and Optimizing the Serverless Workload at a Large
// Cloud Provider", USENIX ATC 2020 (section 4.2), implemented from the paper's
// description:
//
//   - Per function it keeps a histogram of idle times (ITs) with 1-minute bins
//     over a 4-hour range, plus a count of the idle times beyond the range
//     (out of bounds, OOB).
//   - If the histogram is representative (its bin counts have a coefficient of
//     variation of at least 2: the idle times concentrate in a few bins), then
//     after an execution the instance is unloaded and re-loaded (pre-warmed)
//     at the head of the distribution, the 5th percentile minus a 10% margin,
//     and kept until the tail, the 99th percentile plus a 10% margin. When the
//     head is in the first bin the instance is simply kept alive until the
//     tail.
//   - If most idle times are out of bounds, a time-series forecast predicts
//     the next idle time and the window is placed around it with a 15% margin
//     on each side. The paper fits ARIMA; here the forecast is simple
//     exponential smoothing, which is exactly the forecast function of
//     ARIMA(0,1,1). A function with many idle times above 4 hours produces
//     only a handful a day, far too few to fit higher-order models reliably,
//     and smoothing needs no fitting step inside a hot path.
//   - Otherwise (too little data, or a flat histogram) it falls back to a fixed
//     keep-alive, as the paper does, with the histogram's range as the TTL.
//
// It pre-warms one instance, as in the paper, where an application is either
// loaded or not. The paper models no concurrency: its windows govern whether
// the application is loaded at all. Here a function may run many instances
// side by side, and the extra ones (an instance that turns idle while others
// still run) are kept for ScaleOut, the platform's standard keep-alive, like
// the fixed baseline keeps them; applying the application's window to each of
// them (up to the 4-hour fallback for every instance of a function that is
// never idle long enough to fill its histogram) would charge the policy for
// capacity the paper never holds.
type Histogram struct {
	cfg    HistogramConfig
	clock  idleClock
	bins   []int
	inside int // idle times within the range
	oob    int // idle times beyond the range
	// smoothed is the exponentially smoothed idle time; valid once seeded.
	smoothed time.Duration
	seeded   bool
	// resume is when the application's keep-alive window ends, while its
	// scale-out instances are kept for ScaleOut first (see Decide).
	resume time.Time
}

// HistogramConfig tunes a Histogram; zero fields take the paper's values.
type HistogramConfig struct {
	// Bin is the histogram bin width (1 minute).
	Bin time.Duration
	// Range is the histogram range (4 hours).
	Range time.Duration
	// Head and Tail are the percentiles that bound the window (5 and 99).
	Head, Tail float64
	// Margin widens the window on both sides, as a fraction (0.10).
	Margin float64
	// MinCV is the coefficient of variation of the bin counts above which the
	// histogram is representative (2).
	MinCV float64
	// MinSamples is how many idle times the histogram needs before it is
	// trusted at all (5; the paper names no number, but a percentile of one
	// or two values says nothing).
	MinSamples int
	// OOBShare is the share of out-of-bounds idle times above which the
	// time-series forecast takes over (0.5).
	OOBShare float64
	// ForecastMargin is the margin around a forecast idle time (0.15).
	ForecastMargin float64
	// Smoothing is the weight of the newest idle time in the forecast (0.5).
	Smoothing float64
	// Fallback is the keep-alive used when the histogram is not
	// representative (Range).
	Fallback time.Duration
	// ScaleOut is the keep-alive of an instance that turns idle while other
	// invocations still run (10 minutes, the fixed baseline's).
	ScaleOut time.Duration
}

func (c HistogramConfig) withDefaults() HistogramConfig {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Bin <= 0 {
		c.Bin = time.Minute
	}
	if c.Range <= 0 {
		c.Range = 4 * time.Hour
	}
	def(&c.Head, 5)
	def(&c.Tail, 99)
	def(&c.Margin, 0.10)
	def(&c.MinCV, 2)
	def(&c.OOBShare, 0.5)
	def(&c.ForecastMargin, 0.15)
	def(&c.Smoothing, 0.5)
	if c.MinSamples <= 0 {
		c.MinSamples = 5
	}
	if c.Fallback <= 0 {
		c.Fallback = c.Range
	}
	if c.ScaleOut <= 0 {
		c.ScaleOut = 10 * time.Minute
	}
	return c
}

// restartDelay is how long after releasing its scale-out instances the
// histogram policy starts the one it keeps for the application's window.
const restartDelay = time.Second

// NewHistogram returns a hybrid histogram policy.
func NewHistogram(cfg HistogramConfig) *Histogram {
	cfg = cfg.withDefaults()
	n := int((cfg.Range + cfg.Bin - 1) / cfg.Bin)
	return &Histogram{cfg: cfg, bins: make([]int, n)}
}

// Observe records the idle time before inv, if there was one.
func (h *Histogram) Observe(inv Invocation) {
	gap, ok := h.clock.arrive(inv)
	if !ok {
		return
	}
	if gap >= h.cfg.Range {
		h.oob++
	} else {
		h.bins[int(gap/h.cfg.Bin)]++
		h.inside++
	}
	if !h.seeded {
		h.smoothed, h.seeded = gap, true
	} else {
		a := h.cfg.Smoothing
		h.smoothed = time.Duration(a*float64(gap) + (1-a)*float64(h.smoothed))
	}
}

// Decide returns the paper's pre-warm and keep-alive windows. While other
// invocations still run, the instance that turned idle is a scale-out one and
// is kept for ScaleOut (or until the window's end, if that is sooner); the
// application's decision (possibly unloading and pre-warming) is taken when
// the last one completes. Like the paper, it decides nothing when a window
// ends.
//
// When the last invocation completes with several instances idle and the
// window keeps them longer than ScaleOut, all are kept for ScaleOut and, when
// that ends, all are released and one is started again a second later for
// the rest of the window: the interface has no "keep one of these", and the
// memory-time is that of keeping one throughout. (A pre-warm, rather than a
// keep-alive with Warm 1, because a pre-warm releases the others for sure.)
func (h *Histogram) Decide(now time.Time, s State) Decision {
	h.clock.decide(now, s)
	if s.Expired {
		end := h.resume
		h.resume = time.Time{}
		if !end.After(now) || s.Busy > 0 {
			return Decision{}
		}
		if end.Sub(now) <= restartDelay {
			return Decision{}
		}
		return Decision{PreWarm: restartDelay, KeepAlive: end.Sub(now) - restartDelay, Warm: 1}
	}
	h.resume = time.Time{}
	d := h.window()
	if s.Busy > 0 {
		return Decision{KeepAlive: min(h.cfg.ScaleOut, d.PreWarm+d.KeepAlive)}
	}
	if d.PreWarm == 0 && s.Idle > 1 && d.KeepAlive > h.cfg.ScaleOut {
		h.resume = now.Add(d.KeepAlive)
		return Decision{KeepAlive: h.cfg.ScaleOut}
	}
	return d
}

// window computes the decision for an idle function from what it has seen.
func (h *Histogram) window() Decision {
	total := h.inside + h.oob
	if total < h.cfg.MinSamples {
		return Decision{KeepAlive: h.cfg.Fallback}
	}
	if float64(h.oob) > h.cfg.OOBShare*float64(total) {
		m := h.cfg.ForecastMargin
		pre := time.Duration(float64(h.smoothed) * (1 - m))
		end := time.Duration(float64(h.smoothed) * (1 + m))
		return Decision{PreWarm: pre, KeepAlive: end - pre, Warm: 1}
	}
	if h.inside < h.cfg.MinSamples || h.cv() < h.cfg.MinCV {
		return Decision{KeepAlive: h.cfg.Fallback}
	}
	head := time.Duration(h.percentileBin(h.cfg.Head)) * h.cfg.Bin
	tail := time.Duration(h.percentileBin(h.cfg.Tail)+1) * h.cfg.Bin
	pre := time.Duration(float64(head) * (1 - h.cfg.Margin)).Truncate(h.cfg.Bin)
	end := time.Duration(float64(tail) * (1 + h.cfg.Margin))
	if pre <= 0 {
		return Decision{KeepAlive: end}
	}
	return Decision{PreWarm: pre, KeepAlive: end - pre, Warm: 1}
}

// percentileBin returns the index of the bin holding the p-th percentile of
// the in-range idle times.
func (h *Histogram) percentileBin(p float64) int {
	want := int(math.Ceil(p / 100 * float64(h.inside)))
	if want < 1 {
		want = 1
	}
	cum := 0
	for i, c := range h.bins {
		cum += c
		if cum >= want {
			return i
		}
	}
	return len(h.bins) - 1
}

// cv is the coefficient of variation of the bin counts: high when idle times
// concentrate in a few bins (predictable), near zero when they spread evenly.
func (h *Histogram) cv() float64 {
	n := float64(len(h.bins))
	mean := float64(h.inside) / n
	if mean == 0 {
		return 0
	}
	var ss float64
	for _, c := range h.bins {
		d := float64(c) - mean
		ss += d * d
	}
	return math.Sqrt(ss/n) / mean
}
