package async

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// TestBurstsDoNotStall: bursts of async invocations at a small concurrency
// all run promptly. jetstream's Consume, which the worker used before,
// could stop asking for messages while the queue still held thousands
// (its request-more check raced with its own previous pull request) and
// only resumed when its missed-heartbeat timer fired 30 s later; about one
// burst of 20,000 in three stalled so on this machine. The bound below is
// far above the time a burst takes here (about a second) and below those
// 30 s, so it flags a stall, not a slow machine.
func TestBurstsDoNotStall(t *testing.T) {
	const (
		rounds    = 3
		perRound  = 2000
		callers   = 16
		stallSign = 20 * time.Second
	)
	env := newEnv(t, nil)
	var done atomic.Int64
	env.node.add("burst", registry.Config{Concurrency: 8}, func(context.Context, int, runtime.Request) (runtime.Response, error) {
		done.Add(1)
		return runtime.Response{Status: 200}, nil
	})
	s := env.service(t, "n1")
	ctx := context.Background()
	for round := 1; round <= rounds; round++ {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range callers {
			wg.Go(func() {
				for next.Add(1) <= perRound {
					if _, err := s.Enqueue(ctx, "burst", runtime.Request{Body: []byte(`{}`)}, ""); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		accepted := time.Now()
		want := int64(round * perRound)
		for done.Load() < want {
			if time.Since(accepted) > stallSign {
				t.Fatalf("round %d: %d of %d invocations ran in the %s after the last accept: the worker stalled",
					round, done.Load()-want+perRound, perRound, stallSign)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
