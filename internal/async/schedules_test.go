package async

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/registry"
)

// TestScheduleFiresOncePerCluster: two nodes keep the same schedule; each
// tick queues one invocation, and the schedule survives a restart.
func TestScheduleFiresOncePerCluster(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC))
	env := newEnv(t, clk)
	ctx := context.Background()
	env.node.add("tick", registry.Config{}, ok(""))
	n1, n2 := env.service(t, "n1"), env.service(t, "n2")
	sc, err := n1.AddSchedule(ctx, Schedule{Name: "often", Function: "tick", Every: registry.Duration(10 * time.Second), Data: "d"})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC); !sc.Next.Equal(want) {
		t.Fatalf("next tick %s, want %s", sc.Next, want)
	}
	eventually(t, "both nodes armed the schedule", func() bool { return clk.Pending() == 2 })
	for tick := 1; tick <= 3; tick++ {
		// Advance runs both nodes' timers before it returns, so every
		// enqueue of this tick has happened by then.
		clk.Advance(10 * time.Second)
		eventually(t, "the tick ran", func() bool { return len(env.node.callsOf("tick")) >= tick })
		eventually(t, "the queue drained", func() bool {
			info, err := n1.invokeStream.Info(ctx)
			return err == nil && info.State.Msgs == 0
		})
		calls := env.node.callsOf("tick")
		if len(calls) != tick {
			t.Fatalf("after %d ticks, %d invocations: want one per tick", tick, len(calls))
		}
		if got := calls[tick-1]; string(got.Body) != "d" || got.Headers["X-Hearth-Schedule"][0] != "often" {
			t.Fatalf("scheduled request %+v", got)
		}
	}

	// A restarted node arms the stored schedule again.
	if err := n2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	env.service(t, "n2-again")
	eventually(t, "the restarted node armed the schedule", func() bool { return clk.Pending() == 2 })

	if err := n1.DeleteSchedule(ctx, "often"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both nodes disarmed", func() bool { return clk.Pending() == 0 })
}

func TestScheduleValidation(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	env := newEnv(t, clk)
	s := env.service(t, "n1")
	ctx := context.Background()
	env.node.add("report", registry.Config{}, ok(""))
	tests := []struct {
		name     string
		sc       Schedule
		want     error
		wantNext time.Time
	}{
		{"cron", Schedule{Name: "nightly", Function: "report", Cron: "0 3 * * *"}, nil, time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)},
		{"descriptor", Schedule{Name: "hourly", Function: "report", Cron: "@hourly"}, nil, time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC)},
		{"bad cron", Schedule{Name: "b", Function: "report", Cron: "0 3 * *"}, ErrInvalid, time.Time{}},
		{"never fires", Schedule{Name: "b", Function: "report", Cron: "0 0 30 2 *"}, ErrInvalid, time.Time{}},
		{"both", Schedule{Name: "b", Function: "report", Cron: "@daily", Every: registry.Duration(time.Minute)}, ErrInvalid, time.Time{}},
		{"neither", Schedule{Name: "b", Function: "report"}, ErrInvalid, time.Time{}},
		{"too often", Schedule{Name: "b", Function: "report", Every: registry.Duration(time.Millisecond)}, ErrInvalid, time.Time{}},
		{"unknown function", Schedule{Name: "b", Function: "ghost", Every: registry.Duration(time.Minute)}, registry.ErrNotFound, time.Time{}},
		{"exists", Schedule{Name: "nightly", Function: "report", Cron: "@daily"}, ErrExists, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := s.AddSchedule(ctx, tt.sc)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == nil && !sc.Next.Equal(tt.wantNext) {
				t.Fatalf("next %s, want %s", sc.Next, tt.wantNext)
			}
		})
	}
	list, err := s.Schedules(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "hourly" || list[1].Name != "nightly" {
		t.Fatalf("schedules %+v %v", list, err)
	}
	if err := s.DeleteSchedule(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete missing: %v", err)
	}
}

// FuzzScheduleTicker: any cron expression or interval is either refused
// with ErrInvalid or yields ticks strictly after the time asked about.
func FuzzScheduleTicker(f *testing.F) {
	for _, s := range []string{"0 3 * * *", "@hourly", "*/5 * * * *", "0 0 31 2 *", "61 * * * *", "", "@every 1s"} {
		f.Add(s, int64(0))
	}
	f.Add("", int64(30*time.Second))
	f.Fuzz(func(t *testing.T, expr string, every int64) {
		sc := Schedule{Name: "f", Cron: expr, Every: registry.Duration(every)}
		tk, err := sc.ticker()
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q/%d: %v is not ErrInvalid", expr, every, err)
			}
			return
		}
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		if next := tk.Next(at); !next.After(at) {
			t.Fatalf("%q/%d: next %s is not after %s", expr, every, next, at)
		}
	})
}

func FuzzEventValidate(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"a":1}}`))
	f.Add([]byte(`{"specversion":"0.3"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Event
		if json.Unmarshal(b, &ev) != nil {
			return
		}
		if err := ev.Validate(); err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s: %v", b, err)
		}
	})
}
