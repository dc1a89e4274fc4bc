package async

import (
	"context"
	"sync"
	"testing"

	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// TestRestartRunsEveryQueuedInvocationOnce: invocations queued and in
// flight when a service stops all run, each to completion once, on the
// service that takes over.
func TestRestartRunsEveryQueuedInvocationOnce(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	var mu sync.Mutex
	completed := map[string]int{}
	gate := make(chan struct{})
	started := make(chan struct{}, 100)
	env.node.add("work", registry.Config{Concurrency: 2}, func(ctx context.Context, _ int, req runtime.Request) (runtime.Response, error) {
		started <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
			return runtime.Response{}, ctx.Err()
		}
		mu.Lock()
		completed[req.ID]++
		mu.Unlock()
		return runtime.Response{Status: 200}, nil
	})
	first := env.service(t, "n1")
	const n = 20
	ids := make([]string, n)
	for i := range ids {
		id, err := first.Enqueue(ctx, "work", runtime.Request{}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	<-started
	<-started // both slots busy: two in flight, the rest queued
	stopped, cancel := context.WithCancel(ctx)
	cancel() // stop at once: the two in flight are cut short
	_ = first.Close(stopped)

	close(gate)
	second := env.service(t, "n2")
	for _, id := range ids {
		rec := waitStatus(t, second, id, StatusSucceeded)
		if len(rec.Attempts) != 1 {
			t.Errorf("%s: %d attempts recorded, want 1 (a cut-short attempt does not count)", id, len(rec.Attempts))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if completed[id] != 1 {
			t.Errorf("%s completed %d times, want once", id, completed[id])
		}
	}
}
