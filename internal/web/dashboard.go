// Package web is hearth's dashboard: a page served at / with its assets
// embedded in the binary, and the JSON endpoints under /v1/dashboard that
// the page polls.
//
// The Dashboard is a telemetry.Recorder: the dispatcher reports every
// finished invocation to it, and it keeps per-function rolling windows
// (rate, errors, latency percentiles and histogram, cold starts) in memory.
// It samples the instance pools on a timer for the pools-over-time view.
// Workflows, traces and the dead-letter queue are read through optional
// sources the node may pass in; without them the page says so.
package web

import (
	"context"
	"sync"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/telemetry"
)

// FunctionLister lists the deployed functions, so that the dashboard shows
// functions that have not been invoked yet. *node.Node implements it.
type FunctionLister interface {
	List(ctx context.Context) ([]registry.Function, error)
}

// Options configure a Dashboard. Only Clock has no default worth having;
// nil means the wall clock.
type Options struct {
	Clock clock.Clock
	// Functions lists the deployed functions (nil: only those seen invoked).
	Functions FunctionLister
	// Pools reports the live pool sizes (nil: no pool view). It is called
	// from the sampling timer and on requests, never from Record.
	Pools func() []telemetry.PoolGauge
	// Window is the span of the rolling windows behind rates, error rates,
	// percentiles and the histogram; default one minute.
	Window time.Duration
	// Slots is how many slices the window is kept in (its resolution);
	// default 60.
	Slots int
	// ColdStarts is how many recent cold starts each function keeps for the
	// waterfall; default 20.
	ColdStarts int
	// PoolEvery is the pool sampling period (default 5s); PoolHistory how
	// long samples are kept (default 10 minutes).
	PoolEvery   time.Duration
	PoolHistory time.Duration
	// PollEvery is how often the page refreshes its data; default 2s.
	PollEvery time.Duration
	// Workflows, Traces and DeadLetters feed the views of the same names;
	// any of them may be nil.
	Workflows   WorkflowSource
	Traces      TraceSource
	DeadLetters DeadLetterSource
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.Slots <= 0 {
		o.Slots = 60
	}
	if o.ColdStarts <= 0 {
		o.ColdStarts = 20
	}
	if o.PoolEvery <= 0 {
		o.PoolEvery = 5 * time.Second
	}
	if o.PoolHistory <= 0 {
		o.PoolHistory = 10 * time.Minute
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 2 * time.Second
	}
	return o
}

// Dashboard keeps the live views and serves the page.
//
// # Notes
//
// Record is safe for concurrent use and cheap: a read-locked map lookup and
// a per-function mutex held for a few counter updates. Close stops the pool
// sampler; the Dashboard must not be used after it.
type Dashboard struct {
	opts    Options
	started time.Time

	mu  sync.RWMutex
	fns map[string]*window // by function name; entries are never removed while in use

	pools *poolSampler
}

// New returns a Dashboard and starts sampling pools when opts.Pools is set.
func New(opts Options) *Dashboard {
	opts = opts.withDefaults()
	d := &Dashboard{opts: opts, started: opts.Clock.Now(), fns: map[string]*window{}}
	d.pools = newPoolSampler(opts.Clock, opts.Pools, opts.PoolEvery, opts.PoolHistory)
	return d
}

// Close stops the pool sampler.
func (d *Dashboard) Close() { d.pools.stop() }

// Record implements telemetry.Recorder.
func (d *Dashboard) Record(inv telemetry.Invocation) {
	r := recordable{at: inv.Time, version: inv.Version, duration: inv.Duration,
		failed: inv.Outcome != "success", cold: inv.Cold}
	if r.at.IsZero() {
		r.at = d.opts.Clock.Now()
	}
	if inv.Cold {
		r.coldStart = newColdStart(inv, r.at)
	}
	d.window(inv.Function).record(r)
}

// window returns the function's window, making it on first use.
func (d *Dashboard) window(fn string) *window {
	d.mu.RLock()
	w := d.fns[fn]
	d.mu.RUnlock()
	if w != nil {
		return w
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if w = d.fns[fn]; w == nil {
		w = newWindow(d.opts.Window/time.Duration(d.opts.Slots), d.opts.Slots, d.opts.ColdStarts)
		d.fns[fn] = w
	}
	return w
}

// lookup returns the function's window, or nil when it was never invoked.
func (d *Dashboard) lookup(fn string) *window {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.fns[fn]
}

// Phases is the order of a cold start's phases, as in Server-Timing. The
// fourth is reported as PhaseRestore instead of "init" when the instance was
// restored from a snapshot rather than initialised.
var Phases = [...]string{"provision", "runtime", "code", "init", "handler"}

// PhaseRestore names the init phase of a cold start that restored a
// snapshot (the dispatcher's name for it).
const PhaseRestore = "restore"

// ColdStart is one cold start, its phases in order.
type ColdStart struct {
	Time      time.Time `json:"time"`
	Version   int64     `json:"version"`
	RequestID string    `json:"request_id"`
	TraceID   string    `json:"trace_id,omitempty"`
	Outcome   string    `json:"outcome"`
	Phases    []Phase   `json:"phases"`
	TotalMS   float64   `json:"total_ms"`
}

// Phase is one phase of a cold start; it starts where the previous ended.
type Phase struct {
	Name    string  `json:"name"`
	StartMS float64 `json:"start_ms"`
	MS      float64 `json:"ms"`
}

func newColdStart(inv telemetry.Invocation, at time.Time) ColdStart {
	c := ColdStart{Time: at, Version: inv.Version, RequestID: inv.RequestID, TraceID: inv.TraceID,
		Outcome: inv.Outcome, Phases: make([]Phase, 0, len(Phases))}
	var start time.Duration
	for _, name := range Phases {
		d, ok := inv.Phases[name]
		if name == "init" && !ok {
			// A restored instance ran no init: its fourth phase is the
			// restore, which must keep its own name and time (else the
			// waterfall would show a zero init and lose the restore).
			if r, restored := inv.Phases[PhaseRestore]; restored {
				name, d = PhaseRestore, r
			}
		}
		c.Phases = append(c.Phases, Phase{Name: name, StartMS: ms(start), MS: ms(d)})
		start += d
	}
	c.TotalMS = ms(start)
	return c
}

// Totals count invocations since the dashboard started.
type Totals struct {
	Invocations int64 `json:"invocations"`
	Errors      int64 `json:"errors"`
	Cold        int64 `json:"cold"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
