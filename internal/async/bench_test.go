package async

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// BenchmarkAsyncInvoke measures async invocations of a no-op function on an
// embedded server from 16 concurrent callers: accepted/s (Enqueue returned)
// and completed/s (record written, message acknowledged), at the function
// concurrency of the events bench (8) and a wider one. cpu-µs/inv is the
// process's CPU time (client and embedded server) per invocation: on a
// shared machine the rates follow the other processes' load, this does not.
func BenchmarkAsyncInvoke(b *testing.B) {
	for _, conc := range []int{8, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) { benchAsyncInvoke(b, conc) })
	}
}

func benchAsyncInvoke(b *testing.B, concurrency int) {
	env := newEnv(b, nil)
	var done atomic.Int64
	var counting atomic.Bool
	all := make(chan struct{})
	env.node.add("noop", registry.Config{Concurrency: concurrency}, func(context.Context, int, runtime.Request) (runtime.Response, error) {
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
	cpu0 := cpuTime(b)
	start := time.Now()
	enqueueNoops(ctx, b, s)
	accepted := time.Since(start)
	<-all
	completed := time.Since(start)
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/completed.Seconds(), "completed/s")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/inv")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAsyncPhases measures the two halves of an async invocation
// apart: b.N enqueues while the function's worker is held back, then the
// worker draining that backlog. cpu-µs figures are per invocation.
func BenchmarkAsyncPhases(b *testing.B) {
	env := newEnv(b, nil)
	var done atomic.Int64
	all := make(chan struct{})
	env.node.add("noop", registry.Config{Concurrency: 8}, func(context.Context, int, runtime.Request) (runtime.Response, error) {
		if done.Add(1) == int64(b.N) {
			close(all)
		}
		return runtime.Response{Status: 200}, nil
	})
	s := env.service(b, "n1")
	ctx := context.Background()
	resume, err := s.HoldQueue(ctx, "noop")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime(b)
	start := time.Now()
	enqueueNoops(ctx, b, s)
	accepted := time.Since(start)
	cpu1 := cpuTime(b)
	start = time.Now()
	if err := resume(ctx); err != nil {
		b.Fatal(err)
	}
	<-all
	drained := time.Since(start)
	cpu2 := cpuTime(b)
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/drained.Seconds(), "drained/s")
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "accept-cpu-µs")
	b.ReportMetric(float64((cpu2-cpu1).Microseconds())/float64(b.N), "drain-cpu-µs")
}

// enqueueNoops queues b.N invocations of noop from 16 goroutines and
// returns when all are accepted.
func enqueueNoops(ctx context.Context, b *testing.B, s *Service) {
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
}
