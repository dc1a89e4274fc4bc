package telemetry

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPoolCollectorAndForgetVersion(t *testing.T) {
	pools := []PoolGauge{{Function: "f", Version: 3, Idle: 1, Busy: 1, MemoryBytes: 128 << 20, Evicted: map[string]int64{"keepalive": 2}}}
	m := NewMetrics(func() []PoolGauge { return pools })
	for _, v := range []string{"2", "3"} {
		m.Invocations.WithLabelValues("f", v, "success").Inc()
		m.Starts.WithLabelValues("f", v, "warm").Inc()
		m.Duration.WithLabelValues("f", v).Observe(time.Millisecond.Seconds())
		m.ColdStartPhase.WithLabelValues("f", v, "init").Observe(time.Millisecond.Seconds())
	}
	m.Invocations.WithLabelValues("g", "2", "success").Inc()
	m.ForgetVersion("f", 2)
	text := scrape(t, m)
	tests := []struct {
		line string
		want bool
	}{
		{`hearth_instance_memory_bytes{function="f",version="3"} 1.34217728e+08`, true},
		{`hearth_instances{function="f",state="busy",version="3"} 1`, true},
		{`hearth_pool_evictions_total{function="f",reason="keepalive",version="3"} 2`, true},
		{`hearth_invocations_total{function="f",outcome="success",version="3"} 1`, true},
		{`hearth_invocations_total{function="g",outcome="success",version="2"} 1`, true},
		{`hearth_invocations_total{function="f",outcome="success",version="2"}`, false},
		{`hearth_instance_starts_total{function="f",kind="warm",version="2"}`, false},
		{`hearth_invocation_duration_seconds_count{function="f",version="2"}`, false},
		{`hearth_cold_start_phase_seconds_count{function="f",phase="init",version="2"}`, false},
		{`hearth_cold_start_phase_seconds_count{function="f",phase="init",version="3"} 1`, true},
	}
	for _, tt := range tests {
		if got := strings.Contains(text, tt.line); got != tt.want {
			t.Errorf("scrape has %s: %v, want %v", tt.line, got, tt.want)
		}
	}
}

// TestObserveState: each operation lands in the series of its store,
// backend, operation and result, however many times the series is reused.
func TestObserveState(t *testing.T) {
	m := NewMetrics(nil)
	ops := []struct {
		store, backend, op string
		err                error
	}{
		{"default", "nats", "get", nil},
		{"default", "nats", "get", nil},
		{"default", "nats", "get", errors.New("down")},
		{"default", "nats", "set", nil},
		{"cache", "memory", "get", nil},
	}
	for _, o := range ops {
		m.ObserveState(o.store, o.backend, o.op, time.Millisecond, o.err)
	}
	tests := []struct {
		labels []string
		want   float64
	}{
		{[]string{"default", "nats", "get", "ok"}, 2},
		{[]string{"default", "nats", "get", "error"}, 1},
		{[]string{"default", "nats", "set", "ok"}, 1},
		{[]string{"cache", "memory", "get", "ok"}, 1},
		{[]string{"cache", "memory", "set", "ok"}, 0},
	}
	for _, tt := range tests {
		if got := testutil.ToFloat64(m.StateOps.WithLabelValues(tt.labels...)); got != tt.want {
			t.Errorf("ops %v = %v, want %v", tt.labels, got, tt.want)
		}
	}
	if got := testutil.CollectAndCount(m.StateLatency); got != 3 {
		t.Errorf("%d latency series, want 3 (nats get, nats set, memory get)", got)
	}
}

func BenchmarkObserveState(b *testing.B) {
	m := NewMetrics(nil)
	for b.Loop() {
		m.ObserveState("default", "nats", "get", time.Microsecond, nil)
	}
}
