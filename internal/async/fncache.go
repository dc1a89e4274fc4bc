package async

import (
	"context"
	"sync"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/registry"
)

// functionTTL is how long a function's config is reused on the hot paths
// (enqueue, each delivery): a redeploy's new retries or destinations apply
// within it. Reading the registry for every invocation would cost a
// backbone round trip each.
const functionTTL = time.Second

// fnCache remembers FunctionLookup answers for functionTTL. Unknown
// functions are not remembered, so a new deploy is seen at once.
type fnCache struct {
	src   FunctionLookup
	clock clock.Clock

	mu sync.Mutex
	m  map[string]cachedFn
}

type cachedFn struct {
	fn registry.Function
	at time.Time
}

func newFnCache(src FunctionLookup, clk clock.Clock) *fnCache {
	return &fnCache{src: src, clock: clk, m: map[string]cachedFn{}}
}

// Get returns the function's config, at most functionTTL old.
func (c *fnCache) Get(ctx context.Context, name string) (registry.Function, error) {
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.m[name]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < functionTTL {
		return e.fn, nil
	}
	fn, err := c.src.Get(ctx, name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.m, name)
		return registry.Function{}, err
	}
	c.m[name] = cachedFn{fn: fn, at: now}
	return fn, nil
}
