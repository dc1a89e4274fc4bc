package invoke

import (
	"sync"
	"time"

	"github.com/hearth-sh/hearth/internal/policy"
	"github.com/hearth-sh/hearth/internal/registry"
)

// lockedPolicy makes one function's policy safe to share between the pool
// of its active version and the pool of a version still draining, so what
// the policy learnt survives a redeploy.
type lockedPolicy struct {
	mu   sync.Mutex
	name string // the policy's config name, to notice a change
	ttl  time.Duration
	p    policy.Policy
}

func (l *lockedPolicy) Observe(inv policy.Invocation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.p.Observe(inv)
}

func (l *lockedPolicy) Decide(now time.Time, s policy.State) policy.Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.p.Decide(now, s)
}

// policyFor returns fn's policy, reusing the one its previous version used
// when the policy config did not change. Called with d.mu held.
func (d *Dispatcher) policyFor(fn registry.Function) *lockedPolicy {
	cfg := fn.Config
	ttl := time.Duration(cfg.KeepAlive)
	if old := d.policies[fn.Name]; old != nil && old.name == cfg.Policy && old.ttl == ttl {
		return old
	}
	var p policy.Policy
	switch cfg.Policy {
	case "histogram":
		p = policy.NewHistogram(policy.HistogramConfig{})
	case "forecast":
		p = policy.NewForecast(policy.Function{Name: fn.Name, MemoryMB: float64(cfg.MemoryMB)}, policy.ForecastConfig{})
	default:
		p = policy.NewFixed(ttl)
	}
	lp := &lockedPolicy{name: cfg.Policy, ttl: ttl, p: p}
	d.policies[fn.Name] = lp
	return lp
}
