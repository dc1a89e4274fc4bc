package policy_test

import (
	"fmt"
	"time"

	"github.com/hearth-sh/hearth/internal/policy"
)

// A pool drives its function's policy: Observe when an invocation is
// admitted, Decide when one completes, and again when a window closes.
// Here a timer-triggered function runs every 5 minutes for 2 seconds.
func Example() {
	named, err := policy.Lookup("histogram")
	if err != nil {
		panic(err)
	}
	p := named.New(policy.Function{Name: "report", MemoryMB: 256})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var d policy.Decision
	for i := range 12 {
		at := start.Add(time.Duration(i) * 5 * time.Minute)
		p.Observe(policy.Invocation{Start: at, Duration: 2 * time.Second, Concurrent: 1})
		d = p.Decide(at.Add(2*time.Second), policy.State{Idle: 1})
	}
	fmt.Printf("release now, pre-warm %d instance in %v, keep it %v\n", d.Warm, d.PreWarm, d.KeepAlive)
	// Output: release now, pre-warm 1 instance in 3m0s, keep it 2m30s
}
