package invoke

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hearth-sh/hearth/internal/telemetry"
)

// fnMetrics are one function version's metric series, resolved once at
// activation so that the invoke path does no label lookups and allocates
// nothing for labels.
type fnMetrics struct {
	duration   prometheus.Observer
	cold, warm prometheus.Counter
	// By outcome; throttled apart, as it is counted before an instance.
	success, error, timeout, crash, throttled prometheus.Counter
	// Cold-start phases. The fourth, init or restore (a snapshot restore
	// in place of the function's init), is resolved on the cold start, so
	// that a version only exports the one it has.
	provision, runtime, code, handler prometheus.Observer
	phases                            *prometheus.HistogramVec
	name, version                     string
}

// newFnMetrics resolves a version's series; nil when metrics are off.
func newFnMetrics(m *telemetry.Metrics, name string, version int64) *fnMetrics {
	if m == nil {
		return nil
	}
	v := telemetry.VersionLabel(version)
	outcome := func(o string) prometheus.Counter { return m.Invocations.WithLabelValues(name, v, o) }
	phase := func(p string) prometheus.Observer { return m.ColdStartPhase.WithLabelValues(name, v, p) }
	return &fnMetrics{
		duration: m.Duration.WithLabelValues(name, v),
		cold:     m.Starts.WithLabelValues(name, v, "cold"),
		warm:     m.Starts.WithLabelValues(name, v, "warm"),
		success:  outcome("success"), error: outcome("error"), timeout: outcome("timeout"),
		crash: outcome("crash"), throttled: outcome("throttled"),
		provision: phase("provision"), runtime: phase("runtime"), code: phase("code"), handler: phase("handler"),
		phases: m.ColdStartPhase, name: name, version: v,
	}
}

// observe records one finished invocation. A nil receiver (metrics off)
// records nothing.
func (m *fnMetrics) observe(outcome string, res *Result) {
	if m == nil {
		return
	}
	switch outcome {
	case "success":
		m.success.Inc()
	case "error":
		m.error.Inc()
	case "timeout":
		m.timeout.Inc()
	default:
		m.crash.Inc()
	}
	p := res.Phases
	m.duration.Observe(p.Handler.Seconds())
	if !res.Cold {
		m.warm.Inc()
		return
	}
	m.cold.Inc()
	m.provision.Observe(p.Provision.Seconds())
	m.runtime.Observe(p.Runtime.Seconds())
	m.code.Observe(p.Code.Seconds())
	m.phases.WithLabelValues(m.name, m.version, initPhase(p)).Observe(p.Init.Seconds())
	m.handler.Observe(p.Handler.Seconds())
}
