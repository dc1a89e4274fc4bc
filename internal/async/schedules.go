package async

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/robfig/cron/v3"

	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// Schedule invokes a function asynchronously on a cron expression or at a
// fixed interval. Exactly one of Cron and Every is set.
type Schedule struct {
	Name     string `json:"name"`
	Function string `json:"function"`
	// Cron is a standard five-field expression (or a descriptor such as
	// "@hourly"), evaluated in UTC.
	Cron string `json:"cron,omitempty"`
	// Every is an interval of at least a second; ticks fall on multiples
	// of it since the Unix epoch, so every node computes the same ticks.
	Every registry.Duration `json:"every,omitempty"`
	// Data is the request body of each invocation.
	Data      string    `json:"data,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Next is the next tick, computed when read.
	Next time.Time `json:"next"`
}

type ticker interface{ Next(time.Time) time.Time }

type everyTicker time.Duration

// Next is the first multiple of the interval after t.
func (e everyTicker) Next(t time.Time) time.Time {
	d := time.Duration(e)
	return t.Truncate(d).Add(d)
}

func (sc Schedule) ticker() (ticker, error) {
	switch {
	case sc.Cron != "" && sc.Every != 0:
		return nil, fmt.Errorf("%w: schedule %s: give a cron expression or an interval, not both", ErrInvalid, sc.Name)
	case sc.Cron != "":
		t, err := cron.ParseStandard(sc.Cron)
		if err != nil {
			return nil, fmt.Errorf("%w: cron expression %q: %v (use five fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * *')", ErrInvalid, sc.Cron, err)
		}
		// The parser accepts dates that never come (February 30th); its
		// Next then gives the zero time. Such a schedule would never fire.
		if t.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
			return nil, fmt.Errorf("%w: cron expression %q never fires", ErrInvalid, sc.Cron)
		}
		return t, nil
	case sc.Every != 0:
		if time.Duration(sc.Every) < time.Second {
			return nil, fmt.Errorf("%w: interval %s is under the one-second minimum", ErrInvalid, sc.Every)
		}
		return everyTicker(sc.Every), nil
	}
	return nil, fmt.Errorf("%w: schedule %s needs --cron or --every", ErrInvalid, sc.Name)
}

// AddSchedule stores a schedule; every node starts keeping it.
func (s *Service) AddSchedule(ctx context.Context, sc Schedule) (Schedule, error) {
	if err := registry.ValidateName(sc.Name); err != nil {
		return Schedule{}, fmt.Errorf("%w: schedule: %w", ErrInvalid, err)
	}
	if err := registry.ValidateName(sc.Function); err != nil {
		return Schedule{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	t, err := sc.ticker()
	if err != nil {
		return Schedule{}, err
	}
	if len(sc.Data) > MaxPayloadBytes {
		return Schedule{}, fmt.Errorf("%w: schedule data of %d bytes (limit %d)", ErrTooLarge, len(sc.Data), MaxPayloadBytes)
	}
	if _, err := s.opts.Functions.Get(ctx, sc.Function); err != nil {
		return Schedule{}, err
	}
	sc.CreatedAt = s.opts.Clock.Now().UTC()
	sc.Next = time.Time{}
	b, err := json.Marshal(sc)
	if err != nil {
		return Schedule{}, fmt.Errorf("encode schedule: %w", err)
	}
	if _, err := s.schedules.Create(ctx, sc.Name, b); errors.Is(err, jetstream.ErrKeyExists) {
		return Schedule{}, fmt.Errorf("%w: schedule %s (remove it first)", ErrExists, sc.Name)
	} else if err != nil {
		return Schedule{}, fmt.Errorf("store schedule %s: %w", sc.Name, err)
	}
	sc.Next = t.Next(sc.CreatedAt)
	return sc, nil
}

// Schedules lists the schedules with their next tick.
func (s *Service) Schedules(ctx context.Context) ([]Schedule, error) {
	lister, err := s.schedules.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	out := []Schedule{}
	for k := range lister.Keys() {
		sc, err := s.Schedule(ctx, k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Schedule returns one schedule.
func (s *Service) Schedule(ctx context.Context, name string) (Schedule, error) {
	if registry.ValidateName(name) != nil {
		return Schedule{}, fmt.Errorf("%w: schedule %q", ErrNotFound, name)
	}
	e, err := s.schedules.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Schedule{}, fmt.Errorf("%w: schedule %s", ErrNotFound, name)
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("read schedule %s: %w", name, err)
	}
	var sc Schedule
	if err := json.Unmarshal(e.Value(), &sc); err != nil {
		return Schedule{}, fmt.Errorf("decode schedule %s: %w", name, err)
	}
	if t, err := sc.ticker(); err == nil {
		sc.Next = t.Next(s.opts.Clock.Now().UTC())
	}
	return sc, nil
}

// DeleteSchedule removes a schedule; a tick already fired still runs.
func (s *Service) DeleteSchedule(ctx context.Context, name string) error {
	if _, err := s.Schedule(ctx, name); err != nil {
		return err
	}
	if err := s.schedules.Delete(ctx, name); err != nil {
		return fmt.Errorf("delete schedule %s: %w", name, err)
	}
	return nil
}

// startSchedules follows the schedules bucket: every node arms a timer for
// each schedule's next tick, and the nodes race to claim each tick.
func (s *Service) startSchedules() error {
	w, err := s.schedules.WatchAll(s.ctx)
	if err != nil {
		return fmt.Errorf("watch schedules: %w", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-s.ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue // the initial values are all delivered
				}
				if e.Operation() != jetstream.KeyValuePut {
					s.disarm(e.Key())
					continue
				}
				var sc Schedule
				if err := json.Unmarshal(e.Value(), &sc); err != nil {
					s.log.Error("decode schedule", "name", e.Key(), "err", err)
					continue
				}
				s.arm(sc, e.Revision(), s.opts.Clock.Now())
			}
		}
	}()
	return nil
}

func (s *Service) disarm(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.timers[name]; ok {
		t.Stop()
		delete(s.timers, name)
	}
}

// arm sets the timer of sc's first tick after from. rev identifies the
// stored version, so a tick of a replaced schedule does not fire.
func (s *Service) arm(sc Schedule, rev uint64, from time.Time) {
	t, err := sc.ticker()
	if err != nil {
		s.log.Error("schedule is invalid; not armed", "name", sc.Name, "err", err)
		return
	}
	tick := t.Next(from.UTC())
	if tick.IsZero() {
		return // no tick ever comes (refused by AddSchedule; kept safe here)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if old, ok := s.timers[sc.Name]; ok {
		old.Stop()
	}
	s.timers[sc.Name] = s.opts.Clock.AfterFunc(tick.Sub(s.opts.Clock.Now()), func() { s.fire(sc, rev, tick) })
}

// fire runs one tick: the node that creates the tick's key in the ticks
// bucket queues the invocation; the others only re-arm. The enqueue also
// carries a per-tick message id, so even a claim that raced with the
// bucket's expiry cannot queue twice.
func (s *Service) fire(sc Schedule, rev uint64, tick time.Time) {
	ctx := s.ctx
	if ctx.Err() != nil {
		return
	}
	if e, err := s.schedules.Get(ctx, sc.Name); err != nil || e.Revision() != rev {
		return // deleted or replaced; the watcher armed the new version
	}
	defer s.arm(sc, rev, tick)
	tickID := sc.Name + "." + strconv.FormatInt(tick.Unix(), 10)
	if _, err := s.ticks.Create(ctx, tickID, []byte(s.opts.NodeID)); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			s.log.Warn("claim schedule tick", "schedule", sc.Name, "tick", tick, "err", err)
		}
		return
	}
	env := envelope{Function: sc.Function, Source: "schedule:" + sc.Name, Request: runtime.Request{
		Method: http.MethodPost, Path: "/", Body: []byte(sc.Data),
		Headers: map[string][]string{"X-Hearth-Schedule": {sc.Name}, "X-Hearth-Scheduled-Time": {tick.UTC().Format(time.RFC3339)}},
	}}
	if _, err := s.enqueue(ctx, env, "schedule-"+tickID); err != nil {
		s.log.Error("queue scheduled invocation", "schedule", sc.Name, "tick", tick, "err", err)
	}
}
