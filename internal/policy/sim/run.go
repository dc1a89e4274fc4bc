package sim

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/hearth-sh/hearth/internal/policy"
)

// Options control a replay.
type Options struct {
	// Train is the start of the trace that policies learn on but that is
	// not measured: results cover only [Train, end). Zero measures all.
	Train time.Duration
}

// Result is what one policy achieved on the measured part of a trace.
type Result struct {
	// Policy is the policy's name.
	Policy string
	// Invocations and Cold count the measured invocations and cold starts.
	Invocations, Cold int
	// ColdFirst, ColdIdle and ColdScale split Cold by cause: a function's
	// first invocation in the trace (no policy can avoid it), an arrival to
	// a function with no instance at all (its idle gap outlasted what the
	// policy kept or pre-warmed), and an arrival while every instance was
	// busy (a concurrency scale-up).
	ColdFirst, ColdIdle, ColdScale int
	// ColdPct is Cold as a percentage of Invocations.
	ColdPct float64
	// ColdPctP75Fn is the 75th percentile, across functions invoked in the
	// measured part, of each function's cold-start percentage (the figure
	// Shahrad et al. report).
	ColdPctP75Fn float64
	// WastedGBs is the memory-time of warm instances that were idle, in
	// GB-seconds.
	WastedGBs float64
	// PreWarms counts instances started ahead of traffic; PreWarmsUnused
	// those released without serving an invocation.
	PreWarms, PreWarmsUnused int
	// Functions counts the functions invoked in the measured part.
	Functions int
}

// Run replays tr against each policy and returns one Result per policy, in
// the order given.
func Run(tr *Trace, policies []policy.Named, opts Options) ([]Result, error) {
	if opts.Train < 0 || opts.Train >= tr.Length {
		return nil, fmt.Errorf("train part %v must be shorter than the trace (%v)", opts.Train, tr.Length)
	}
	// Policies are independent, so they run side by side; each fills its
	// own slot, which keeps the output order (and the numbers) fixed.
	out := make([]Result, len(policies))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, np := range policies {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			out[i] = runOne(tr, np, opts)
			<-sem
		}()
	}
	wg.Wait()
	return out, nil
}

func runOne(tr *Trace, np policy.Named, opts Options) Result {
	ts := make([]tally, len(tr.Functions))
	for i, f := range tr.Functions {
		pol := np.New(policy.Function{Name: f.Name, MemoryMB: f.MemoryMB})
		ts[i] = replay(f, pol, tr.Start, opts.Train, tr.Length)
	}
	return summarise(np.Name, ts)
}

// summarise adds up the functions' tallies into one Result.
func summarise(name string, ts []tally) Result {
	r := Result{Policy: name}
	var perFn []float64
	for _, t := range ts {
		r.Invocations += t.invocations
		r.Cold += t.cold
		r.ColdFirst += t.coldFirst
		r.ColdIdle += t.coldIdle
		r.ColdScale += t.coldScale
		r.WastedGBs += t.wastedGBs
		r.PreWarms += t.prewarms
		r.PreWarmsUnused += t.prewarmsUnused
		if t.invocations > 0 {
			perFn = append(perFn, 100*float64(t.cold)/float64(t.invocations))
		}
	}
	r.Functions = len(perFn)
	if r.Invocations > 0 {
		r.ColdPct = 100 * float64(r.Cold) / float64(r.Invocations)
	}
	r.ColdPctP75Fn = percentile(perFn, 75)
	return r
}

// percentile interpolates linearly between closest ranks.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	pos := p / 100 * float64(len(s)-1)
	lo := int(pos)
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	frac := pos - float64(lo)
	return s[lo] + frac*(s[lo+1]-s[lo])
}
