package async

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hearth-sh/hearth/internal/telemetry"
)

// metrics counts what happens to async invocations on this node. Queue
// depth and dead-letter counts are gauges read from the streams at scrape
// time elsewhere (internal/node); these are the events only a worker sees.
// Labels are function names and fixed outcomes: bounded.
type metrics struct {
	attempts     *prometheus.CounterVec
	retries      *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
}

// newMetrics makes the counters and registers them with reg (nil: counted
// but not exported).
func newMetrics(reg telemetry.Registerer) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_async_attempts_total",
			Help: "Attempts of async invocations and topic deliveries, by outcome (success, error, timeout, crash, interrupted).",
		}, []string{"function", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_async_retries_total",
			Help: "Failed async attempts scheduled to run again after a backoff.",
		}, []string{"function"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_async_dead_lettered_total",
			Help: "Async invocations sent to their function's dead-letter queue.",
		}, []string{"function"}),
	}
	if reg != nil {
		reg.Register(m.attempts)
		reg.Register(m.retries)
		reg.Register(m.deadLettered)
	}
	return m
}
