package web

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/telemetry"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// lister is a FunctionLister over a fixed list.
type lister struct {
	fns []registry.Function
	err error
}

func (l *lister) List(context.Context) ([]registry.Function, error) { return l.fns, l.err }

func coldInvocation(fn string, at time.Time, phases ...time.Duration) telemetry.Invocation {
	inv := telemetry.Invocation{Time: at, Function: fn, Version: 1, RequestID: "r", Cold: true,
		Phases: map[string]time.Duration{}, Outcome: "success"}
	for i, d := range phases {
		inv.Phases[Phases[i]] = d
	}
	inv.Duration = inv.Phases["handler"]
	return inv
}

func warmInvocation(fn string, at time.Time, d time.Duration, outcome string) telemetry.Invocation {
	return telemetry.Invocation{Time: at, Function: fn, Version: 1, Phases: map[string]time.Duration{"handler": d},
		Duration: d, Outcome: outcome}
}

func TestFunctionStatsOverTheWindow(t *testing.T) {
	clk := clock.NewFake(t0)
	d := New(Options{Clock: clk, Window: 10 * time.Second, Slots: 10})
	t.Cleanup(d.Close)
	clk.Advance(20 * time.Second) // the dashboard has run longer than its window
	now := clk.Now()
	d.Record(coldInvocation("f", now, time.Millisecond, 2*time.Millisecond, 3*time.Millisecond, 4*time.Millisecond, 5*time.Microsecond))
	d.Record(warmInvocation("f", now, 5*time.Microsecond, "success"))
	d.Record(warmInvocation("f", now, 5*time.Microsecond, "error"))
	d.Record(warmInvocation("f", now, 5*time.Microsecond, "timeout"))

	tests := []struct {
		name                      string
		advance                   time.Duration
		wantN                     int64
		wantRate, wantErr, wantCd float64
		wantNil                   bool
	}{
		{"fresh", 0, 4, 0.4, 50, 25, false},
		{"still inside the window", 9 * time.Second, 4, 0.4, 50, 25, false},
		{"aged out", time.Second, 0, 0, 0, 0, true},
	}
	for _, tt := range tests {
		clk.Advance(tt.advance)
		fns, err := d.Functions(context.Background())
		if err != nil || len(fns) != 1 {
			t.Fatalf("%s: Functions = %+v, %v", tt.name, fns, err)
		}
		f := fns[0]
		if f.Window.Invocations != tt.wantN || f.Rate != tt.wantRate {
			t.Errorf("%s: %d invocations at %v/s, want %d at %v/s", tt.name, f.Window.Invocations, f.Rate, tt.wantN, tt.wantRate)
		}
		if tt.wantNil {
			if f.ErrorPct != nil || f.ColdPct != nil || f.P50MS != nil || f.P99MS != nil {
				t.Errorf("%s: an empty window reports figures: %+v", tt.name, f)
			}
		} else if *f.ErrorPct != tt.wantErr || *f.ColdPct != tt.wantCd || *f.P50MS > 0.01 {
			t.Errorf("%s: errors %v%% cold %v%% p50 %vms, want %v%%, %v%%, ≤0.01ms", tt.name, *f.ErrorPct, *f.ColdPct, *f.P50MS, tt.wantErr, tt.wantCd)
		}
		if f.Total.Invocations != 4 || f.Total.Errors != 2 || f.Total.Cold != 1 {
			t.Errorf("%s: totals %+v, want 4 invocations, 2 errors, 1 cold", tt.name, f.Total)
		}
	}
}

func TestRateDuringTheFirstWindow(t *testing.T) {
	clk := clock.NewFake(t0)
	d := New(Options{Clock: clk, Window: time.Minute, Slots: 60})
	t.Cleanup(d.Close)
	clk.Advance(10 * time.Second)
	for range 5 {
		d.Record(warmInvocation("f", clk.Now(), time.Millisecond, "success"))
	}
	fns, _ := d.Functions(context.Background())
	if fns[0].Rate != 0.5 {
		t.Fatalf("rate = %v/s, want 0.5/s: 5 invocations in the 10s the dashboard has run", fns[0].Rate)
	}
}

func TestColdStartPhasesFollowEachOther(t *testing.T) {
	restored := coldInvocation("f", t0, time.Millisecond, 2*time.Millisecond, 3*time.Millisecond, 0, 5*time.Millisecond)
	delete(restored.Phases, "init")
	restored.Phases[PhaseRestore] = 4 * time.Millisecond
	tests := []struct {
		name   string
		inv    telemetry.Invocation
		fourth string
	}{
		{"initialised", coldInvocation("f", t0, time.Millisecond, 2*time.Millisecond, 3*time.Millisecond, 4*time.Millisecond, 5*time.Millisecond), "init"},
		// A snapshot restore replaces init; it keeps its name and time.
		{"restored", restored, PhaseRestore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Options{Clock: clock.NewFake(t0)})
			t.Cleanup(d.Close)
			d.Record(tt.inv)
			fd, ok, err := d.Function(context.Background(), "f")
			if err != nil || !ok || len(fd.ColdStarts) != 1 {
				t.Fatalf("Function = %+v, %v, %v", fd, ok, err)
			}
			c := fd.ColdStarts[0]
			want := []Phase{{"provision", 0, 1}, {"runtime", 1, 2}, {"code", 3, 3}, {tt.fourth, 6, 4}, {"handler", 10, 5}}
			if len(c.Phases) != len(want) {
				t.Fatalf("phases %+v, want %+v", c.Phases, want)
			}
			for i, p := range c.Phases {
				if p != want[i] {
					t.Errorf("phase %d = %+v, want %+v", i, p, want[i])
				}
			}
			if c.TotalMS != 15 {
				t.Errorf("total = %vms, want 15ms", c.TotalMS)
			}
			var n int64
			for _, b := range fd.Histogram {
				n += b.Count
			}
			if n != 1 || fd.Histogram[len(fd.Histogram)-1].LeMS != nil {
				t.Errorf("histogram counts %d (want 1); the last bucket must be unbounded", n)
			}
		})
	}
}

func TestFunctionsJoinsDeployedAndInvoked(t *testing.T) {
	clk := clock.NewFake(t0)
	l := &lister{fns: []registry.Function{{Name: "b", Version: 3}, {Name: "idle", Version: 1}}}
	d := New(Options{Clock: clk, Functions: l, Window: 10 * time.Second})
	t.Cleanup(d.Close)
	d.Record(warmInvocation("b", t0, time.Millisecond, "success"))
	d.Record(warmInvocation("gone", t0, time.Millisecond, "success"))

	tests := []struct {
		advance time.Duration
		want    []string
	}{
		// A deleted function stays while it has invocations in the window.
		{0, []string{"b 3 deployed", "gone 1 deleted", "idle 1 deployed"}},
		{11 * time.Second, []string{"b 3 deployed", "idle 1 deployed"}},
	}
	for _, tt := range tests {
		clk.Advance(tt.advance)
		fns, err := d.Functions(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range fns {
			state := "deleted"
			if f.Deployed {
				state = "deployed"
			}
			got = append(got, f.Name+" "+strconv.FormatInt(f.Version, 10)+" "+state)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("after %v: %q, want %q", tt.advance, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Fatalf("after %v: %q, want %q", tt.advance, got, tt.want)
			}
		}
	}

	l.err = errors.New("registry down")
	fns, err := d.Functions(context.Background())
	if err == nil || len(fns) != 2 || fns[0].Name != "b" || fns[1].Name != "gone" || !fns[1].Deployed {
		t.Fatalf("with a failing registry: %+v, %v; want every invoked function, as deployed, and the error", fns, err)
	}
}

func TestPoolSampler(t *testing.T) {
	clk := clock.NewFake(t0)
	busy := 0
	gauges := func() []telemetry.PoolGauge {
		if busy < 0 {
			return nil // the function was deleted
		}
		return []telemetry.PoolGauge{{Function: "f", Idle: 1, Busy: busy, Provisioned: 1}}
	}
	d := New(Options{Clock: clk, Pools: gauges, PoolEvery: time.Second, PoolHistory: 3 * time.Second})
	for i := range 5 {
		busy = i
		clk.Advance(time.Second)
	}
	series := d.pools.series("f")
	if len(series) != 1 {
		t.Fatalf("series = %+v", series)
	}
	var got []int
	for _, s := range series[0].Samples {
		got = append(got, s.Busy)
	}
	// Three kept samples (busy 2, 3, 4) and the live reading (4).
	if want := []int{2, 3, 4, 4}; !equalInts(got, want) {
		t.Fatalf("busy over time = %v, want %v", got, want)
	}

	busy = -1
	clk.Advance(time.Second)
	if s := d.pools.series(""); len(s) != 1 || s[0].Samples[len(s[0].Samples)-1] != (PoolSample{Time: clk.Now()}) {
		t.Fatalf("after the pool went away: %+v, want a closing zero sample", s)
	}
	clk.Advance(5 * time.Second)
	if s := d.pools.series(""); len(s) != 0 {
		t.Fatalf("a gone pool's history outlived the kept span: %+v", s)
	}

	d.Close()
	if n := clk.Pending(); n != 0 {
		t.Fatalf("%d timers left after Close", n)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// BenchmarkRecord measures Record alone (the invocations are built
// beforehand), from as many goroutines as GOMAXPROCS, over four functions
// with one cold start in a hundred.
func BenchmarkRecord(b *testing.B) {
	d := New(Options{})
	defer d.Close()
	names := []string{"a", "b", "c", "d"}
	now := time.Now()
	invs := make([]telemetry.Invocation, 400)
	for i := range invs {
		invs[i] = warmInvocation(names[i%len(names)], now, time.Duration(i)*time.Microsecond, "success")
		if i%100 == 0 {
			invs[i] = coldInvocation(names[i%len(names)], now, 1, 2, 3, 4, 5)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			d.Record(invs[i%len(invs)])
			i++
		}
	})
}
