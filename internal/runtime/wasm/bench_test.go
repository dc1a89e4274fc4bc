package wasm_test

import (
	"context"
	"testing"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
)

// echoRequest is what the warm-path benchmark sends: a small JSON body with
// the headers an HTTP client typically adds.
var echoRequest = runtime.Request{ID: "bench", Method: "POST", Path: "/", Body: []byte(`{"name":"bench"}`),
	Headers: map[string][]string{"Content-Type": {"application/json"}, "User-Agent": {"Go-http-client/1.1"}, "Accept-Encoding": {"gzip"}}}

// BenchmarkWarmInvoke measures one invocation of examples/echo on a warm
// instance: the per-invoke overhead of the runtime plus the guest's work.
func BenchmarkWarmInvoke(b *testing.B) {
	r := newRuntime(b, wasm.Config{})
	tmpl := prepare(b, r, runtime.Spec{MaxResponseBytes: 6 << 20}, guest(b, "../../../examples/echo", false))
	inst := spawn(b, tmpl)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inst.Invoke(ctx, echoRequest); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWarmInvokeNoop measures the runtime's own per-invoke overhead:
// a Go guest that does nothing with the request.
func BenchmarkWarmInvokeNoop(b *testing.B) {
	r := newRuntime(b, wasm.Config{})
	inst := spawn(b, prepare(b, r, runtime.Spec{}, guest(b, "testdata/noop", false)))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inst.Invoke(ctx, echoRequest); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWarmInvokeTimeout is BenchmarkWarmInvoke with a Spec.Timeout,
// which arms a timer and a cancelable context per invocation.
func BenchmarkWarmInvokeTimeout(b *testing.B) {
	r := newRuntime(b, wasm.Config{})
	tmpl := prepare(b, r, runtime.Spec{Timeout: 30e9}, guest(b, "../../../examples/echo", false))
	inst := spawn(b, tmpl)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inst.Invoke(ctx, echoRequest); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkColdStart measures a cold start with the code compiled: Spawn
// (instantiate and _initialize, or restore from a snapshot) and the first
// invocation, then Close. It reports the mean of each phase.
func BenchmarkColdStart(b *testing.B) {
	for _, snap := range []bool{false, true} {
		name := map[bool]string{false: "init", true: "snapshot"}[snap]
		b.Run(name, func(b *testing.B) { benchmarkColdStart(b, snap) })
	}
}

func benchmarkColdStart(b *testing.B, snapshots bool) {
	r := newRuntime(b, wasm.Config{Snapshots: snapshots})
	tmpl := prepare(b, r, runtime.Spec{}, guest(b, "../../../examples/echo", false))
	ctx := context.Background()
	var sum runtime.Phases
	for b.Loop() {
		inst, ph, err := tmpl.Spawn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := inst.Invoke(ctx, echoRequest); err != nil {
			b.Fatal(err)
		}
		_ = inst.Close(ctx)
		sum.Provision += ph.Provision
		sum.Runtime += ph.Runtime
		sum.Init += ph.Init
	}
	n := float64(b.N)
	b.ReportMetric(float64(sum.Provision.Microseconds())/n, "provision-µs/op")
	b.ReportMetric(float64(sum.Runtime.Microseconds())/n, "runtime-µs/op")
	b.ReportMetric(float64(sum.Init.Microseconds())/n, "init-µs/op")
}

// BenchmarkWarmInvokeRecycle is BenchmarkWarmInvoke in recycle mode: every
// invocation starts from the snapshot, memory and globals reset.
func BenchmarkWarmInvokeRecycle(b *testing.B) {
	r := newRuntime(b, wasm.Config{})
	tmpl, err := r.PrepareWith(context.Background(), runtime.Spec{Name: "echo"}, runtime.Artifact{Bytes: guest(b, "../../../examples/echo", false)},
		wasm.Options{Snapshot: wasm.SnapshotAuto, Recycle: true})
	if err != nil {
		b.Fatal(err)
	}
	defer tmpl.Close(context.Background())
	inst := spawn(b, tmpl)
	ctx := context.Background()
	for b.Loop() {
		if _, err := inst.Invoke(ctx, echoRequest); err != nil {
			b.Fatal(err)
		}
	}
}
