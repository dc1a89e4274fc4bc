package sim

import (
	"container/heap"
	"math"
	"time"

	"github.com/hearth-sh/hearth/internal/policy"
)

// instance is one simulated execution environment. Times are seconds from
// the trace start.
type instance struct {
	busy      bool
	lastUse   float64 // when it last turned idle (or was pre-warmed)
	expires   float64 // when an idle instance is released
	prewarmAt float64
	prewarmed bool // started by a pre-warm...
	used      bool // ...and served an invocation since
}

// completions orders busy instances by the time their invocation ends.
type completions []completion

type completion struct {
	at   float64
	inst *instance
}

func (c completions) Len() int           { return len(c) }
func (c completions) Less(i, j int) bool { return c[i].at < c[j].at }
func (c completions) Swap(i, j int)      { c[i], c[j] = c[j], c[i] }
func (c *completions) Push(x any)        { *c = append(*c, x.(completion)) }
func (c *completions) Pop() any {
	old := *c
	x := old[len(old)-1]
	*c = old[:len(old)-1]
	return x
}

// tally is what one function's replay measured on the test part.
type tally struct {
	invocations, cold int
	// The cold starts by cause: the function's first invocation ever, an
	// arrival to a pool with no instance at all (after an idle gap), and an
	// arrival while every instance was busy (a concurrency scale-up).
	coldFirst, coldIdle, coldScale int
	wastedGBs                      float64
	prewarms, prewarmsUnused       int
}

// pool replays one function against one policy. It applies decisions exactly
// as policy.Decision documents, which is what a live pool must do too.
type pool struct {
	pol   policy.Policy
	start time.Time
	memGB float64
	train float64 // seconds; nothing before it is counted
	end   float64 // seconds; the trace end

	idle []*instance // warm, not busy; order irrelevant
	run  completions

	prewarmAt float64 // pending pre-warm, +Inf if none
	warm      int     // instances the pending pre-warm tops up to
	keepAlive float64 // keep-alive of the current decision
	windowEnd float64 // +Inf if the decision has no window
	seen      bool    // an invocation has arrived before
	t         tally
}

func (p *pool) at(s float64) time.Time {
	return p.start.Add(time.Duration(s * float64(time.Second)))
}

// replay runs the function's arrivals through the pool.
func replay(fn *Function, pol policy.Policy, start time.Time, train, end time.Duration) tally {
	p := &pool{
		pol:       pol,
		start:     start,
		memGB:     fn.MemoryMB / 1024,
		train:     train.Seconds(),
		end:       end.Seconds(),
		prewarmAt: math.Inf(1),
		windowEnd: math.Inf(1),
	}
	next := 0
	for {
		// Events at the same instant run in this order: completions free an
		// instance before anything else looks; a pre-warm due now is ready
		// for an arrival now; expiries come after arrivals, so an instance
		// whose keep-alive ends exactly at an arrival still serves it.
		tArr := math.Inf(1)
		if next < len(fn.Arrivals) {
			tArr = fn.Arrivals[next].At.Seconds()
		}
		tDone := math.Inf(1)
		if len(p.run) > 0 {
			tDone = p.run[0].at
		}
		tExp, expIdx := p.nextExpiry()
		t := min(tArr, tDone, tExp, p.prewarmAt, p.windowEnd)
		if math.IsInf(t, 1) || t > p.end {
			break
		}
		switch t {
		case tDone:
			c := heap.Pop(&p.run).(completion)
			p.complete(c)
		case p.prewarmAt:
			p.prewarm(t)
		case tArr:
			p.arrive(fn.Arrivals[next], t)
			next++
		case tExp:
			p.release(expIdx, t)
		default: // windowEnd
			p.windowEnd = math.Inf(1)
			p.apply(t, p.pol.Decide(p.at(t), policy.State{Busy: len(p.run), Idle: len(p.idle), Expired: true}))
		}
	}
	for len(p.idle) > 0 {
		p.release(0, math.Min(p.idle[0].expires, p.end))
	}
	return p.t
}

func (p *pool) nextExpiry() (float64, int) {
	t, idx := math.Inf(1), -1
	for i, in := range p.idle {
		if in.expires < t {
			t, idx = in.expires, i
		}
	}
	return t, idx
}

func (p *pool) complete(c completion) {
	in := c.inst
	in.busy = false
	in.lastUse = c.at
	in.expires = math.Inf(1) // until the decision below says otherwise
	p.idle = append(p.idle, in)
	d := p.pol.Decide(p.at(c.at), policy.State{Busy: len(p.run), Idle: len(p.idle)})
	p.apply(c.at, d)
}

func (p *pool) arrive(a Arrival, t float64) {
	counted := t >= p.train
	// Most recently used first: the others then age out by keep-alive.
	best := -1
	for i, in := range p.idle {
		if best < 0 || in.lastUse > p.idle[best].lastUse {
			best = i
		}
	}
	var in *instance
	inv := policy.Invocation{Start: p.at(t), Duration: a.Duration}
	if best >= 0 {
		in = p.idle[best]
		p.idle = removeAt(p.idle, best)
		p.waste(in.lastUse, t)
		in.used = true
	} else {
		in = &instance{}
		if counted {
			p.t.cold++
			switch {
			case !p.seen:
				p.t.coldFirst++
			case len(p.run) > 0:
				p.t.coldScale++
			default:
				p.t.coldIdle++
			}
		}
	}
	if counted {
		p.t.invocations++
	}
	p.seen = true
	in.busy = true
	heap.Push(&p.run, completion{at: t + a.Duration.Seconds(), inst: in})
	inv.Concurrent = len(p.run)
	p.pol.Observe(inv)
}

// release ends idle instance i at t.
func (p *pool) release(i int, t float64) {
	in := p.idle[i]
	p.idle = removeAt(p.idle, i)
	p.waste(in.lastUse, t)
	if in.prewarmed && !in.used && in.prewarmAt >= p.train {
		p.t.prewarmsUnused++
	}
}

func (p *pool) prewarm(t float64) {
	p.prewarmAt = math.Inf(1)
	for n := len(p.run) + len(p.idle); n < p.warm; n++ {
		p.idle = append(p.idle, &instance{lastUse: t, expires: t + p.keepAlive, prewarmAt: t, prewarmed: true})
		if t >= p.train {
			p.t.prewarms++
		}
	}
}

// apply carries out a decision taken at t, as policy.Decision specifies.
func (p *pool) apply(t float64, d policy.Decision) {
	p.prewarmAt = math.Inf(1)
	p.keepAlive = d.KeepAlive.Seconds()
	p.windowEnd = math.Inf(1)
	if d.PreWarm+d.KeepAlive <= 0 {
		// An empty window keeps and starts nothing, whatever Warm says:
		// instances started for no time would be released at once, and a
		// window ending now would ask the policy again at the same instant.
		d = policy.Decision{}
	}
	if !d.Empty() {
		p.windowEnd = t + (d.PreWarm + d.KeepAlive).Seconds()
	}
	if d.PreWarm > 0 {
		for len(p.idle) > 0 {
			p.release(0, t)
		}
		p.prewarmAt = t + d.PreWarm.Seconds()
		p.warm = d.Warm
	} else {
		for _, in := range p.idle {
			in.expires = math.Max(t, in.lastUse+p.keepAlive)
		}
		p.warm = d.Warm
		p.prewarm(t)
	}
	// Idle instances due now go now, before anything else can use them.
	for i := 0; i < len(p.idle); {
		if p.idle[i].expires <= t {
			p.release(i, t)
			continue
		}
		i++
	}
}

// waste adds the idle memory-time of [from, to] that falls in the test part.
func (p *pool) waste(from, to float64) {
	from = math.Max(from, p.train)
	to = math.Min(to, p.end)
	if to > from {
		p.t.wastedGBs += (to - from) * p.memGB
	}
}

func removeAt(s []*instance, i int) []*instance {
	s[i] = s[len(s)-1]
	s[len(s)-1] = nil
	return s[:len(s)-1]
}
