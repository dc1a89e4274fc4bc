package async

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// promRegistry adapts a prometheus.Registry to telemetry.Registerer.
type promRegistry struct{ *prometheus.Registry }

func (r promRegistry) Register(c prometheus.Collector) { r.MustRegister(c) }

// TestMetricsCountAttemptsRetriesAndDeadLetters: each attempt is counted
// by outcome, each scheduled retry and each dead letter once.
func TestMetricsCountAttemptsRetriesAndDeadLetters(t *testing.T) {
	env := newEnv(t, nil)
	reg := promRegistry{prometheus.NewRegistry()}
	s := env.serviceWith(t, "n1", func(o *Options) { o.Metrics = reg })
	failFirst := func(n int, typ string) behaviour {
		return func(_ context.Context, call int, _ runtime.Request) (runtime.Response, error) {
			if call <= n {
				return failing(typ), nil
			}
			return runtime.Response{Status: 200}, nil
		}
	}
	tests := []struct {
		fn                string
		retries           int
		do                behaviour
		status            string
		success, errors   float64
		retried, deadLets float64
	}{
		{"once", 2, ok(""), StatusSucceeded, 1, 0, 0, 0},
		{"second-time", 2, failFirst(1, "HandlerError"), StatusSucceeded, 1, 1, 1, 0},
		{"doomed", 1, failFirst(10, "HandlerError"), StatusFailed, 0, 2, 1, 1},
		{"picky", 3, failFirst(10, "BadRequest"), StatusFailed, 0, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			env.node.add(tt.fn, registry.Config{Retries: ptr(tt.retries)}, tt.do)
			id, err := s.Enqueue(context.Background(), tt.fn, runtime.Request{}, "")
			if err != nil {
				t.Fatal(err)
			}
			waitStatus(t, s, id, tt.status)
			got := []float64{
				testutil.ToFloat64(s.met.attempts.WithLabelValues(tt.fn, "success")),
				testutil.ToFloat64(s.met.attempts.WithLabelValues(tt.fn, "error")),
				testutil.ToFloat64(s.met.retries.WithLabelValues(tt.fn)),
				testutil.ToFloat64(s.met.deadLettered.WithLabelValues(tt.fn)),
			}
			want := []float64{tt.success, tt.errors, tt.retried, tt.deadLets}
			for i, name := range []string{"success attempts", "error attempts", "retries", "dead letters"} {
				if got[i] != want[i] {
					t.Errorf("%s = %v, want %v", name, got[i], want[i])
				}
			}
		})
	}
	// Exported under their documented names.
	for _, name := range []string{"hearth_async_attempts_total", "hearth_async_retries_total", "hearth_async_dead_lettered_total"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("%s: %d series exported (%v)", name, n, err)
		}
	}
}
