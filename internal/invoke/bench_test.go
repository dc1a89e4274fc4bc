package invoke

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/fnlog"
	"github.com/hearth-sh/hearth/internal/registry"
	hrt "github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/telemetry"
)

// BenchmarkInvokeTelemetry measures the invoke path's own cost with
// telemetry off and with metrics on and 1% of invocations traced, under a
// server span as the API makes.
func BenchmarkInvokeTelemetry(b *testing.B) {
	for _, bc := range []struct {
		name string
		on   bool
	}{{"off", false}, {"on", true}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			opts := Options{Runtimes: map[string]hrt.Runtime{"wasm": gateRuntime{}}, Clock: clock.Real{},
				Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})), Logs: fnlog.New(1000)}
			if bc.on {
				tr, err := telemetry.NewTracing(ctx, telemetry.TracingConfig{Sample: 0.01, Rate: -1})
				if err != nil {
					b.Fatal(err)
				}
				defer tr.Shutdown(ctx)
				opts.Metrics, opts.Tracer = telemetry.NewMetrics(nil), tr.Tracer
			}
			d := New(opts)
			defer d.Close(ctx)
			fn := registry.Function{Name: "f", Version: 1,
				Config: registry.Config{Runtime: "wasm", MemoryMB: 64, Concurrency: 2, Timeout: registry.Duration(time.Minute)}}
			tmpl, _ := d.Prepare(ctx, fn, nil)
			d.Activate(fn, tmpl)
			req := hrt.Request{Body: []byte(`{"name":"bench"}`)}
			tracer := opts.Tracer
			if tracer == nil {
				tracer = noop.NewTracerProvider().Tracer("")
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					// As the API does: a server span around the invocation.
					sctx, span := tracer.Start(ctx, "POST")
					_, err := d.Invoke(sctx, "f", req)
					span.End()
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
