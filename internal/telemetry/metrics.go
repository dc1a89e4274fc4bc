// Package telemetry holds hearth's metrics (Prometheus). Every package
// reports through the Metrics struct, which is exported in one place.
package telemetry

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the node's set of metrics. Labels are bounded: function names
// (which the operator controls), the versions a node is serving or
// draining (ForgetVersion drops a retired version's series), outcomes and
// phases; never request ids.
type Metrics struct {
	reg *prometheus.Registry

	// Invocations counts finished invocations by function, version and
	// outcome (success, error, timeout, crash, throttled).
	Invocations *prometheus.CounterVec
	// Starts counts instance acquisitions by function, version and kind
	// (cold, warm).
	Starts *prometheus.CounterVec
	// Duration is the invocation time (handler only) by function and version.
	Duration *prometheus.HistogramVec
	// ColdStartPhase is the time of each cold-start phase by function,
	// version and phase.
	ColdStartPhase *prometheus.HistogramVec
	// StateOps counts state-store operations by store, backend, op and
	// result (ok, error); StateLatency times them by backend and op.
	StateOps     *prometheus.CounterVec
	StateLatency *prometheus.HistogramVec
	stateSeries  sync.Map // stateKey → *stateSeries
}

// PoolGauges reports live pool sizes when metrics are scraped.
type PoolGauges func() []PoolGauge

// PoolGauge is the instance counts of one function version's pool: the
// active version's, or a replaced version's that is still draining.
type PoolGauge struct {
	Function         string
	Version          int64
	Idle, Busy, Wait int
	Provisioned      int
	// MemoryBytes is the memory held by the pool's live instances: each
	// instance counted at its configured memory limit (wasm linear memory
	// or process RSS cap), an upper bound of what they use.
	MemoryBytes int64
	Evicted     map[string]int64
	// Prewarms and PrewarmsUsed count instances the policy started ahead of
	// traffic, and those of them that served an invocation.
	Prewarms, PrewarmsUsed int64
}

// NewMetrics registers hearth's metrics and the Go runtime's collectors.
func NewMetrics(pools PoolGauges) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		Invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_invocations_total", Help: "Finished invocations by function, version and outcome.",
		}, []string{"function", "version", "outcome"}),
		Starts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_instance_starts_total", Help: "Invocations by whether they found a warm instance or cold-started one.",
		}, []string{"function", "version", "kind"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hearth_invocation_duration_seconds", Help: "Handler time of invocations.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
		}, []string{"function", "version"}),
		ColdStartPhase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hearth_cold_start_phase_seconds", Help: "Time of each cold-start phase (provision, runtime, code, init, handler).",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2, 20),
		}, []string{"function", "version", "phase"}),
	}
	m.StateOps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hearth_state_operations_total", Help: "State-store operations by store, backend, operation and result.",
	}, []string{"store", "backend", "op", "result"})
	m.StateLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hearth_state_operation_duration_seconds", Help: "State-store operation time by backend and operation.",
		Buckets: prometheus.ExponentialBuckets(0.000005, 2, 20),
	}, []string{"backend", "op"})
	reg.MustRegister(m.StateOps, m.StateLatency)
	reg.MustRegister(m.Invocations, m.Starts, m.Duration, m.ColdStartPhase,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pools != nil {
		reg.MustRegister(&poolCollector{pools: pools})
	}
	return m
}

// Registerer takes collectors to export. *Metrics is one; packages that
// keep their own metrics (the async service, the workflow engine) take a
// Registerer so that tests can give them a plain Prometheus registry.
type Registerer interface {
	Register(prometheus.Collector)
}

// Register adds a collector of the caller's (read at scrape time).
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// stateKey names the series of one kind of state operation.
type stateKey struct {
	store, backend, op string
	failed             bool
}

// stateSeries are the metric children of one stateKey, looked up once:
// resolving two label sets took ~130 ns of every state operation (a cached
// Get from a function is ~3 µs in all), a map hit on the cached pair half
// of that (BenchmarkObserveState).
type stateSeries struct {
	ops     prometheus.Counter
	latency prometheus.Observer
}

// ObserveState records one state-store operation.
func (m *Metrics) ObserveState(store, backend, op string, d time.Duration, err error) {
	k := stateKey{store: store, backend: backend, op: op, failed: err != nil}
	s, ok := m.stateSeries.Load(k)
	if !ok {
		result := "ok"
		if k.failed {
			result = "error"
		}
		s, _ = m.stateSeries.LoadOrStore(k, &stateSeries{
			ops:     m.StateOps.WithLabelValues(store, backend, op, result),
			latency: m.StateLatency.WithLabelValues(backend, op),
		})
	}
	ss := s.(*stateSeries)
	ss.ops.Inc()
	ss.latency.Observe(d.Seconds())
}

// VersionLabel is a function version as its metrics label it.
func VersionLabel(version int64) string { return strconv.FormatInt(version, 10) }

// ForgetVersion deletes every series of one function version, so that
// label values do not pile up with each deploy. Call it once the version
// no longer serves or drains invocations on this node; a scrape in between
// sees its last counts, later scrapes see the series end.
func (m *Metrics) ForgetVersion(function string, version int64) {
	l := prometheus.Labels{"function": function, "version": VersionLabel(version)}
	m.Invocations.DeletePartialMatch(l)
	m.Starts.DeletePartialMatch(l)
	m.Duration.DeletePartialMatch(l)
	m.ColdStartPhase.DeletePartialMatch(l)
}

var (
	instancesDesc = prometheus.NewDesc("hearth_instances", "Instances by function, version and state (idle, busy, provisioned).", []string{"function", "version", "state"}, nil)
	queueDesc     = prometheus.NewDesc("hearth_queue_depth", "Invocations waiting for an instance.", []string{"function", "version"}, nil)
	evictedDesc   = prometheus.NewDesc("hearth_pool_evictions_total", "Instances destroyed by reason.", []string{"function", "version", "reason"}, nil)
	prewarmDesc   = prometheus.NewDesc("hearth_prewarms_total", "Instances started ahead of traffic by the keep-alive policy (started), and those that served an invocation (used).", []string{"function", "version", "result"}, nil)
	memoryDesc    = prometheus.NewDesc("hearth_instance_memory_bytes", "Memory held by live instances, each counted at its configured memory limit.", []string{"function", "version"}, nil)
)

type poolCollector struct{ pools PoolGauges }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- instancesDesc
	ch <- queueDesc
	ch <- evictedDesc
	ch <- prewarmDesc
	ch <- memoryDesc
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.pools() {
		fn, v := p.Function, VersionLabel(p.Version)
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(p.Idle), fn, v, "idle")
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(p.Busy), fn, v, "busy")
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(p.Provisioned), fn, v, "provisioned")
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(p.Wait), fn, v)
		ch <- prometheus.MustNewConstMetric(memoryDesc, prometheus.GaugeValue, float64(p.MemoryBytes), fn, v)
		ch <- prometheus.MustNewConstMetric(prewarmDesc, prometheus.CounterValue, float64(p.Prewarms), fn, v, "started")
		ch <- prometheus.MustNewConstMetric(prewarmDesc, prometheus.CounterValue, float64(p.PrewarmsUsed), fn, v, "used")
		for reason, n := range p.Evicted {
			ch <- prometheus.MustNewConstMetric(evictedDesc, prometheus.CounterValue, float64(n), fn, v, reason)
		}
	}
}
