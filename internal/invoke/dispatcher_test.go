package invoke

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/fnlog"
	"github.com/hearth-sh/hearth/internal/registry"
	hrt "github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/telemetry"
)

// gateRuntime's instances answer at once, or, while a test holds the gate,
// wait for it: an invocation in flight while its version is replaced.
type gateRuntime struct{ gate chan struct{} }

type gateTemplate struct{ gate chan struct{} }

type gateInstance struct{ gate chan struct{} }

func (r gateRuntime) Prepare(context.Context, hrt.Spec, hrt.Artifact) (hrt.Template, error) {
	return gateTemplate(r), nil
}

func (t gateTemplate) Spawn(context.Context) (hrt.Instance, hrt.Phases, error) {
	return gateInstance(t), hrt.Phases{Provision: time.Microsecond, Init: time.Millisecond}, nil
}

func (gateTemplate) Close(context.Context) error { return nil }

func (i gateInstance) Invoke(ctx context.Context, req hrt.Request) (hrt.Response, error) {
	if string(req.Body) == "wait" {
		select {
		case <-i.gate:
		case <-ctx.Done():
			return hrt.Response{}, ctx.Err()
		}
	}
	return hrt.Response{Status: 200, Body: req.Body}, nil
}

func (gateInstance) Close(context.Context) error { return nil }

func newTestDispatcher(t *testing.T, m *telemetry.Metrics) (*Dispatcher, chan struct{}) {
	t.Helper()
	gate := make(chan struct{})
	d := New(Options{Runtimes: map[string]hrt.Runtime{"wasm": gateRuntime{gate}}, Clock: clock.NewFake(time.Unix(0, 0)),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Logs: fnlog.New(10), Metrics: m})
	t.Cleanup(func() { d.Close(context.Background()) })
	return d, gate
}

func activate(t *testing.T, d *Dispatcher, name string, version int64) {
	t.Helper()
	fn := registry.Function{Name: name, Version: version,
		Config: registry.Config{Runtime: "wasm", MemoryMB: 64, Concurrency: 2, Timeout: registry.Duration(time.Minute)}}
	tmpl, err := d.Prepare(context.Background(), fn, nil)
	if err != nil {
		t.Fatalf("prepare %s v%d: %v", name, version, err)
	}
	if !d.Activate(fn, tmpl) {
		t.Fatalf("%s v%d not activated", name, version)
	}
}

func invoke(t *testing.T, d *Dispatcher, name, body string) {
	t.Helper()
	if _, err := d.Invoke(context.Background(), name, hrt.Request{Body: []byte(body)}); err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
}

// waitRetired waits until every replaced version has drained and been
// forgotten (retire runs in its own goroutine).
func waitRetired(t *testing.T, d *Dispatcher) {
	t.Helper()
	for d.Retiring() > 0 {
		if t.Context().Err() != nil {
			t.Fatal("versions never finished retiring")
		}
		runtime.Gosched()
	}
}

// series lists a collector's series as "label=value,..." (sorted by label
// name) with their count: a counter's value or a histogram's sample count.
func series(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 256)
	go func() { c.Collect(ch); close(ch) }()
	out := map[string]float64{}
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatalf("write metric: %v", err)
		}
		var labels []string
		for _, l := range pb.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(labels)
		v := pb.GetCounter().GetValue() + pb.GetGauge().GetValue() + float64(pb.GetHistogram().GetSampleCount())
		out[strings.Join(labels, ",")] = v
	}
	return out
}

func TestVersionSeries(t *testing.T) {
	tests := []struct {
		name string
		// run deploys and invokes; then every replaced version has retired.
		run  func(t *testing.T, d *Dispatcher, gate chan struct{})
		want map[string]float64 // hearth_invocations_total, but its zeros
	}{
		{"one version", func(t *testing.T, d *Dispatcher, _ chan struct{}) {
			activate(t, d, "f", 1)
			invoke(t, d, "f", "a")
			invoke(t, d, "f", "b")
		}, map[string]float64{"function=f,outcome=success,version=1": 2}},
		{"a redeploy drops the old version", func(t *testing.T, d *Dispatcher, _ chan struct{}) {
			activate(t, d, "f", 1)
			invoke(t, d, "f", "a")
			activate(t, d, "f", 2)
			invoke(t, d, "f", "b")
		}, map[string]float64{"function=f,outcome=success,version=2": 1}},
		{"a delete drops every series", func(t *testing.T, d *Dispatcher, _ chan struct{}) {
			activate(t, d, "f", 1)
			activate(t, d, "g", 1)
			invoke(t, d, "f", "a")
			invoke(t, d, "g", "a")
			d.Deactivate("f")
		}, map[string]float64{"function=g,outcome=success,version=1": 1}},
		{"the same version deployed again while draining keeps its series", func(t *testing.T, d *Dispatcher, gate chan struct{}) {
			activate(t, d, "f", 1)
			invoke(t, d, "f", "a")
			// An invocation in flight keeps the deleted v1 draining while
			// v1 serves again.
			done := make(chan error, 1)
			go func() {
				_, err := d.Invoke(context.Background(), "f", hrt.Request{Body: []byte("wait")})
				done <- err
			}()
			for busy(d.PoolGauges(), 1) != 1 {
				runtime.Gosched()
			}
			d.Deactivate("f")
			activate(t, d, "f", 1)
			close(gate)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			waitRetired(t, d)
			invoke(t, d, "f", "b")
		}, map[string]float64{"function=f,outcome=success,version=1": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := telemetry.NewMetrics(nil)
			d, gate := newTestDispatcher(t, m)
			tt.run(t, d, gate)
			waitRetired(t, d)
			all := series(t, m.Invocations)
			got := map[string]float64{} // outcomes that happened
			for k, v := range all {
				if !hasVersionOf(k, tt.want) {
					t.Fatalf("invocations has %s, a version that retired", k)
				}
				if v != 0 {
					got[k] = v
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("series %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("series %v, want %v", got, tt.want)
				}
			}
			// The other vectors follow the same versions.
			for name, c := range map[string]prometheus.Collector{"starts": m.Starts, "duration": m.Duration, "phases": m.ColdStartPhase} {
				for k := range series(t, c) {
					if !hasVersionOf(k, tt.want) {
						t.Fatalf("%s has %s, a version that retired", name, k)
					}
				}
			}
		})
	}
}

// hasVersionOf tells whether series k is of a function version in want.
func hasVersionOf(k string, want map[string]float64) bool {
	fv := func(s string) (fn, v string) {
		for _, l := range strings.Split(s, ",") {
			if name, val, _ := strings.Cut(l, "="); name == "function" {
				fn = val
			} else if name == "version" {
				v = val
			}
		}
		return fn, v
	}
	fn, v := fv(k)
	for w := range want {
		if wf, wv := fv(w); wf == fn && wv == v {
			return true
		}
	}
	return false
}

// TestDrainingVersion: a replaced version's busy instance stays in the pool
// gauges and its series until its invocation ends.
func TestDrainingVersion(t *testing.T) {
	m := telemetry.NewMetrics(nil)
	d, gate := newTestDispatcher(t, m)
	activate(t, d, "f", 1)
	done := make(chan error, 1)
	go func() {
		_, err := d.Invoke(context.Background(), "f", hrt.Request{Body: []byte("wait")})
		done <- err
	}()
	for busy(d.PoolGauges(), 1) != 1 {
		runtime.Gosched()
	}
	activate(t, d, "f", 2)
	invoke(t, d, "f", "a")
	gauges := d.PoolGauges()
	if busy(gauges, 1) != 1 || len(gauges) != 2 {
		t.Fatalf("gauges while v1 drains: %+v", gauges)
	}
	if d.Retiring() != 1 {
		t.Fatalf("%d versions retiring, want 1", d.Retiring())
	}
	if fg := d.FunctionPoolGauges(); len(fg) != 1 || fg[0].Version != 2 || fg[0].Busy != 1 || fg[0].Idle < 1 {
		t.Fatalf("per-function gauges while v1 drains: %+v", fg)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatalf("draining invocation: %v", err)
	}
	waitRetired(t, d)
	if gauges := d.PoolGauges(); len(gauges) != 1 || gauges[0].Version != 2 {
		t.Fatalf("gauges after v1 drained: %+v", gauges)
	}
	for k := range series(t, m.Invocations) {
		if strings.Contains(k, "version=1") {
			t.Fatalf("v1 series %s outlived its pool", k)
		}
	}
}

func busy(gauges []telemetry.PoolGauge, version int64) int {
	for _, g := range gauges {
		if g.Version == version {
			return g.Busy
		}
	}
	return -1
}

func TestMemoryGauge(t *testing.T) {
	m := telemetry.NewMetrics(nil)
	d, gate := newTestDispatcher(t, m)
	activate(t, d, "f", 3)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := d.Invoke(context.Background(), "f", hrt.Request{Body: []byte("wait")})
			done <- err
		}()
	}
	for busy(d.PoolGauges(), 3) != 2 {
		runtime.Gosched()
	}
	g := d.PoolGauges()[0]
	if want := int64(2 * 64 << 20); g.MemoryBytes != want {
		t.Fatalf("memory %d, want %d (2 instances of 64 MiB)", g.MemoryBytes, want)
	}
	close(gate)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestMetricsOff: without Metrics the dispatcher records nothing and still
// serves, throttling included.
func TestMetricsOff(t *testing.T) {
	d, _ := newTestDispatcher(t, nil)
	activate(t, d, "f", 1)
	invoke(t, d, "f", "a")
	activate(t, d, "f", 2)
	invoke(t, d, "f", "b")
	waitRetired(t, d)
}

func TestTraceParent(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	tests := []struct {
		flags trace.TraceFlags
		want  string
	}{
		{trace.FlagsSampled, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{0, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"},
	}
	for _, tt := range tests {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: tt.flags})
		if got := traceParent(sc); got != tt.want {
			t.Errorf("traceParent = %s, want %s", got, tt.want)
		}
	}
}
