package policy

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// driver replays a sequence of single invocations against a policy the way a
// pool does: Observe at arrival, Decide when it completes.
type driver struct {
	p   Policy
	now time.Time
}

// run invokes once after waiting gap (measured from the last completion),
// runs for dur, and returns the decision taken at completion.
func (d *driver) run(gap, dur time.Duration) Decision {
	d.now = d.now.Add(gap)
	d.p.Observe(Invocation{Start: d.now, Duration: dur, Concurrent: 1})
	d.now = d.now.Add(dur)
	return d.p.Decide(d.now, State{Idle: 1})
}

// gaps runs one invocation per gap (the first one's gap is ignored) and
// returns the last decision.
func (d *driver) gaps(gs ...time.Duration) Decision {
	var dec Decision
	for _, g := range gs {
		dec = d.run(g, time.Second)
	}
	return dec
}

func repeat(g time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = g
	}
	return out
}

func TestFixed(t *testing.T) {
	tests := []struct {
		name  string
		ttl   time.Duration
		state State
		want  Decision
	}{
		{"keeps idle instances for the TTL", 10 * time.Minute, State{Idle: 1}, Decision{KeepAlive: 10 * time.Minute}},
		{"keeps while others run", time.Minute, State{Busy: 2, Idle: 1}, Decision{KeepAlive: time.Minute}},
		{"nothing to do when the window ends", 10 * time.Minute, State{Expired: true}, Decision{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewFixed(tt.ttl)
			p.Observe(Invocation{Start: t0, Concurrent: 1})
			if got := p.Decide(t0, tt.state); got != tt.want {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name, want string
		wantErr    bool
	}{
		{"fixed", "fixed10m", false},
		{"fixed10m", "fixed10m", false},
		{"histogram", "histogram", false},
		{"forecast", "forecast", false},
		{Default, Default, false},
		{"lru", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Lookup(tt.name)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Lookup(%q) error = %v, want error %v", tt.name, err, tt.wantErr)
			}
			if err == nil && (got.Name != tt.want || got.New(Function{}) == nil) {
				t.Errorf("Lookup(%q) = %q, want %q with a factory", tt.name, got.Name, tt.want)
			}
		})
	}
}

func TestDecisionWindow(t *testing.T) {
	tests := []struct {
		d     Decision
		end   time.Duration
		empty bool
	}{
		{Decision{}, 0, true},
		{Decision{KeepAlive: time.Minute}, time.Minute, false},
		{Decision{PreWarm: 4 * time.Minute, KeepAlive: time.Minute, Warm: 1}, 5 * time.Minute, false},
	}
	for _, tt := range tests {
		if got := tt.d.WindowEnd(t0); !got.Equal(t0.Add(tt.end)) {
			t.Errorf("%+v.WindowEnd = %v, want +%v", tt.d, got, tt.end)
		}
		if got := tt.d.Empty(); got != tt.empty {
			t.Errorf("%+v.Empty = %v, want %v", tt.d, got, tt.empty)
		}
	}
}

func TestIdleClock(t *testing.T) {
	var c idleClock
	if _, ok := c.arrive(Invocation{Start: t0, Concurrent: 1}); ok {
		t.Fatal("first arrival has an idle time")
	}
	c.decide(t0.Add(time.Second), State{Busy: 1}) // another still runs
	if _, ok := c.arrive(Invocation{Start: t0.Add(2 * time.Second), Concurrent: 2}); ok {
		t.Fatal("arrival while busy has an idle time")
	}
	c.decide(t0.Add(3*time.Second), State{})
	c.decide(t0.Add(time.Minute), State{Expired: true}) // must not restart the idle period
	if got := c.elapsed(t0.Add(time.Minute)); got != time.Minute-3*time.Second {
		t.Fatalf("elapsed = %v", got)
	}
	gap, ok := c.arrive(Invocation{Start: t0.Add(2 * time.Minute), Concurrent: 1})
	if !ok || gap != 2*time.Minute-3*time.Second {
		t.Fatalf("idle time = %v, %v; want 1m57s", gap, ok)
	}
}
