// Package sim replays an invocation trace against keep-alive policies and
// measures what each achieves: cold starts, idle memory and wasted pre-warms.
//
// The simulation is deterministic: the same trace and options always give the
// same numbers. Functions are independent (each has its own pool and its own
// policy state), so they are simulated one by one and the results summed.
package sim

import (
	"math"
	"time"
)

// Trace is a set of functions and the invocations they received.
type Trace struct {
	// Start is when the trace begins; Length how long it covers.
	Start  time.Time
	Length time.Duration
	// Functions are in the order they were read; their order does not
	// change any result.
	Functions []*Function
}

// Function is one function of a trace.
type Function struct {
	// Name identifies the function (for Azure traces, owner/app/function).
	Name string
	// App groups functions that share memory figures (Azure reports memory
	// per application).
	App string
	// MemoryMB is the memory one warm instance holds.
	MemoryMB float64
	// Arrivals are the invocations, ordered by At.
	Arrivals []Arrival
}

// Arrival is one invocation.
type Arrival struct {
	// At is the offset of the arrival from the trace start.
	At time.Duration
	// Duration is how long it runs.
	Duration time.Duration
}

// Invocations counts the arrivals of all functions.
func (t *Trace) Invocations() int {
	n := 0
	for _, f := range t.Functions {
		n += len(f.Arrivals)
	}
	return n
}

// Durations gives execution times for an Azure function's invocations, as a
// piecewise-linear distribution through reported percentiles.
type Durations struct {
	// Quantiles are (probability, milliseconds) points, increasing in both.
	Quantiles [][2]float64
}

// Sample maps u in [0,1) to a duration by interpolating the percentiles.
func (d Durations) Sample(u float64) time.Duration {
	q := d.Quantiles
	if len(q) == 0 {
		return 0
	}
	ms := q[len(q)-1][1]
	for i := 1; i < len(q); i++ {
		if u <= q[i][0] {
			p0, p1 := q[i-1], q[i]
			frac := 0.0
			if p1[0] > p0[0] {
				frac = (u - p0[0]) / (p1[0] - p0[0])
			}
			ms = p0[1] + frac*(p1[1]-p0[1])
			break
		}
	}
	return time.Duration(math.Max(ms, 0) * float64(time.Millisecond))
}

// rng is a small deterministic generator (SplitMix64): the simulator needs
// reproducible streams seeded per function, independent of Go's math/rand
// versions.
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform number in [0,1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// hash64 is FNV-1a, used to derive per-function seeds from names so that a
// function's arrivals do not depend on which other functions are in the file.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Head returns the first d of the trace: the functions with only the
// arrivals before d. Tuning on a trace's head and reporting on its tail keeps
// results honest.
func (t *Trace) Head(d time.Duration) *Trace {
	h := &Trace{Start: t.Start, Length: min(d, t.Length)}
	for _, f := range t.Functions {
		g := *f
		n := 0
		for n < len(f.Arrivals) && f.Arrivals[n].At < h.Length {
			n++
		}
		g.Arrivals = f.Arrivals[:n:n]
		h.Functions = append(h.Functions, &g)
	}
	return h
}
