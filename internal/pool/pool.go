// Package pool keeps the instances of one function version on one node: warm
// reuse, keep-alive, provisioned (min-warm) instances, a concurrency limit
// with a bounded wait queue, and scale to zero.
package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/policy"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// Errors Acquire returns.
var (
	// ErrThrottled: every instance is busy and the wait queue is full, or the
	// wait ran past QueueTimeout.
	ErrThrottled = errors.New("too many concurrent invocations")
	// ErrClosed: the pool was closed (the function was redeployed or removed).
	ErrClosed = errors.New("pool closed")
)

// Config shapes a pool.
type Config struct {
	// Concurrency is the maximum number of live instances (≥ 1).
	Concurrency int
	// MinWarm instances are created at start and kept, idle or not.
	MinWarm int
	// KeepAlive is how long an idle instance above MinWarm lives when no
	// Policy is given.
	KeepAlive time.Duration
	// Policy decides keep-alive and pre-warming after each invocation
	// (internal/policy). Nil means policy.NewFixed(KeepAlive). The pool calls
	// it under its lock, so one Policy may serve several pools only if it is
	// safe for concurrent use.
	Policy policy.Policy
	// QueueSize bounds the invocations waiting for an instance; beyond it
	// Acquire fails at once with ErrThrottled.
	QueueSize int
	// QueueTimeout bounds how long one invocation waits for an instance.
	QueueTimeout time.Duration
}

// Stats is a snapshot of a pool's counters.
type Stats struct {
	Idle, Busy, Spawning, Waiting int
	ColdStarts, WarmStarts        int64
	Throttled                     int64
	// Prewarms counts instances started ahead of traffic by the policy;
	// PrewarmsUsed those of them that served an invocation.
	Prewarms, PrewarmsUsed int64
	// Evicted counts destroyed instances by reason: "keepalive", "broken", "close".
	Evicted map[string]int64
}

// Pool is the set of instances of one template.
//
// # Notes
//
// Invariants, kept under mu: an instance in idle is never running a request;
// live == len(idle) + busy + spawning; live ≤ Concurrency; at most one
// reaper, window and pre-warm timer is pending.
type Pool struct {
	tmpl   runtime.Template
	cfg    Config
	clock  clock.Clock
	logger *slog.Logger

	mu       sync.Mutex
	idle     []*entry // most recently released last: reuse it first
	live     int
	busy     int
	spawning int
	waiters  []chan grant
	closed   bool
	// keepAlive is the current decision's keep-alive for newly idle instances.
	keepAlive time.Duration
	// reaper fires when the earliest idle instance's keep-alive ends. One
	// timer per pool, not per instance, keeps timers off the invoke path.
	reaper   clock.Timer
	reaperAt time.Time
	// windowEnd is where the policy's current window closes; windowTimer
	// fires there (lazily: a later end just moves windowEnd, and the timer
	// re-arms itself when it fires early).
	windowEnd   time.Time
	windowTimer clock.Timer
	// windowGen tells a window timer that fired after the window was closed
	// another way (by the reaper) that it is stale.
	windowGen uint64
	prewarm   clock.Timer // a pending pre-warm; nil if none
	stats     Stats
	drained   chan struct{} // closed when a closed pool has no live instances
}

type entry struct {
	inst      runtime.Instance
	idleSince time.Time // when it was last parked in idle
	expiresAt time.Time // when it is released if still idle
	prewarmed bool      // started by the policy ahead of traffic, not yet used
}

// grant hands a waiter either a warm instance or the right to spawn one.
type grant struct {
	e     *entry
	spawn bool
	err   error
}

// New makes a pool and starts its MinWarm instances in the background.
func New(tmpl runtime.Template, cfg Config, clk clock.Clock, logger *slog.Logger) *Pool {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.MinWarm > cfg.Concurrency {
		cfg.MinWarm = cfg.Concurrency
	}
	if cfg.Policy == nil {
		cfg.Policy = policy.NewFixed(cfg.KeepAlive)
	}
	p := &Pool{tmpl: tmpl, cfg: cfg, clock: clk, logger: logger, keepAlive: cfg.KeepAlive,
		stats: Stats{Evicted: map[string]int64{}}, drained: make(chan struct{})}
	p.provision()
	return p
}

// Lease is an acquired instance. Exactly one of Release or Discard must be called.
type Lease struct {
	Instance runtime.Instance
	// Cold is true when the instance was spawned for this invocation.
	Cold bool
	// Phases times the cold start (zero when warm).
	Phases runtime.Phases
	pool   *Pool
	e      *entry
}

// Acquire returns an instance for one invocation: an idle one (warm), a new
// one (cold), or, at the concurrency limit, one released by another
// invocation within QueueTimeout.
func (p *Pool) Acquire(ctx context.Context) (*Lease, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.cfg.Policy.Observe(policy.Invocation{Start: p.clock.Now(), Concurrent: p.busy + p.spawning + len(p.waiters) + 1})
	if e := p.popIdleLocked(); e != nil {
		p.busy++
		p.stats.WarmStarts++
		p.mu.Unlock()
		return &Lease{Instance: e.inst, pool: p, e: e}, nil
	}
	if p.live < p.cfg.Concurrency {
		p.live++
		p.spawning++
		p.mu.Unlock()
		return p.spawnLease(ctx)
	}
	if len(p.waiters) >= p.cfg.QueueSize {
		p.stats.Throttled++
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: %d instances busy and %d invocations queued", ErrThrottled, p.cfg.Concurrency, p.cfg.QueueSize)
	}
	ch := make(chan grant, 1)
	p.waiters = append(p.waiters, ch)
	p.mu.Unlock()

	timeout := p.clock.AfterFunc(p.cfg.QueueTimeout, func() { p.abandon(ch, ErrThrottled) })
	defer timeout.Stop()
	stop := context.AfterFunc(ctx, func() { p.abandon(ch, ctx.Err()) })
	defer stop()

	g := <-ch
	switch {
	case g.err != nil:
		if errors.Is(g.err, ErrThrottled) {
			return nil, fmt.Errorf("%w: waited %s for one of %d instances", ErrThrottled, p.cfg.QueueTimeout, p.cfg.Concurrency)
		}
		return nil, g.err
	case g.spawn:
		return p.spawnLease(ctx)
	default:
		p.mu.Lock()
		p.stats.WarmStarts++
		p.mu.Unlock()
		return &Lease{Instance: g.e.inst, pool: p, e: g.e}, nil
	}
}

// abandon removes a waiter that gave up. If a grant raced in first, the
// waiter still receives that grant and must honour it, so nothing is lost.
func (p *Pool) abandon(ch chan grant, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, w := range p.waiters {
		if w == ch {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			if errors.Is(err, ErrThrottled) {
				p.stats.Throttled++
			}
			ch <- grant{err: err}
			return
		}
	}
}

// spawnLease runs a cold start for a slot already counted in live and spawning.
func (p *Pool) spawnLease(ctx context.Context) (*Lease, error) {
	inst, phases, err := p.tmpl.Spawn(ctx)
	p.mu.Lock()
	p.spawning--
	if err != nil {
		p.live--
		p.handOffSlotLocked()
		p.mu.Unlock()
		return nil, err
	}
	p.busy++
	p.stats.ColdStarts++
	p.mu.Unlock()
	return &Lease{Instance: inst, Cold: true, Phases: phases, pool: p, e: &entry{inst: inst}}, nil
}

// Release returns a healthy instance to the pool after an invocation.
func (l *Lease) Release() { l.pool.release(l.e, false) }

// Discard destroys a broken instance (after a trap, timeout or crash).
func (l *Lease) Discard() { l.pool.release(l.e, true) }

func (p *Pool) release(e *entry, broken bool) {
	p.mu.Lock()
	p.busy--
	if broken || p.closed {
		p.live--
		reason := "broken"
		if !broken {
			reason = "close"
		}
		p.stats.Evicted[reason]++
		p.handOffSlotLocked()
		p.mu.Unlock()
		p.closeInstance(e.inst)
		p.provision()
		return
	}
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.busy++
		p.mu.Unlock()
		w <- grant{e: e}
		return
	}
	p.pushIdleLocked(e, p.clock.Now())
	p.decideLocked(false)
	p.mu.Unlock()
}

// handOffSlotLocked gives a freed slot to the first waiter, which spawns.
func (p *Pool) handOffSlotLocked() {
	if p.closed {
		p.checkDrainedLocked()
		return
	}
	if len(p.waiters) == 0 {
		return
	}
	w := p.waiters[0]
	p.waiters = p.waiters[1:]
	p.live++
	p.spawning++
	w <- grant{spawn: true}
}

func (p *Pool) popIdleLocked() *entry {
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	e := p.idle[n-1]
	p.idle = p.idle[:n-1]
	if e.prewarmed {
		e.prewarmed = false
		p.stats.PrewarmsUsed++
	}
	return e
}

// pushIdleLocked parks e until now plus the current keep-alive.
func (p *Pool) pushIdleLocked(e *entry, now time.Time) {
	e.idleSince = now
	e.expiresAt = now.Add(p.keepAlive)
	p.idle = append(p.idle, e)
	p.armReaperLocked()
}

// decideLocked asks the policy what to do with idle capacity and applies
// the decision as policy.Decision documents.
func (p *Pool) decideLocked(expired bool) {
	if p.closed {
		return
	}
	now := p.clock.Now()
	d := p.cfg.Policy.Decide(now, policy.State{Busy: p.busy, Idle: len(p.idle), Expired: expired})
	p.keepAlive = d.KeepAlive
	if p.prewarm != nil {
		p.prewarm.Stop()
		p.prewarm = nil
	}
	if d.PreWarm <= 0 {
		// After an expired window the idle instances were released
		// (windowClosed); the ones this decision wants warm are taken back,
		// newest first, as if started now, instead of being destroyed and
		// started again. Otherwise each keeps its own time from its last use.
		reuse := len(p.idle)
		if expired {
			reuse = min(reuse, max(d.Warm-(p.live-len(p.idle)), 0))
		}
		for i := len(p.idle) - 1; i >= 0; i-- {
			e := p.idle[i]
			switch {
			case !expired:
				e.expiresAt = e.idleSince.Add(d.KeepAlive)
			case reuse > 0 && d.KeepAlive > 0:
				e.expiresAt = now.Add(d.KeepAlive)
				reuse--
			}
		}
		p.rearmReaperLocked()
		if d.KeepAlive > 0 { // an instance kept for no time would go at once
			p.startWarmLocked(d.Warm, d.KeepAlive)
		}
	} else {
		for _, e := range p.idle {
			e.expiresAt = now // released now; the reaper keeps MinWarm
		}
		p.rearmReaperLocked()
		warm, keep := d.Warm, d.KeepAlive
		p.prewarm = p.clock.AfterFunc(d.PreWarm, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.prewarm = nil
			p.startWarmLocked(warm, keep)
		})
	}
	if d.Empty() {
		return
	}
	p.windowEnd = d.WindowEnd(now)
	if p.windowTimer == nil {
		p.armWindowLocked(now)
	}
}

// windowClosed runs when the policy's window may have ended. A later
// decision may have moved the end; then it waits again.
func (p *Pool) windowClosed(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen != p.windowGen {
		return
	}
	p.windowTimer = nil
	if p.closed {
		return
	}
	now := p.clock.Now()
	if now.Before(p.windowEnd) {
		p.armWindowLocked(now)
		return
	}
	p.closeWindowLocked(now)
}

func (p *Pool) armWindowLocked(now time.Time) {
	p.windowGen++
	gen := p.windowGen
	p.windowTimer = p.clock.AfterFunc(p.windowEnd.Sub(now), func() { p.windowClosed(gen) })
}

// closeWindowLocked releases the idle instances at the end of a window and
// asks the policy again.
func (p *Pool) closeWindowLocked(now time.Time) {
	for _, e := range p.idle {
		if e.expiresAt.After(now) {
			e.expiresAt = now
		}
	}
	p.rearmReaperLocked()
	p.decideLocked(true)
}

// startWarmLocked starts instances ahead of traffic until n exist, each kept
// for keep from its start.
func (p *Pool) startWarmLocked(n int, keep time.Duration) {
	need := min(n, p.cfg.Concurrency) - p.live
	for range max(need, 0) {
		p.live++
		p.spawning++
		p.stats.Prewarms++
		go p.spawnIdle(true, keep)
	}
}

func (p *Pool) rearmReaperLocked() {
	if p.reaper != nil {
		p.reaper.Stop()
		p.reaper = nil
	}
	p.armReaperLocked()
}

// armReaperLocked schedules the reaper for the earliest idle expiry, unless
// it is already scheduled that early or nothing may expire.
func (p *Pool) armReaperLocked() {
	if p.closed || len(p.idle) == 0 || p.live <= p.cfg.MinWarm {
		return
	}
	first := p.idle[0].expiresAt
	for _, e := range p.idle[1:] {
		if e.expiresAt.Before(first) {
			first = e.expiresAt
		}
	}
	if p.reaper != nil && !p.reaperAt.After(first) {
		return
	}
	if p.reaper != nil {
		p.reaper.Stop()
	}
	p.reaperAt = first
	p.reaper = p.clock.AfterFunc(max(first.Sub(p.clock.Now()), 0), p.reap)
}

// reap destroys the idle instances whose keep-alive has passed, never going
// below MinWarm live instances.
func (p *Pool) reap() {
	p.mu.Lock()
	p.reaper = nil
	now := p.clock.Now()
	// A window that ends now is closed first: its decision may keep the
	// instances whose keep-alive ends at the same moment, and it must not
	// depend on which of the two timers fires first.
	if p.windowTimer != nil && !now.Before(p.windowEnd) {
		p.windowTimer.Stop()
		p.windowTimer = nil
		p.windowGen++ // in case it fired and waits for the lock
		p.closeWindowLocked(now)
	}
	var expired []*entry
	kept := p.idle[:0]
	for _, e := range p.idle {
		if p.live > p.cfg.MinWarm && !e.expiresAt.After(now) {
			expired = append(expired, e)
			p.live--
			p.stats.Evicted["keepalive"]++
			continue
		}
		kept = append(kept, e)
	}
	p.idle = kept
	p.armReaperLocked()
	p.mu.Unlock()
	for _, e := range expired {
		p.closeInstance(e.inst)
	}
}

// provision starts instances in the background until MinWarm are live.
func (p *Pool) provision() {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.cfg.MinWarm - p.live
	if p.closed || n <= 0 {
		return
	}
	p.live += n
	p.spawning += n
	for range n {
		go p.spawnIdle(false, p.keepAlive)
	}
}

// spawnIdle starts an instance for a slot already counted in live and
// spawning, and parks it (or hands it to a waiter).
func (p *Pool) spawnIdle(prewarmed bool, keep time.Duration) {
	inst, _, err := p.tmpl.Spawn(context.Background())
	p.mu.Lock()
	p.spawning--
	if err != nil {
		p.live--
		p.handOffSlotLocked()
		p.mu.Unlock()
		p.logger.Error("start instance ahead of traffic", "err", err)
		return
	}
	e := &entry{inst: inst}
	if p.closed {
		p.live--
		p.checkDrainedLocked()
		p.mu.Unlock()
		p.closeInstance(inst)
		return
	}
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.busy++
		if prewarmed {
			p.stats.PrewarmsUsed++
		}
		p.mu.Unlock()
		w <- grant{e: e}
		return
	}
	now := p.clock.Now()
	e.prewarmed = prewarmed
	e.idleSince = now
	e.expiresAt = now.Add(keep)
	p.idle = append(p.idle, e)
	p.armReaperLocked()
	p.mu.Unlock()
}

func (p *Pool) closeInstance(inst runtime.Instance) {
	if err := inst.Close(context.Background()); err != nil {
		p.logger.Warn("close instance", "err", err)
	}
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Evicted = make(map[string]int64, len(p.stats.Evicted))
	for k, v := range p.stats.Evicted {
		s.Evicted[k] = v
	}
	s.Idle, s.Busy, s.Spawning, s.Waiting = len(p.idle), p.busy, p.spawning, len(p.waiters)
	return s
}

// Close stops the pool: idle instances are destroyed at once, waiters get
// ErrClosed, and busy instances are destroyed when released, so invocations
// in flight finish on this version. Close then waits until every instance is
// gone or ctx ends, and closes the template.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.live -= len(idle)
	p.stats.Evicted["close"] += int64(len(idle))
	for _, w := range p.waiters {
		w <- grant{err: ErrClosed}
	}
	p.waiters = nil
	for _, t := range []clock.Timer{p.reaper, p.windowTimer, p.prewarm} {
		if t != nil {
			t.Stop()
		}
	}
	p.reaper, p.windowTimer, p.prewarm = nil, nil, nil
	p.checkDrainedLocked()
	p.mu.Unlock()
	for _, e := range idle {
		p.closeInstance(e.inst)
	}
	select {
	case <-p.drained:
	case <-ctx.Done():
		return fmt.Errorf("pool close: %w", ctx.Err())
	}
	return p.tmpl.Close(ctx)
}

func (p *Pool) checkDrainedLocked() {
	if p.closed && p.live == 0 {
		select {
		case <-p.drained:
		default:
			close(p.drained)
		}
	}
}
