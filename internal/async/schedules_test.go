package async

import (
	"context"
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
