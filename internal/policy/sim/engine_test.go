package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/policy"
)

// script is a policy whose decisions a test spells out.
type script struct {
	decide func(call int, s policy.State) policy.Decision
	calls  int
	conc   []int // Concurrent of each observed invocation
}

func (p *script) Observe(inv policy.Invocation) { p.conc = append(p.conc, inv.Concurrent) }

func (p *script) Decide(_ time.Time, s policy.State) policy.Decision {
	p.calls++
	return p.decide(p.calls, s)
}

func always(d policy.Decision) func(int, policy.State) policy.Decision {
	return func(_ int, s policy.State) policy.Decision {
		if s.Expired {
			return policy.Decision{}
		}
		return d
	}
}

func arrivals(at ...float64) []Arrival {
	var out []Arrival
	for _, s := range at {
		out = append(out, Arrival{At: time.Duration(s * float64(time.Second)), Duration: 10 * time.Second})
	}
	return out
}

// TestReplay checks that the simulated pool applies decisions exactly as
// policy.Decision documents. Instances are 1 GB, so wasted GB-s are idle
// seconds; every invocation runs 10 seconds; the trace lasts 300 seconds.
func TestReplay(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name     string
		arrivals []Arrival
		train    time.Duration
		decide   func(int, policy.State) policy.Decision
		want     tally
		wantConc []int
	}{
		{
			name:     "keep-alive covers the next arrival",
			arrivals: arrivals(0, 100),
			decide:   always(policy.Decision{KeepAlive: 120 * sec}),
			// idle 10→100, then 110→230
			want: tally{invocations: 2, cold: 1, coldFirst: 1, wastedGBs: 90 + 120},
		},
		{
			name:     "keep-alive too short",
			arrivals: arrivals(0, 100),
			decide:   always(policy.Decision{KeepAlive: 60 * sec}),
			// the second arrival finds no instance: a cold start after idle
			want: tally{invocations: 2, cold: 2, coldFirst: 1, coldIdle: 1, wastedGBs: 60 + 60},
		},
		{
			name:     "pre-warm before the next arrival; the last one goes unused",
			arrivals: arrivals(0, 100),
			decide:   always(policy.Decision{PreWarm: 80 * sec, KeepAlive: 30 * sec, Warm: 1}),
			// pre-warmed at 90 (used at 100) and at 190 (released at 220)
			want: tally{invocations: 2, cold: 1, coldFirst: 1, wastedGBs: 10 + 30, prewarms: 2, prewarmsUnused: 1},
		},
		{
			name:     "concurrent arrivals each need an instance",
			arrivals: arrivals(0, 0, 100),
			decide:   always(policy.Decision{KeepAlive: 600 * sec}),
			// one instance idle 10→100 then 110→300, the other 10→300
			// the second arrival finds the first instance busy: a scale-up
			want:     tally{invocations: 3, cold: 2, coldFirst: 1, coldScale: 1, wastedGBs: 90 + 190 + 290},
			wantConc: []int{1, 2, 1},
		},
		{
			name:     "warm without delay starts instances now",
			arrivals: arrivals(0),
			decide:   always(policy.Decision{KeepAlive: 60 * sec, Warm: 3}),
			want:     tally{invocations: 1, cold: 1, coldFirst: 1, wastedGBs: 3 * 60, prewarms: 2, prewarmsUnused: 2},
		},
		{
			name:     "a first invocation in the training part is not counted",
			arrivals: arrivals(0, 100, 100),
			train:    50 * sec,
			decide:   always(policy.Decision{KeepAlive: 30 * sec}),
			// the first instance idles 10→40, all in the training part; at 100
			// one arrival is cold after idle, the other at the same instant
			// scales up; both instances idle 110→140
			want: tally{invocations: 2, cold: 2, coldIdle: 1, coldScale: 1, wastedGBs: 30 + 30},
		},
		{
			name:     "warm with an empty window starts nothing",
			arrivals: arrivals(0, 100),
			decide:   always(policy.Decision{Warm: 2}),
			want:     tally{invocations: 2, cold: 2, coldFirst: 1, coldIdle: 1},
		},
		{
			name:     "the training part is not measured",
			arrivals: arrivals(0, 100),
			train:    50 * sec,
			decide:   always(policy.Decision{KeepAlive: 120 * sec}),
			want:     tally{invocations: 1, cold: 0, wastedGBs: 50 + 120},
		},
		{
			name:     "a closed window can schedule a later pre-warm",
			arrivals: arrivals(0, 100),
			decide: func(call int, s policy.State) policy.Decision {
				switch {
				case !s.Expired:
					return policy.Decision{KeepAlive: 20 * sec}
				case call == 2: // the window 10→30 closed
					return policy.Decision{PreWarm: 50 * sec, KeepAlive: 20 * sec, Warm: 1}
				default:
					return policy.Decision{}
				}
			},
			// idle 10→30, pre-warmed 80→100 and used, idle 110→130
			want: tally{invocations: 2, cold: 1, coldFirst: 1, wastedGBs: 20 + 20 + 20, prewarms: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := &Function{Name: "f", MemoryMB: 1024, Arrivals: tt.arrivals}
			pol := &script{decide: tt.decide}
			got := replay(fn, pol, time.Time{}, tt.train, 300*sec)
			if diff := got.wastedGBs - tt.want.wastedGBs; diff > 1e-6 || diff < -1e-6 {
				t.Errorf("wasted = %v GB-s, want %v", got.wastedGBs, tt.want.wastedGBs)
			}
			got.wastedGBs = tt.want.wastedGBs
			if got != tt.want {
				t.Errorf("tally = %+v, want %+v", got, tt.want)
			}
			if tt.wantConc != nil && !slices.Equal(pol.conc, tt.wantConc) {
				t.Errorf("observed concurrency %v, want %v", pol.conc, tt.wantConc)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		v    []float64
		p    float64
		want float64
	}{
		{nil, 75, 0},
		{[]float64{7}, 75, 7},
		{[]float64{0, 100}, 75, 75},
		{[]float64{100, 0, 50, 25, 75}, 75, 75},
		{[]float64{0, 0, 0, 100}, 75, 25},
	}
	for _, tt := range tests {
		if got := percentile(tt.v, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.v, tt.p, got, tt.want)
		}
	}
}

func TestRunRejectsTrainingLongerThanTrace(t *testing.T) {
	tr := &Trace{Length: time.Hour}
	if _, err := Run(tr, policy.Builtin(), Options{Train: time.Hour}); err == nil {
		t.Fatal("Run accepted a training part as long as the trace")
	}
}
