package engine

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hearth-sh/hearth/internal/telemetry"
	"github.com/hearth-sh/hearth/internal/workflow"
)

// metrics are the engine's counters. Labels are machine names (which the
// operator chooses, so they are bounded), machine types and final
// statuses; never execution names. The number of executions by status
// is not here: the node reads it from the backbone at scrape time.
type metrics struct {
	transitions *prometheus.CounterVec
	finished    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
}

func newMetrics(reg telemetry.Registerer) *metrics {
	m := &metrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_workflow_transitions_total",
			Help: "Workflow state transitions (states entered) by state machine and type (STANDARD, EXPRESS).",
		}, []string{"machine", "type"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_workflow_executions_finished_total",
			Help: "Finished workflow executions by state machine and status (SUCCEEDED, FAILED, TIMED_OUT, ABORTED).",
		}, []string{"machine", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hearth_workflow_execution_duration_seconds",
			Help: "Start-to-stop time of finished workflow executions by state machine.",
			// 1 ms to about 12 days: executions range from a Pass chain
			// in memory to callbacks that wait for people.
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 16),
		}, []string{"machine"}),
	}
	reg.Register(m.transitions)
	reg.Register(m.finished)
	reg.Register(m.duration)
	return m
}

// transitionCounter is the Executor's TransitionCounter: the counter is
// looked up once per run, so each state pays one atomic add.
func (m *metrics) transitionCounter(exec *workflow.Execution) workflow.Counter {
	return m.transitions.WithLabelValues(exec.StateMachineName, string(exec.Type))
}

// executionFinished records an execution that reached a final status; rec
// has its stop time. Nil m records nothing.
func (m *metrics) executionFinished(rec *Execution) {
	if m == nil {
		return
	}
	m.finished.WithLabelValues(rec.MachineName, string(rec.Status)).Inc()
	if d := rec.StopTime.Sub(rec.StartTime); d >= 0 {
		m.duration.WithLabelValues(rec.MachineName).Observe(d.Seconds())
	}
}
