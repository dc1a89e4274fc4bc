package workflow

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/clock"
)

// passChain returns a definition of n Pass states in a row.
func passChain(n int) string {
	var b strings.Builder
	b.WriteString(`{"StartAt":"S0","States":{`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		if i == n-1 {
			fmt.Fprintf(&b, `"S%d":{"Type":"Pass","End":true}`, i)
		} else {
			fmt.Fprintf(&b, `"S%d":{"Type":"Pass","Next":"S%d"}`, i, i+1)
		}
	}
	b.WriteString("}}")
	return b.String()
}

// BenchmarkPassChain runs a 10-state Pass chain with history in memory and
// reports state transitions per second.
func BenchmarkPassChain(b *testing.B) {
	m, err := parseDefinition(passChain(10))
	if err != nil {
		b.Fatal(err)
	}
	x := New(nil, clock.Real{}, NewMemoryStore(), nil)
	input := map[string]any{"k": "v"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		exec := Execution{ID: fmt.Sprintf("e%d", i), Machine: m, Input: input}
		if _, err := x.Run(context.Background(), exec, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10*b.N)/b.Elapsed().Seconds(), "transitions/s")
}

func TestExecutionTimeout(t *testing.T) {
	m := mustParse(t, `{"StartAt":"W","TimeoutSeconds":10,"States":{"W":{"Type":"Wait","Seconds":60,"End":true}}}`)
	clk := clock.NewFake(time.Unix(0, 0))
	results := make(chan *Result, 1)
	go func() {
		res, err := New(nil, clk, nil, nil).Run(context.Background(), Execution{ID: "e", Machine: m}, nil)
		if err != nil {
			t.Error(err)
		}
		results <- res
	}()
	for clk.Pending() < 2 { // the execution deadline and the Wait
		waitForTimer(clk)
	}
	clk.Advance(10 * time.Second)
	res := <-results
	if res.Status != StatusTimedOut || res.History[len(res.History)-1].Type != ExecutionTimedOut {
		t.Fatalf("status %s, last event %s; want TIMED_OUT", res.Status, res.History[len(res.History)-1].Type)
	}
}

func TestHistoryLimitEndsLoops(t *testing.T) {
	m := mustParse(t, `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","Next":"A"}}}`)
	x := New(nil, &instantClock{}, nil, nil)
	x.MaxEvents = 100
	res, err := x.Run(context.Background(), Execution{ID: "loop", Machine: m}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusFailed || len(res.History) != 100 || res.History[99].Type != ExecutionFailed {
		t.Fatalf("status %s with %d events, want FAILED after 100", res.Status, len(res.History))
	}
}

// BenchmarkTelemetry runs a Pass chain with a Task in memory (the EXPRESS
// path, where telemetry's share of the time is largest) with telemetry
// off, with a transition counter, and with tracers that sample nothing
// and everything, in one run so that the figures compare.
func BenchmarkTelemetry(b *testing.B) {
	// A Task, then the nine Pass states of passChain(9).
	def := strings.Replace(passChain(9), `"States":{`, `"States":{"T":{"Type":"Task","Resource":"f","Next":"S0"},`, 1)
	m, err := parseDefinition(strings.Replace(def, `"StartAt":"S0"`, `"StartAt":"T"`, 1))
	if err != nil {
		b.Fatal(err)
	}
	tracer := func(s sdktrace.Sampler) trace.Tracer {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(s), sdktrace.WithSyncer(tracetest.NewNoopExporter()))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return tp.Tracer("bench")
	}
	transitions := prometheus.NewCounter(prometheus.CounterOpts{Name: "transitions"})
	counted := func(*Execution) Counter { return transitions }
	echo := InvokerFunc(func(_ context.Context, req TaskRequest) (any, error) { return req.Input, nil })
	for _, bc := range []struct {
		name string
		x    *Executor
	}{
		{"off", &Executor{Invoker: echo, Clock: clock.Real{}}},
		{"counter", &Executor{Invoker: echo, Clock: clock.Real{}, TransitionCounter: counted}},
		{"never-sample", &Executor{Invoker: echo, Clock: clock.Real{}, Tracer: tracer(sdktrace.NeverSample())}},
		{"counter+never-sample", &Executor{Invoker: echo, Clock: clock.Real{}, TransitionCounter: counted, Tracer: tracer(sdktrace.NeverSample())}},
		{"always-sample", &Executor{Invoker: echo, Clock: clock.Real{}, Tracer: tracer(sdktrace.AlwaysSample())}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			input := map[string]any{"k": "v"}
			for i := 0; b.Loop(); i++ {
				exec := Execution{ID: "e" + strconv.Itoa(i), Name: "e", StateMachineName: "m", Machine: m, Input: input}
				if _, err := bc.x.Run(context.Background(), exec, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(10*b.N)/b.Elapsed().Seconds(), "transitions/s")
		})
	}
}
