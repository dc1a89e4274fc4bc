package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/workflow"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// registry is a telemetry.Registerer over a fresh Prometheus registry.
type registry struct{ *prometheus.Registry }

func (r registry) Register(c prometheus.Collector) { r.MustRegister(c) }

// TestMetrics runs executions of STANDARD and EXPRESS machines that
// succeed and fail, and checks the transitions, finished executions and
// durations the engine counts.
func TestMetrics(t *testing.T) {
	reg := registry{prometheus.NewRegistry()}
	h := newHarnessWith(t, func(o *Options) { o.Metrics = reg })
	h.fns.set("add", addOne)
	h.fns.set("boom", func(context.Context, []byte) (any, *runtime.FunctionError) {
		return nil, &runtime.FunctionError{Type: "Boom", Message: "no"}
	})
	h.machine("three", threeTasks)
	h.machine("fails", `{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"T"},"T":{"Type":"Task","Resource":"boom","End":true}}}`)
	if _, err := h.eng.CreateMachine(context.Background(), MachineSpec{Name: "fast", Type: asl.Express,
		Definition: `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","End":true}}}`}); err != nil {
		t.Fatal(err)
	}
	runs := []struct {
		machine string
		status  workflow.Status
	}{
		{"three", workflow.StatusSucceeded},
		{"three", workflow.StatusSucceeded},
		{"fails", workflow.StatusFailed},
		{"fast", workflow.StatusSucceeded},
		{"fast", workflow.StatusSucceeded},
		{"fast", workflow.StatusSucceeded},
	}
	for _, r := range runs {
		done, err := h.eng.StartSync(context.Background(), StartInput{Machine: r.machine, Input: json.RawMessage(`{"N":0}`)})
		if err != nil || done.Status != r.status {
			t.Fatalf("%s: %v %+v, want %s", r.machine, err, done, r.status)
		}
	}
	want := `
# HELP hearth_workflow_executions_finished_total Finished workflow executions by state machine and status (SUCCEEDED, FAILED, TIMED_OUT, ABORTED).
# TYPE hearth_workflow_executions_finished_total counter
hearth_workflow_executions_finished_total{machine="fails",status="FAILED"} 1
hearth_workflow_executions_finished_total{machine="fast",status="SUCCEEDED"} 3
hearth_workflow_executions_finished_total{machine="three",status="SUCCEEDED"} 2
# HELP hearth_workflow_transitions_total Workflow state transitions (states entered) by state machine and type (STANDARD, EXPRESS).
# TYPE hearth_workflow_transitions_total counter
hearth_workflow_transitions_total{machine="fails",type="STANDARD"} 2
hearth_workflow_transitions_total{machine="fast",type="EXPRESS"} 6
hearth_workflow_transitions_total{machine="three",type="STANDARD"} 6
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"hearth_workflow_transitions_total", "hearth_workflow_executions_finished_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "hearth_workflow_execution_duration_seconds"); err != nil || n != 3 {
		t.Errorf("%d duration series (%v), want one per machine", n, err)
	}
}

// TestMetricsAcrossRestart parks an execution on a one-day Wait and
// finishes it in a restarted engine: the new engine counts only the
// transition it made (the Wait it replayed is not one), and the duration
// is the execution's, measured from its recorded start.
func TestMetricsAcrossRestart(t *testing.T) {
	var reg registry
	h := newHarnessWith(t, func(o *Options) {
		reg = registry{prometheus.NewRegistry()} // a restarted process starts from zero
		o.Metrics = reg
	})
	h.machine("daily", `{"StartAt":"P","States":{
		"P":{"Type":"Pass","Next":"W"},
		"W":{"Type":"Wait","Seconds":86400,"Next":"Q"},
		"Q":{"Type":"Pass","End":true}}}`)
	x := h.start("daily", "d", `{}`)
	eventually(t, "the execution to park", func() bool {
		d, err := h.eng.Describe(context.Background(), x.ARN)
		return err == nil && !d.WakeAt.IsZero()
	})
	first := reg
	h.restart()
	h.clk.Advance(24 * time.Hour)
	if done := h.wait(x.ARN); done.Status != workflow.StatusSucceeded {
		t.Fatalf("execution ended %+v", done)
	}
	tests := []struct {
		name string
		reg  registry
		want string
	}{
		{"before the restart", first, `
# HELP hearth_workflow_transitions_total Workflow state transitions (states entered) by state machine and type (STANDARD, EXPRESS).
# TYPE hearth_workflow_transitions_total counter
hearth_workflow_transitions_total{machine="daily",type="STANDARD"} 2
`},
		{"after the restart", reg, `
# HELP hearth_workflow_execution_duration_seconds Start-to-stop time of finished workflow executions by state machine.
# TYPE hearth_workflow_execution_duration_seconds histogram
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="0.001"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="0.004"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="0.016"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="0.064"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="0.256"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="1.024"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="4.096"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="16.384"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="65.536"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="262.144"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="1048.576"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="4194.304"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="16777.216"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="67108.864"} 0
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="268435.456"} 1
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="1.073741824e+06"} 1
hearth_workflow_execution_duration_seconds_bucket{machine="daily",le="+Inf"} 1
hearth_workflow_execution_duration_seconds_sum{machine="daily"} 86400
hearth_workflow_execution_duration_seconds_count{machine="daily"} 1
# HELP hearth_workflow_transitions_total Workflow state transitions (states entered) by state machine and type (STANDARD, EXPRESS).
# TYPE hearth_workflow_transitions_total counter
hearth_workflow_transitions_total{machine="daily",type="STANDARD"} 1
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := testutil.GatherAndCompare(tt.reg, strings.NewReader(tt.want),
				"hearth_workflow_transitions_total", "hearth_workflow_execution_duration_seconds"); err != nil {
				t.Error(err)
			}
		})
	}
}
