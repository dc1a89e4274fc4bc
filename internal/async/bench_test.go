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

// BenchmarkAsyncInvoke measures async invocations of a no-op function on an
// embedded server from 16 concurrent callers: accepted/s (Enqueue returned)
// and completed/s (record written, message acknowledged).
func BenchmarkAsyncInvoke(b *testing.B) {
	env := newEnv(b, nil)
	var done atomic.Int64
	var counting atomic.Bool
	all := make(chan struct{})
	env.node.add("noop", registry.Config{Concurrency: 64}, func(context.Context, int, runtime.Request) (runtime.Response, error) {
		if done.Add(1) == int64(b.N) && counting.Load() {
			close(all)
		}
		return runtime.Response{Status: 200}, nil
	})
	s := env.service(b, "n1")
	ctx := context.Background()
	if _, err := s.Enqueue(ctx, "noop", runtime.Request{}, ""); err != nil { // create the consumer
		b.Fatal(err)
	}
	for done.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	done.Store(0)
	counting.Store(true)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 16 {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if _, err := s.Enqueue(ctx, "noop", runtime.Request{Body: []byte(`{}`)}, ""); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	accepted := time.Since(start)
	<-all
	completed := time.Since(start)
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/completed.Seconds(), "completed/s")
}
