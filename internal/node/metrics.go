package node

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hearth-sh/hearth/internal/workflow/engine"
)

// backlogCollector reports, at scrape time, what waits on the backbone:
// queued async invocations per function, dead letters per function, and
// workflow executions by status. Reading stream state per scrape keeps these
// exact across a cluster without counters that could drift.
type backlogCollector struct{ n *Node }

var (
	asyncDepthDesc = prometheus.NewDesc("hearth_async_queue_depth", "Async invocations queued and not yet completed, by function.", []string{"function"}, nil)
	dlqDesc        = prometheus.NewDesc("hearth_async_dead_letters", "Events in a function's dead-letter queue.", []string{"function"}, nil)
	wfDesc         = prometheus.NewDesc("hearth_workflow_executions", "Workflow executions this node knows, by status.", []string{"status"}, nil)
)

func (c backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- asyncDepthDesc
	ch <- dlqDesc
	ch <- wfDesc
}

func (c backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n := c.n
	if n.backbone != nil {
		for _, s := range []struct {
			stream, prefix string
			desc           *prometheus.Desc
		}{{"HEARTH_ASYNC", "hearth.async.invoke.", asyncDepthDesc}, {"HEARTH_DLQ", "hearth.async.dlq.", dlqDesc}} {
			perFunction(ctx, n.backbone.JS, s.stream, s.prefix, func(fn string, msgs uint64) {
				ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, float64(msgs), fn)
			})
		}
	}
	if n.workflows != nil {
		if all, err := n.workflows.List(ctx, engine.Filter{}); err == nil {
			counts := map[string]int{"RUNNING": 0, "SUCCEEDED": 0, "FAILED": 0, "TIMED_OUT": 0, "ABORTED": 0}
			for _, e := range all {
				counts[string(e.Status)]++
			}
			for status, k := range counts {
				ch <- prometheus.MustNewConstMetric(wfDesc, prometheus.GaugeValue, float64(k), status)
			}
		}
	}
}

// perFunction counts a stream's messages by the function token that follows
// prefix in their subjects.
func perFunction(ctx context.Context, js jetstream.JetStream, stream, prefix string, emit func(fn string, msgs uint64)) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return // not created yet: nothing queued
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return
	}
	byFn := map[string]uint64{}
	for subj, k := range info.State.Subjects {
		rest := subj[len(prefix):]
		fn := rest
		for i := range len(rest) {
			if rest[i] == '.' {
				fn = rest[:i]
				break
			}
		}
		byFn[fn] += k
	}
	for fn, k := range byFn {
		emit(fn, k)
	}
}
