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

// TestWorkerHeld: a worker holds as many waiting messages as start within
// about prefetchWindow, between its concurrency and max(concurrency,
// maxPrefetch), plus those running.
func TestWorkerHeld(t *testing.T) {
	cases := []struct {
		conc int
		avg  time.Duration // 0: nothing ran yet
		want int
	}{
		{8, 0, 16}, // no measure yet: as many waiting as running
		{8, 20 * time.Microsecond, 8 + maxPrefetch}, // no-op: a full batch
		{8, time.Millisecond, 8 + maxPrefetch},      // 8 × 10 = 80 start within the window: capped
		{8, 2 * time.Millisecond, 8 + 40},           // 8 × 5
		{8, 50 * time.Millisecond, 16},              // long: never fewer waiting than running
		{8, time.Hour, 16},
		{1, 500 * time.Microsecond, 1 + 20},
		{200, time.Microsecond, 400}, // concurrency above maxPrefetch bounds the waiting
		{200, time.Second, 400},
	}
	for _, tc := range cases {
		w := newWorker(tc.conc)
		if tc.avg > 0 {
			w.ran(tc.avg)
		}
		if got := w.held(); got != tc.want {
			t.Errorf("concurrency %d, invocations of %v: held %d, want %d", tc.conc, tc.avg, got, tc.want)
		}
	}
}

// TestWorkerRanAverages: the average follows the runs, and one outlier
// moves it by a sixteenth.
func TestWorkerRanAverages(t *testing.T) {
	w := newWorker(1)
	w.ran(time.Millisecond)
	w.ran(17 * time.Millisecond)
	if got := time.Duration(w.runNanos.Load()); got != 2*time.Millisecond {
		t.Fatalf("average %v, want 2ms", got)
	}
}
