package policy

import (
	"testing"
	"time"
)

func TestForecast(t *testing.T) {
	const (
		s = time.Second
		m = time.Minute
	)
	// Most cases turn the fairness weight off so that one cold start is
	// worth exactly ColdCost: 600 GB-s, ten minutes of a 1 GB instance.
	plain := ForecastConfig{ColdCost: 600, Fairness: -1}
	// pad is the lead and lag around a planned arrival after an idle time
	// of g, when after has already been waited.
	pad := func(g, after time.Duration) time.Duration {
		return 2*s + time.Duration(0.02*float64(g-after))
	}
	bimodal := []time.Duration{0}
	for i := range 10 {
		g := 30 * s
		if i%5 == 4 {
			g = time.Hour
		}
		bimodal = append(bimodal, g)
	}
	// The bimodal plan keeps the 30s mode; when that window closes it
	// plans again over the idle times longer than the 30s waited.
	keep30 := 30*s + pad(30*s, 0)
	hourA := time.Hour - pad(time.Hour, keep30)
	hourB := time.Hour + pad(time.Hour, keep30)

	tests := []struct {
		name     string
		cfg      ForecastConfig
		memoryMB float64
		gaps     []time.Duration
		then     func(d *driver) Decision // optional: what happens next
		want     Decision
	}{
		{
			name:     "few idle times: break-even keep-alive",
			cfg:      plain,
			memoryMB: 1024,
			gaps:     []time.Duration{0, 5 * m},
			want:     Decision{KeepAlive: 10 * m},
		},
		{
			name:     "break-even is shorter for larger instances",
			cfg:      plain,
			memoryMB: 4096,
			gaps:     []time.Duration{0, 5 * m},
			want:     Decision{KeepAlive: 150 * s},
		},
		{
			name:     "break-even is capped",
			cfg:      plain,
			memoryMB: 1,
			gaps:     []time.Duration{0, 5 * m},
			want:     Decision{KeepAlive: 4 * time.Hour},
		},
		{
			// 2 invocations in the first hour: 48 a day, so a cold start
			// weighs 1 + 1000/48 times 600 GB-s.
			name:     "rare functions' cold starts weigh more",
			cfg:      ForecastConfig{ColdCost: 600, Fairness: 1000},
			memoryMB: 1024,
			gaps:     []time.Duration{0, 5 * m},
			want:     Decision{KeepAlive: time.Duration(600 * (1 + 1000.0/48) * float64(s))},
		},
		{
			name:     "periodic: pre-warm just before the next tick",
			cfg:      plain,
			memoryMB: 1024,
			gaps:     repeat(10*m, 12),
			want:     Decision{PreWarm: 10*m - pad(10*m, 0), KeepAlive: 2 * pad(10*m, 0), Warm: 1},
		},
		{
			name:     "bimodal: keep for the short mode",
			cfg:      plain,
			memoryMB: 1024,
			gaps:     bimodal,
			want:     Decision{KeepAlive: keep30},
		},
		{
			name:     "bimodal: when the window closes, plan for the long mode",
			cfg:      plain,
			memoryMB: 1024,
			gaps:     bimodal,
			then: func(d *driver) Decision {
				return d.p.Decide(d.now.Add(keep30), State{Expired: true})
			},
			want: Decision{PreWarm: hourA - keep30, KeepAlive: hourB - hourA, Warm: 1},
		},
		{
			// Ten idle times from 10 to 190 minutes: covering any of them
			// costs an 8 GB instance more than the cold start it saves.
			name:     "spread-out idle times of a large function: no window",
			cfg:      plain,
			memoryMB: 8192,
			gaps:     []time.Duration{0, 10 * m, 30 * m, 50 * m, 70 * m, 90 * m, 110 * m, 130 * m, 150 * m, 170 * m, 190 * m},
			want:     Decision{},
		},
		{
			name:     "while others run: break-even",
			cfg:      plain,
			memoryMB: 2048,
			gaps:     repeat(10*m, 12),
			then: func(d *driver) Decision {
				return d.p.Decide(d.now, State{Busy: 1, Idle: 1})
			},
			// The 10-minute period predicts one instance for this minute.
			want: Decision{KeepAlive: 5 * m, Warm: 1},
		},
		{
			name:     "window closes with too few idle times: nothing more",
			cfg:      plain,
			memoryMB: 1024,
			gaps:     []time.Duration{0, 5 * m},
			then: func(d *driver) Decision {
				return d.p.Decide(d.now.Add(10*m), State{Expired: true})
			},
			want: Decision{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &driver{p: NewForecast(Function{Name: "f", MemoryMB: tt.memoryMB}, tt.cfg), now: t0}
			got := d.gaps(tt.gaps...)
			if tt.then != nil {
				got = tt.then(d)
			}
			if !near(got, tt.want) {
				t.Errorf("decision = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestForecastConcurrency checks that pre-warms start as many instances as
// bursts need and that a concurrent function keeps its extra instances.
func TestForecastConcurrency(t *testing.T) {
	tests := []struct {
		name  string
		burst int           // invocations arriving together after each gap
		gap   time.Duration // idle time between bursts
		want  func(Decision) bool
		desc  string
	}{
		{"bursts of 3 every 10 minutes", 3, 10 * time.Minute,
			func(d Decision) bool { return d.PreWarm > 0 && d.Warm == 3 }, "a pre-warm of 3"},
		{"single invocations every 10 minutes", 1, 10 * time.Minute,
			func(d Decision) bool { return d.PreWarm > 0 && d.Warm == 1 }, "a pre-warm of 1"},
		{"pairs every 5 seconds", 2, 5 * time.Second,
			func(d Decision) bool { return d.PreWarm == 0 && d.KeepAlive == 10*time.Minute }, "break-even keep-alive for the pair"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewForecast(Function{MemoryMB: 1024}, ForecastConfig{ColdCost: 600, Fairness: -1})
			now := t0
			var d Decision
			for range 12 {
				now = now.Add(tt.gap)
				for i := range tt.burst {
					p.Observe(Invocation{Start: now, Concurrent: i + 1})
				}
				now = now.Add(time.Second)
				for i := tt.burst - 1; i >= 0; i-- {
					d = p.Decide(now, State{Busy: i, Idle: tt.burst - i})
				}
			}
			if !tt.want(d) {
				t.Errorf("decision = %+v, want %s", d, tt.desc)
			}
		})
	}
}
