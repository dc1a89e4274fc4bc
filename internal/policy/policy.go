// Package policy decides, per function, how long idle instances stay warm and
// when (and how many) instances are started ahead of traffic.
//
// Policies are pure: they do no I/O and read no clock; every time they see is
// passed in. That keeps them deterministic, so the same trace replayed through
// the simulator (package sim) always gives the same numbers, and a live pool
// driven by a fake clock behaves exactly like the simulator.
//
// # How a pool drives a Policy
//
// A pool owns one Policy per function (made by a Factory) and calls it under
// its own lock; a Policy is not safe for concurrent use.
//
//  1. When an invocation is admitted, the pool calls Observe with its start
//     time and the number of invocations in flight including this one. The
//     duration may be zero when it is not known yet.
//  2. When an invocation completes (its instance turns idle), the pool calls
//     Decide(now, State{Busy, Idle}) and applies the Decision (see Decision).
//  3. When the window of the last Decision ends (now+PreWarm+KeepAlive) with
//     no Decide in between, the pool releases its idle instances and calls
//     Decide(end, State{..., Expired: true}); a policy may schedule a later
//     pre-warm from there. A Decision with an empty window (PreWarm and
//     KeepAlive zero) means: stay cold until the next invocation.
//
// A pool's own floor (min-warm, provisioned concurrency) is applied on top of
// what the policy says; a policy never needs to know about it.
package policy

import (
	"fmt"
	"sort"
	"time"
)

// Policy is the keep-alive and pre-warm policy of one function.
type Policy interface {
	// Observe records an invocation when it is admitted.
	Observe(inv Invocation)
	// Decide says what to do with the function's idle capacity from now until
	// the next call. now must not go backwards between calls.
	Decide(now time.Time, s State) Decision
}

// Invocation is what a policy learns about one invocation.
type Invocation struct {
	// Start is when the invocation was admitted.
	Start time.Time
	// Duration is how long it ran; zero when not known (a live pool observes
	// at admission, before it knows).
	Duration time.Duration
	// Concurrent is the number of invocations of the function in flight,
	// including this one, right after it was admitted. Zero is read as one.
	Concurrent int
}

// State is the pool's view of the function when it asks for a decision.
type State struct {
	// Busy is the number of instances running an invocation.
	Busy int
	// Idle is the number of warm instances waiting for work.
	Idle int
	// Expired is set when Decide is called because the previous decision's
	// window ended without any invocation completing in between.
	Expired bool
}

// Decision tells the pool what to do with its idle instances until the next
// Decide. The window it describes is [now+PreWarm, now+PreWarm+KeepAlive].
//
// Applying a Decision made at time now:
//   - PreWarm == 0: idle instances stay warm; each is released once it has
//     been idle for KeepAlive (counted from its last use, so an instance that
//     is already idle longer than KeepAlive goes now). If fewer than Warm
//     instances exist (busy plus idle), the pool starts the difference now.
//   - PreWarm > 0: all idle instances are released now; at now+PreWarm the
//     pool starts instances until Warm exist (busy plus idle) and keeps each
//     for KeepAlive from its start. A pre-warm is a real cold start done
//     ahead of time; it is cancelled if another Decide comes first.
//
// The zero Decision releases every idle instance now and schedules nothing,
// and so does any Decision whose window is empty (PreWarm and KeepAlive
// zero), whatever its Warm: an instance started for no time would be released
// at once, and a window that ends when it begins would ask again at once.
type Decision struct {
	// PreWarm is how long after now the warm window starts.
	PreWarm time.Duration
	// KeepAlive is how long an instance may stay idle inside the window.
	KeepAlive time.Duration
	// Warm is how many instances should exist when the window starts.
	Warm int
}

// WindowEnd is when the decision's window closes if nothing happens before.
func (d Decision) WindowEnd(now time.Time) time.Time {
	return now.Add(d.PreWarm + d.KeepAlive)
}

// Empty reports whether the decision keeps nothing and schedules nothing.
func (d Decision) Empty() bool { return d.PreWarm <= 0 && d.KeepAlive <= 0 && d.Warm <= 0 }

// Function is what a Factory may know about the function it makes a policy for.
type Function struct {
	// Name identifies the function.
	Name string
	// MemoryMB is the memory one instance holds while warm. Zero means not
	// known; policies that weigh memory then use DefaultMemoryMB.
	MemoryMB float64
}

// DefaultMemoryMB is the instance size assumed when a function's is not known.
const DefaultMemoryMB = 128

// Factory makes the policy state of one function.
type Factory func(fn Function) Policy

// Named is a Factory with the name it is selected by.
type Named struct {
	Name string
	New  Factory
}

// Builtin lists the policies hearth ships, by the names the CLI and function
// config use: "fixed10m" (and "fixed", the same), "fixed20m", "histogram"
// and "forecast".
func Builtin() []Named {
	return []Named{
		{Name: "fixed10m", New: func(Function) Policy { return NewFixed(10 * time.Minute) }},
		{Name: "fixed20m", New: func(Function) Policy { return NewFixed(20 * time.Minute) }},
		{Name: "histogram", New: func(Function) Policy { return NewHistogram(HistogramConfig{}) }},
		{Name: "forecast", New: func(fn Function) Policy { return NewForecast(fn, ForecastConfig{}) }},
	}
}

// Default is the policy name used when a function does not choose one: the
// best in the simulator on held-out data (see the package sim tests).
const Default = "forecast"

// Lookup returns the built-in policy called name ("fixed" is "fixed10m").
func Lookup(name string) (Named, error) {
	if name == "fixed" {
		name = "fixed10m"
	}
	for _, n := range Builtin() {
		if n.Name == name {
			return n, nil
		}
	}
	names := make([]string, 0, 4)
	for _, n := range Builtin() {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	return Named{}, fmt.Errorf("unknown policy %q (known: %v)", name, names)
}
