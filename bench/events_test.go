package bench

import (
	"context"
	"testing"
	"time"
)

// TestEventsReportsEveryResult runs the events bench with tiny counts and
// checks that every result the issue names is reported with a positive
// value. The figures themselves are printed, never asserted.
func TestEventsReportsEveryResult(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a guest and starts a node")
	}
	rep, err := Events(context.Background(), EventsOptions{GuestDir: "./eventsguest", NoopWAT: "../examples/wat-echo/echo.wat", Duration: 200 * time.Millisecond,
		Clients: 4, WorkQueueMessages: 500, LatencySamples: 20, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"events.async.accepted_per_s", "events.async.completed_per_s", "events.async.sustained_per_s",
		"events.async.go_sdk.completed_per_s", "events.async.accept_cpu_us", "events.async.complete_cpu_us",
		"baseline.jetstream.publish_per_s", "baseline.jetstream.workqueue_per_s",
		"events.pubsub.latency.p50_ms", "events.pubsub.latency.p99_ms",
	} {
		if v := rep.Value(name); v <= 0 {
			t.Errorf("%s = %v, want a positive figure", name, v)
		}
	}
	if len(rep.Notes) == 0 {
		t.Error("no notes against the targets")
	}
	for _, r := range rep.Results {
		t.Logf("%s = %.3f %s", r.Name, r.Value, r.Unit)
	}
}
