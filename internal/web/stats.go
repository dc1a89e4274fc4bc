package web

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// FunctionStats is one function's row of the functions table. Rates and
// percentages are over the rolling window; they are null when the window
// holds no invocation, so the page can say "no data" rather than 0.
type FunctionStats struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	// Deployed is false for a function seen invoked but no longer listed.
	Deployed bool `json:"deployed"`
	// Rate is invocations per second.
	Rate float64 `json:"rate"`
	// ErrorPct and ColdPct are the percentages of invocations in the
	// window that did not succeed, and that cold-started.
	ErrorPct *float64  `json:"error_pct"`
	ColdPct  *float64  `json:"cold_pct"`
	P50MS    *float64  `json:"p50_ms"`
	P99MS    *float64  `json:"p99_ms"`
	Window   Totals    `json:"window"`
	Total    Totals    `json:"total"`
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// HistogramBucket is one bar of the latency histogram: the invocations that
// took at most LeMS (and more than the previous bucket's bound). The last
// bucket has no bound (LeMS null).
type HistogramBucket struct {
	LeMS  *float64 `json:"le_ms"`
	Count int64    `json:"count"`
}

// FunctionDetail is the function page's data.
type FunctionDetail struct {
	FunctionStats
	Histogram  []HistogramBucket `json:"histogram"`
	ColdStarts []ColdStart       `json:"cold_starts"`
	Pool       []PoolSample      `json:"pool"`
}

// rateSpan is the time the rate is averaged over: the window, or the time
// since the dashboard started if that is shorter (never below one slot, so
// a first invocation does not read as a huge rate).
func (d *Dashboard) rateSpan(now time.Time) time.Duration {
	span := min(d.opts.Window, now.Sub(d.started))
	return max(span, d.opts.Window/time.Duration(d.opts.Slots))
}

func (d *Dashboard) stats(name string, w *window, now time.Time) (FunctionStats, slot) {
	fs := FunctionStats{Name: name}
	if w == nil {
		return fs, slot{}
	}
	sum, version, lastSeen, total := w.snapshot(now)
	fs.Version, fs.LastSeen, fs.Total = version, lastSeen, total
	fs.Window = Totals{Invocations: sum.n, Errors: sum.errors, Cold: sum.cold}
	fs.Rate = float64(sum.n) / d.rateSpan(now).Seconds()
	if sum.n > 0 {
		fs.ErrorPct = ptr(100 * float64(sum.errors) / float64(sum.n))
		fs.ColdPct = ptr(100 * float64(sum.cold) / float64(sum.n))
	}
	if p, ok := quantile(sum.latency, 0.5); ok {
		fs.P50MS = ptr(ms(p))
	}
	if p, ok := quantile(sum.latency, 0.99); ok {
		fs.P99MS = ptr(ms(p))
	}
	return fs, sum
}

// Functions returns every deployed or recently invoked function's stats,
// by name. An error listing the deployed functions is returned along with
// the stats of the invoked ones.
func (d *Dashboard) Functions(ctx context.Context) ([]FunctionStats, error) {
	now := d.opts.Clock.Now()
	deployed := map[string]int64{}
	var listErr error
	if d.opts.Functions != nil {
		fns, err := d.opts.Functions.List(ctx)
		if err != nil {
			listErr = fmt.Errorf("list functions: %w", err)
			fns = nil
		}
		for _, fn := range fns {
			deployed[fn.Name] = fn.Version
		}
	}
	// Without a list to go by (none given, or it failed), every invoked
	// function is shown; with one, a function not on it is gone.
	listed := d.opts.Functions != nil && listErr == nil
	d.mu.RLock()
	windows := make(map[string]*window, len(d.fns))
	for name, w := range d.fns {
		windows[name] = w
	}
	d.mu.RUnlock()

	out := make([]FunctionStats, 0, max(len(deployed), len(windows)))
	for name, w := range windows {
		fs, _ := d.stats(name, w, now)
		v, ok := deployed[name]
		fs.Deployed = ok || !listed // unknown is shown as deployed: nothing says it is gone
		if ok {
			fs.Version = v
		} else if listed && fs.Window.Invocations == 0 {
			continue // deleted, and quiet for a whole window
		}
		out = append(out, fs)
	}
	for name, v := range deployed {
		if windows[name] == nil {
			out = append(out, FunctionStats{Name: name, Version: v, Deployed: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, listErr
}

// Function returns the function page's data; ok is false when the function
// is neither deployed nor was invoked.
func (d *Dashboard) Function(ctx context.Context, name string) (FunctionDetail, bool, error) {
	now := d.opts.Clock.Now()
	w := d.lookup(name)
	fs, sum := d.stats(name, w, now)
	if d.opts.Functions != nil {
		fns, err := d.opts.Functions.List(ctx)
		if err != nil {
			return FunctionDetail{}, false, fmt.Errorf("list functions: %w", err)
		}
		for _, fn := range fns {
			if fn.Name == name {
				fs.Deployed, fs.Version = true, fn.Version
			}
		}
	}
	if w == nil && !fs.Deployed {
		return FunctionDetail{}, false, nil
	}
	fd := FunctionDetail{FunctionStats: fs, Histogram: make([]HistogramBucket, 0, numLatencyBuckets),
		ColdStarts: []ColdStart{}, Pool: []PoolSample{}}
	for i, c := range sum.latency {
		b := HistogramBucket{Count: c}
		if i < len(latencyBounds) {
			b.LeMS = ptr(ms(latencyBounds[i]))
		}
		fd.Histogram = append(fd.Histogram, b)
	}
	if w != nil {
		fd.ColdStarts = w.coldStarts()
	}
	if series := d.pools.series(name); len(series) == 1 {
		fd.Pool = series[0].Samples
	}
	return fd, true, nil
}

func ptr(f float64) *float64 { return &f }
