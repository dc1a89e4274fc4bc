package policy

import (
	"sort"
	"time"
)

// Forecast predicts, per function, when the next invocation will come and how
// many instances it will need, and buys warm capacity only where it pays.
//
// It goes beyond the hybrid histogram policy (see Histogram) in these ways:
//
//   - Cost-optimal windows. Instead of fixed head/tail percentiles, it
//     chooses the pre-warm time a and the release time b that minimise, over
//     the recent idle times g, the expected cold starts (g < a or g > b) plus
//     the idle memory the window costs (an instance of the function's size
//     held from a until the arrival, or until b), with one exchange rate:
//     ColdCost GB-seconds of idle memory are worth one cold start. Large
//     functions therefore get tighter windows than small ones, and a function
//     whose idle times are spread thinly gets no window at all rather than a
//     long, mostly wasted one.
//   - Conditional re-planning. When a window closes with no invocation, it
//     plans again from the idle times longer than the time already waited.
//     Idle times often come in several modes (a timer every 5 minutes that
//     sometimes skips, a job every hour with short bursts in between); the
//     histogram policy covers them with one long window, this covers each.
//   - Break-even keep-alive where idle times say nothing: instances kept for
//     concurrency, and functions with too few idle times yet, are kept for
//     ColdCost / memory (the ski-rental rule), so a 2 GB instance is kept a
//     quarter as long as a 512 MB one.
//   - Concurrency forecasting. It records the peak concurrency of every
//     minute and finds the period with which it repeats (timer fan-outs
//     every 2, 5, 15, 60 minutes); before a minute that one or two periods
//     ago needed n instances, it starts n. When it pre-warms after an idle
//     period it starts as many instances as recent bursts needed at their
//     start (or the period predicts), and keeps them through the burst.
//   - Fairness. A cold start in a function called a few times a day weighs
//     more than one in a function called a million times (see Fairness).
//
// Periodic single invocations show up as idle times that cluster tightly,
// which the optimiser covers with a narrow window just before the next tick;
// diurnal and other slow cycles show up in the recent idle times it keeps
// (the newest Samples), so the windows follow the cycle. A daily cycle of
// concurrency is not forecast from yesterday: with the one-day traces hearth
// is tuned on there is no yesterday to learn from, and the hourly periods
// are where the trace's predictable bursts are.
type Forecast struct {
	cfg   ForecastConfig
	memGB float64
	clock idleClock

	gaps []float64 // recent idle times in seconds, oldest first
	// sorted is gaps in order; rebuilt lazily when dirty.
	sorted []float64
	dirty  bool
	// plan is the cached unconditional plan, computed at planAt. Busy
	// functions go idle many times a minute; re-planning at most once a
	// minute keeps Decide cheap without changing what it decides much.
	plan    window
	planAt  time.Time
	planned bool

	season season // per-minute peak concurrency and its period

	seen  int       // invocations observed
	first time.Time // when the first was

	burstStart time.Time
	burstPeak  int
	inBurst    bool
	burstPeaks []int // peak concurrency in the first minute of recent bursts
}

// ForecastConfig tunes a Forecast; zero fields take the defaults shown.
type ForecastConfig struct {
	// ColdCost is how many GB-seconds of idle memory avoiding one cold start
	// is worth (850). Higher keeps more warm. The default was chosen on the
	// first half of the Azure sample only (learn on hours 0-6, measure hours
	// 6-12): the value with the fewest cold starts at no more idle memory
	// than either fixed10m or histogram there. Results are reported on the
	// second half (see docs/policy.md).
	ColdCost float64
	// Samples is how many recent idle times are kept (128).
	Samples int
	// PeakWindow is how recently a function must have run invocations side
	// by side to be treated as concurrent (10 minutes).
	PeakWindow time.Duration
	// MinSamples is how many idle times are needed before they are used
	// (5); until then the break-even keep-alive applies.
	MinSamples int
	// MaxKeepAlive bounds the break-even keep-alive (4 hours).
	MaxKeepAlive time.Duration
	// MinPreWarm is the shortest delay before a pre-warm (1 minute): a
	// pre-warm is a real start-up, which costs work the idle-memory model
	// does not count, so an instance needed again sooner is kept instead.
	MinPreWarm time.Duration
	// Fairness raises the cost of a cold start in rarely invoked
	// functions: a cold start counts 1 + Fairness/n times ColdCost, where n
	// is the function's invocations per day (1000, chosen like ColdCost).
	// A function called five times a day has each of its callers'
	// experiences hurt by one cold start in five; without this weight those
	// functions would never be worth keeping warm, and most functions are
	// such functions. A negative value turns the weighting off.
	Fairness float64
	// Lead is how early a pre-warm starts before the earliest arrival it is
	// meant for, and how long after the latest one it is kept (2 seconds; 2%
	// of the idle time is added to it), so that a real start-up has finished
	// in time and a late arrival still finds the instance.
	Lead time.Duration
}

func (c ForecastConfig) withDefaults() ForecastConfig {
	if c.ColdCost <= 0 {
		c.ColdCost = 850
	}
	if c.Samples <= 0 {
		c.Samples = 128
	}
	if c.PeakWindow <= 0 {
		c.PeakWindow = 10 * time.Minute
	}
	if c.MinSamples <= 0 {
		c.MinSamples = 5
	}
	if c.MinPreWarm <= 0 {
		c.MinPreWarm = time.Minute
	}
	if c.Fairness == 0 {
		c.Fairness = 1000
	}
	if c.MaxKeepAlive <= 0 {
		c.MaxKeepAlive = 4 * time.Hour
	}
	if c.Lead <= 0 {
		c.Lead = 2 * time.Second
	}
	return c
}

// window is a planned warm window in seconds of idle time: warm from a to b.
type window struct {
	a, b float64
	ok   bool
}

// burstSpan is how long after a burst's first arrival its concurrency counts
// as the burst's start.
const burstSpan = time.Minute

// NewForecast returns a forecasting policy for fn.
func NewForecast(fn Function, cfg ForecastConfig) *Forecast {
	mem := fn.MemoryMB
	if mem <= 0 {
		mem = DefaultMemoryMB
	}
	return &Forecast{cfg: cfg.withDefaults(), memGB: mem / 1024}
}

// Observe records the idle time before inv and its concurrency.
func (f *Forecast) Observe(inv Invocation) {
	conc := max(inv.Concurrent, 1)
	if f.seen == 0 {
		f.first = inv.Start
	}
	f.seen++
	if gap, ok := f.clock.arrive(inv); ok {
		f.gaps = append(f.gaps, gap.Seconds())
		if len(f.gaps) > f.cfg.Samples {
			f.gaps = f.gaps[1:]
		}
		f.dirty = true
		f.closeBurst()
		f.inBurst, f.burstStart, f.burstPeak = true, inv.Start, 0
	}
	if f.inBurst {
		if inv.Start.Sub(f.burstStart) < burstSpan {
			f.burstPeak = max(f.burstPeak, conc)
		} else {
			f.closeBurst()
		}
	}
	f.season.observe(inv.Start, conc)
}

func (f *Forecast) closeBurst() {
	if !f.inBurst {
		return
	}
	f.inBurst = false
	f.burstPeaks = append(f.burstPeaks, f.burstPeak)
	if len(f.burstPeaks) > 3 {
		f.burstPeaks = f.burstPeaks[1:]
	}
}

// Decide plans the next warm window. See Forecast for how.
func (f *Forecast) Decide(now time.Time, s State) Decision {
	f.clock.decide(now, s)
	f.season.refresh(now)
	breakEven := f.breakEven(now)
	concurrent := f.peak(now) > 1
	// need is what the coming minute is predicted to need by the function's
	// period; the pool starts the instances it lacks now.
	need := f.season.need(now)
	if s.Busy > 0 {
		return Decision{KeepAlive: breakEven, Warm: need}
	}
	if len(f.gaps) < f.cfg.MinSamples {
		// Too few idle times to plan with: fall back to break-even.
		if s.Expired {
			return Decision{}
		}
		return Decision{KeepAlive: breakEven}
	}
	if s.Expired {
		waited := f.clock.elapsed(now).Seconds()
		w := f.best(waited, f.coldCost(now))
		if !w.ok {
			return Decision{}
		}
		// A window that would start now means keeping what was just
		// released; restart it a moment later instead (rare: the previous
		// plan would normally have covered it).
		a := max(w.a, waited+1)
		return f.prewarm(now, a-waited, max(w.b-a, 1))
	}
	if !f.planned || (f.dirty && now.Sub(f.planAt) >= time.Minute) {
		f.plan = f.best(0, f.coldCost(now))
		f.dirty = false
		f.planAt, f.planned = now, true
	}
	w := f.plan
	switch {
	case concurrent && (!w.ok || w.a <= 0):
		// The instance that just went idle is covered by the plan, but the
		// others exist for concurrency, which the function's idle times say
		// nothing about: keep them by the break-even rule.
		return Decision{KeepAlive: max(seconds(w.b), breakEven), Warm: need}
	case !w.ok:
		return Decision{}
	case w.a <= 0:
		return Decision{KeepAlive: seconds(w.b), Warm: need}
	default:
		return f.prewarm(now, w.a, w.b-w.a)
	}
}

// prewarm plans a pre-warm in delay seconds, for a window of length seconds.
// It starts as many instances as recent bursts needed at their start, or as
// the function's period predicts for then if more; a burst's arrivals spread
// over up to burstSpan, so its instances are kept that much longer.
func (f *Forecast) prewarm(now time.Time, delay, length float64) Decision {
	at := now.Add(seconds(delay))
	warm := max(f.burstNeed(), f.season.need(at))
	if warm > 1 {
		length += burstSpan.Seconds()
	}
	return Decision{PreWarm: seconds(delay), KeepAlive: seconds(length), Warm: warm}
}

// breakEven is the ski-rental keep-alive: holding an idle instance longer
// than ColdCost/memory costs more than the cold start it might save, so an
// instance that has waited that long is released. Without a forecast this
// rule never pays more than twice the best possible choice in hindsight.
func (f *Forecast) breakEven(now time.Time) time.Duration {
	return min(seconds(f.coldCost(now)/f.memGB), f.cfg.MaxKeepAlive)
}

// coldCost is what one cold start of this function is worth, in GB-seconds
// (see ForecastConfig.Fairness).
func (f *Forecast) coldCost(now time.Time) float64 {
	if f.seen == 0 || f.cfg.Fairness < 0 {
		return f.cfg.ColdCost
	}
	// Rate over the time observed, but at least an hour, so that the first
	// invocations of a new function do not look like a flood.
	span := max(now.Sub(f.first), time.Hour)
	perDay := float64(f.seen) * float64(24*time.Hour) / float64(span)
	return f.cfg.ColdCost * (1 + f.cfg.Fairness/perDay)
}

// peak is the highest concurrency seen in the last PeakWindow.
func (f *Forecast) peak(now time.Time) int {
	return max(1, f.season.recent(now.Add(-f.cfg.PeakWindow)))
}

// burstNeed is how many instances a pre-warm should start: the most that
// recent bursts needed in their first minute.
func (f *Forecast) burstNeed() int {
	n := 1
	for _, p := range f.burstPeaks {
		n = max(n, p)
	}
	return n
}

// best finds the cost-optimal window over the idle times longer than after
// (seconds already waited). The cost of a window [a, b] over idle times g is
//
//	#{g < a or g > b}  +  k · Σ idle(g),  idle(g) = 0 (g < a), g−a (a ≤ g ≤ b), b−a (g > b)
//
// with k = memory GB / ColdCost per second. The optimum has a just before
// some g_i (or a = after, keeping warm from now) and b just after some
// g_j ≥ g_i, so only those pairs are tried: O(n²) over n ≤ Samples.
func (f *Forecast) best(after, coldCost float64) window {
	if f.dirtySorted() {
		f.sorted = append(f.sorted[:0], f.gaps...)
		sort.Float64s(f.sorted)
	}
	i0 := sort.SearchFloat64s(f.sorted, after)
	for i0 < len(f.sorted) && f.sorted[i0] <= after {
		i0++
	}
	g := f.sorted[i0:]
	n := len(g)
	if n == 0 {
		return window{}
	}
	k := f.memGB / coldCost
	lead := f.cfg.Lead.Seconds()
	pad := func(x float64) float64 { return lead + 0.02*(x-after) }
	bestCost := float64(n) // no window: every arrival is cold
	var bestW window
	try := func(i int, a float64) {
		sum := 0.0 // Σ g over covered samples i..j
		for j := i; j < n; j++ {
			sum += g[j]
			b := g[j] + pad(g[j])
			covered := j - i + 1
			cost := float64(n-covered) + k*((sum-float64(covered)*a)+float64(n-1-j)*(b-a))
			if cost < bestCost {
				bestCost, bestW = cost, window{a: a, b: b, ok: true}
			}
		}
	}
	if after == 0 {
		try(0, 0) // keep warm from now
	}
	for i := range n {
		a := max(g[i]-pad(g[i]), after)
		if a-after < f.cfg.MinPreWarm.Seconds() && after == 0 {
			continue // kept from now instead (see MinPreWarm)
		}
		try(i, a)
	}
	return bestW
}

// dirtySorted reports whether sorted must be rebuilt from gaps.
func (f *Forecast) dirtySorted() bool { return len(f.sorted) != len(f.gaps) || f.dirty }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
