package policy

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	const m = time.Minute
	// spread puts one idle time in each of n bins: a flat histogram.
	spread := func(n int) []time.Duration {
		var out []time.Duration
		for i := range n {
			out = append(out, time.Duration(i)*m+30*time.Second)
		}
		return out
	}
	tests := []struct {
		name  string
		cfg   HistogramConfig
		gaps  []time.Duration
		state State // zero: the last invocation completed, nothing runs
		want  Decision
	}{
		{
			name: "too little data falls back to keep-alive for the range",
			gaps: repeat(30*m, 3),
			want: Decision{KeepAlive: 4 * time.Hour},
		},
		{
			name: "fallback keep-alive is configurable",
			cfg:  HistogramConfig{Fallback: 10 * m},
			gaps: repeat(30*m, 2),
			want: Decision{KeepAlive: 10 * m},
		},
		{
			// idle times of 30m: head bin 30 → pre-warm at 30m·0.9 = 27m;
			// tail bin 30 → its upper edge 31m·1.1 = 34m6s.
			name: "periodic function is unloaded and pre-warmed before the head",
			gaps: repeat(30*m, 12),
			want: Decision{PreWarm: 27 * m, KeepAlive: 7*m + 6*time.Second, Warm: 1},
		},
		{
			name: "head in the first bin keeps alive until the tail",
			gaps: append(repeat(20*time.Second, 20), 5*m+time.Second),
			// 21 idle times: 5th percentile in bin 0, 99th in bin 5 (6m·1.1).
			want: Decision{KeepAlive: 6*m + 36*time.Second},
		},
		{
			name: "flat histogram is not representative",
			gaps: spread(240),
			want: Decision{KeepAlive: 4 * time.Hour},
		},
		{
			// Idle times 6h, 5h, 7h, 6h, 6h smoothed with weight 0.5:
			// 6, 5.5, 6.25, 6.125, 6.0625 hours.
			name: "mostly out of range: forecast with a 15% margin",
			gaps: []time.Duration{0, 6 * time.Hour, 5 * time.Hour, 7 * time.Hour, 6 * time.Hour, 6 * time.Hour},
			want: forecastWindow(6*time.Hour + 3*time.Minute + 45*time.Second),
		},
		{
			name:  "while others run a scale-out instance gets the standard keep-alive",
			gaps:  repeat(30*m, 12),
			state: State{Busy: 1, Idle: 1},
			want:  Decision{KeepAlive: 10 * m},
		},
		{
			// idle times of 3m: pre-warm at 2m, window ends at 4m·1.1.
			name:  "a scale-out instance is not kept past the window",
			gaps:  repeat(3*m, 12),
			state: State{Busy: 2, Idle: 1},
			want:  Decision{KeepAlive: 4*m + 24*time.Second},
		},
		{
			name:  "nothing more when the window ends",
			gaps:  repeat(30*m, 12),
			state: State{Expired: true},
			want:  Decision{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &driver{p: NewHistogram(tt.cfg), now: t0}
			got := d.gaps(tt.gaps...)
			if tt.state != (State{}) {
				got = d.p.Decide(d.now, tt.state)
			}
			if !near(got, tt.want) {
				t.Errorf("decision = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// forecastWindow is the out-of-range window around a forecast idle time.
func forecastWindow(it time.Duration) Decision {
	pre := time.Duration(float64(it) * 0.85)
	return Decision{PreWarm: pre, KeepAlive: time.Duration(float64(it)*1.15) - pre, Warm: 1}
}

// near compares decisions allowing a millisecond of float rounding.
func near(a, b Decision) bool {
	close := func(x, y time.Duration) bool { return (x - y).Abs() <= time.Millisecond }
	return close(a.PreWarm, b.PreWarm) && close(a.KeepAlive, b.KeepAlive) && a.Warm == b.Warm
}

// TestHistogramKeepsOneInstanceForTheWindow checks that when the last
// invocation completes with several instances idle, only one is kept for the
// application's window: all for the standard keep-alive, then one again,
// started a second after the others are released.
func TestHistogramKeepsOneInstanceForTheWindow(t *testing.T) {
	const m = time.Minute
	d := &driver{p: NewHistogram(HistogramConfig{}), now: t0}
	d.gaps(repeat(30*m, 3)...) // too few idle times: the 4-hour fallback
	steps := []struct {
		after time.Duration
		state State
		want  Decision
	}{
		{0, State{Idle: 3}, Decision{KeepAlive: 10 * m}},
		{10 * m, State{Expired: true}, Decision{PreWarm: time.Second, KeepAlive: 4*time.Hour - 10*m - time.Second, Warm: 1}},
		{4*time.Hour - 10*m, State{Expired: true}, Decision{}},
	}
	for i, st := range steps {
		d.now = d.now.Add(st.after)
		if got := d.p.Decide(d.now, st.state); !near(got, st.want) {
			t.Errorf("step %d: decision = %+v, want %+v", i, got, st.want)
		}
	}
}
