package policy

import "time"

// idleClock measures a function's idle times: the time from the moment its
// last running invocation completed until the next invocation arrives. These
// are the "idle times" (ITs) of Shahrad et al.; an invocation that arrives
// while another is running has no idle time before it.
type idleClock struct {
	// idleSince is when the pool last became idle; valid only if idle.
	idleSince time.Time
	idle      bool
}

// arrive records an arrival and returns the idle time before it, if there
// was one.
func (c *idleClock) arrive(inv Invocation) (time.Duration, bool) {
	wasIdle := c.idle
	c.idle = false
	// Concurrent > 1 means another invocation was already running, so the
	// pool was not idle, whatever an out-of-order completion left behind.
	if !wasIdle || inv.Concurrent > 1 {
		return 0, false
	}
	gap := inv.Start.Sub(c.idleSince)
	if gap < 0 {
		gap = 0
	}
	return gap, true
}

// decide notes the pool's state at a decision: with nothing busy, the pool
// is idle from now on (unless it already was, when the window merely ended).
func (c *idleClock) decide(now time.Time, s State) {
	if s.Busy > 0 {
		c.idle = false
		return
	}
	if !c.idle {
		c.idle = true
		c.idleSince = now
	}
}

// elapsed is how long the pool has been idle at now (zero when busy).
func (c *idleClock) elapsed(now time.Time) time.Duration {
	if !c.idle {
		return 0
	}
	return now.Sub(c.idleSince)
}
