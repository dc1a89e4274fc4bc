// Package telemetry holds hearth's metrics (Prometheus). Every package
// reports through the Metrics struct, which is exported in one place.
package telemetry

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the node's set of metrics. Labels are bounded: function names
// (which the operator controls), outcomes and phases; never request ids.
type Metrics struct {
	reg *prometheus.Registry

	// Invocations counts finished invocations by function and outcome
	// (success, error, timeout, crash, throttled).
	Invocations *prometheus.CounterVec
	// Starts counts instance acquisitions by function and kind (cold, warm).
	Starts *prometheus.CounterVec
	// Duration is the invocation time (handler only) by function.
	Duration *prometheus.HistogramVec
	// ColdStartPhase is the time of each cold-start phase by function and phase.
	ColdStartPhase *prometheus.HistogramVec
	// StateOps counts state-store operations by store, backend, op and
	// result (ok, error); StateLatency times them by backend and op.
	StateOps     *prometheus.CounterVec
	StateLatency *prometheus.HistogramVec
}

// PoolGauges reports live pool sizes when metrics are scraped.
type PoolGauges func() []PoolGauge

// PoolGauge is one function's instance counts.
type PoolGauge struct {
	Function         string
	Idle, Busy, Wait int
	Provisioned      int
	Evicted          map[string]int64
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
			Name: "hearth_invocations_total", Help: "Finished invocations by function and outcome.",
		}, []string{"function", "outcome"}),
		Starts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_instance_starts_total", Help: "Invocations by whether they found a warm instance or cold-started one.",
		}, []string{"function", "kind"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hearth_invocation_duration_seconds", Help: "Handler time of invocations.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
		}, []string{"function"}),
		ColdStartPhase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hearth_cold_start_phase_seconds", Help: "Time of each cold-start phase (provision, runtime, code, init, handler).",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2, 20),
		}, []string{"function", "phase"}),
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

// Register adds a collector of the caller's (read at scrape time).
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveState records one state-store operation.
func (m *Metrics) ObserveState(store, backend, op string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.StateOps.WithLabelValues(store, backend, op, result).Inc()
	m.StateLatency.WithLabelValues(backend, op).Observe(d.Seconds())
}

// ObservePhases records a cold start's phases.
func (m *Metrics) ObservePhases(function string, phases map[string]time.Duration) {
	for name, d := range phases {
		m.ColdStartPhase.WithLabelValues(function, name).Observe(d.Seconds())
	}
}

var (
	instancesDesc = prometheus.NewDesc("hearth_instances", "Instances by function and state (idle, busy, provisioned).", []string{"function", "state"}, nil)
	queueDesc     = prometheus.NewDesc("hearth_queue_depth", "Invocations waiting for an instance.", []string{"function"}, nil)
	evictedDesc   = prometheus.NewDesc("hearth_pool_evictions_total", "Instances destroyed by reason.", []string{"function", "reason"}, nil)
	prewarmDesc   = prometheus.NewDesc("hearth_prewarms_total", "Instances started ahead of traffic by the keep-alive policy (started), and those that served an invocation (used).", []string{"function", "result"}, nil)
)

type poolCollector struct{ pools PoolGauges }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- instancesDesc
	ch <- queueDesc
	ch <- evictedDesc
	ch <- prewarmDesc
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.pools() {
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(p.Idle), p.Function, "idle")
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(p.Busy), p.Function, "busy")
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(p.Provisioned), p.Function, "provisioned")
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(p.Wait), p.Function)
		ch <- prometheus.MustNewConstMetric(prewarmDesc, prometheus.CounterValue, float64(p.Prewarms), p.Function, "started")
		ch <- prometheus.MustNewConstMetric(prewarmDesc, prometheus.CounterValue, float64(p.PrewarmsUsed), p.Function, "used")
		for reason, n := range p.Evicted {
			ch <- prometheus.MustNewConstMetric(evictedDesc, prometheus.CounterValue, float64(n), p.Function, reason)
		}
	}
}
