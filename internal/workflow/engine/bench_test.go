package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/hearth-sh/hearth/internal/backbone"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// BenchmarkTelemetry runs a 10-state Pass chain through the engine,
// STANDARD (every event stored on JetStream) and EXPRESS, 16 executions
// at a time, with telemetry off, with metrics and a tracer that samples
// nothing (what a node pays for executions its sampler skips), and with
// every span sampled; one run, so that the figures compare.
func BenchmarkTelemetry(b *testing.B) {
	ctx := context.Background()
	bb, err := backbone.Open(ctx, backbone.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bb.Close() })
	states := make([]string, 10)
	for i := range states {
		states[i] = fmt.Sprintf(`"P%d":{"Type":"Pass","Next":"P%d"}`, i, i+1)
	}
	states[9] = `"P9":{"Type":"Pass","End":true}`
	chain := `{"StartAt":"P0","States":{` + strings.Join(states, ",") + `}}`
	// Execution names must not repeat: the benchmark function runs several
	// times per configuration, and a name seen before is not a new run.
	var seq atomic.Int64
	tracing := func(s sdktrace.Sampler) func(*Options) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(s), sdktrace.WithSyncer(tracetest.NewNoopExporter()))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return func(o *Options) {
			o.Tracer = tp.Tracer("bench")
			o.Metrics = registry{prometheus.NewRegistry()}
		}
	}
	configs := []struct {
		name string
		opts func(*Options)
	}{
		{"off", func(*Options) {}},
		{"metrics+never-sample", tracing(sdktrace.NeverSample())},
		{"metrics+always-sample", tracing(sdktrace.AlwaysSample())},
	}
	for _, typ := range []asl.Type{asl.Standard, asl.Express} {
		for _, c := range configs {
			b.Run(strings.ToLower(string(typ))+"/"+c.name, func(b *testing.B) {
				opts := Options{JS: bb.JS}
				c.opts(&opts)
				eng, err := New(ctx, opts)
				if err != nil {
					b.Fatal(err)
				}
				defer eng.Close(ctx)
				machine := "bench-" + strings.ToLower(string(typ))
				if _, err := eng.CreateMachine(ctx, MachineSpec{Name: machine, Definition: chain, Type: typ}); err != nil {
					b.Fatal(err)
				}
				b.SetParallelism(8) // 16 on two cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						name := "x" + strconv.FormatInt(seq.Add(1), 10)
						if _, err := eng.StartSync(ctx, StartInput{Machine: machine, Name: name}); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(10*b.N)/b.Elapsed().Seconds(), "transitions/s")
			})
		}
	}
}
