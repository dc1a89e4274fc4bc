package sim

import (
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/policy"
)

// TestBounds checks the two reference rows on a small trace of two 1 GB
// functions over an hour, measured after the first 10 minutes.
func TestBounds(t *testing.T) {
	at := func(min float64, dur time.Duration) Arrival {
		return Arrival{At: time.Duration(min * float64(time.Minute)), Duration: dur}
	}
	tr := &Trace{Length: time.Hour, Functions: []*Function{
		// Every 15 minutes: a 15-minute keep-alive would make it all warm.
		{Name: "timer", MemoryMB: 1024, Arrivals: []Arrival{
			at(0, time.Second), at(15, time.Second), at(30, time.Second), at(45, time.Second),
		}},
		// Two at once, then three at once later: the third is a new peak.
		{Name: "burst", MemoryMB: 1024, Arrivals: []Arrival{
			at(5, time.Minute), at(5, time.Minute), at(20, time.Minute), at(20, time.Minute), at(20, time.Minute),
		}},
	}}
	opts := Options{Train: 10 * time.Minute}
	tests := []struct {
		name      string
		budget    float64
		wantCold  int // hindsight_ttl
		wantScale int
	}{
		// No memory: every measured arrival is cold (3 timer, 3 burst).
		{"no budget", 0, 6, 2},
		// Enough for the timer's 15 minutes (idle 10→15, then three times
		// 15 minutes less the runs: 2997 GB-s) but not for the burst.
		{"room for the timer", 3000, 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Bounds(tr, opts, tt.budget)
			if err != nil {
				t.Fatalf("Bounds: %v", err)
			}
			keepAll, hind := res[0], res[1]
			// keep_all: the timer is always warm; the burst had two
			// instances, so at 20 minutes only the third is cold.
			if keepAll.Policy != "keep_all" || keepAll.Cold != 1 || keepAll.ColdScale != 1 {
				t.Errorf("keep_all = %+v, want 1 cold start, a scale-up", keepAll)
			}
			if hind.Policy != "hindsight_ttl" || hind.Cold != tt.wantCold || hind.ColdScale != tt.wantScale {
				t.Errorf("hindsight_ttl = %+v, want %d cold starts, %d scale-ups", hind, tt.wantCold, tt.wantScale)
			}
			if hind.WastedGBs > tt.budget+1e-6 {
				t.Errorf("hindsight_ttl wastes %v GB-s, over the budget %v", hind.WastedGBs, tt.budget)
			}
			// No single keep-alive within the budget does better.
			for _, ttl := range hindsightTTLs {
				r := runOne(tr, policy.Named{Name: "f", New: func(policy.Function) policy.Policy { return policy.NewFixed(ttl) }}, opts)
				if r.WastedGBs <= tt.budget && r.Cold < hind.Cold {
					t.Errorf("fixed %v: %d cold starts within budget, fewer than hindsight_ttl's %d", ttl, r.Cold, hind.Cold)
				}
			}
		})
	}
}
