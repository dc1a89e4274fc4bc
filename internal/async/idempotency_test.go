package async

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

func TestIdempotentSync(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	env := newEnv(t, clk)
	s := env.service(t, "n1")
	env.node.add("pay", registry.Config{IdempotencyWindow: registry.Duration(time.Hour)}, ok(""))
	ctx := context.Background()
	var runs atomic.Int32
	run := func(context.Context) (*invoke.Result, error) {
		n := runs.Add(1)
		return &invoke.Result{RequestID: "r", Response: runtime.Response{Status: 200, Body: []byte{byte('0' + n)}}}, nil
	}
	res, replayed, err := s.Idempotent(ctx, "pay", "k1", run)
	if err != nil || replayed || string(res.Response.Body) != "1" {
		t.Fatalf("first call: %v %v %v", res, replayed, err)
	}
	res, replayed, err = s.Idempotent(ctx, "pay", "k1", run)
	if err != nil || !replayed || string(res.Response.Body) != "1" || runs.Load() != 1 {
		t.Fatalf("repeat: body %q replayed %v err %v runs %d, want the first result replayed", res.Response.Body, replayed, err, runs.Load())
	}
	if _, replayed, _ := s.Idempotent(ctx, "pay", "k2", run); replayed || runs.Load() != 2 {
		t.Fatal("another key must run")
	}
	clk.Advance(time.Hour)
	res, replayed, err = s.Idempotent(ctx, "pay", "k1", run)
	if err != nil || replayed || string(res.Response.Body) != "3" {
		t.Fatalf("after the window: %q %v %v, want a new run", res.Response.Body, replayed, err)
	}
}

func TestIdempotentInProgressAndErrors(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	env := newEnv(t, clk)
	s := env.service(t, "n1")
	env.node.add("slow", registry.Config{Timeout: registry.Duration(time.Minute)}, ok(""))
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	go func() {
		_, _, _ = s.Idempotent(ctx, "slow", "k", func(context.Context) (*invoke.Result, error) {
			close(started)
			<-release
			return &invoke.Result{}, nil
		})
	}()
	<-started
	if _, _, err := s.Idempotent(ctx, "slow", "k", nil); !errors.Is(err, ErrInProgress) {
		t.Fatalf("while the first runs: %v, want ErrInProgress", err)
	}
	// A node that died holding the key loses it once its lease (timeout + 30s) lapses.
	clk.Advance(time.Minute + 30*time.Second)
	var ran bool
	if _, replayed, err := s.Idempotent(ctx, "slow", "k", func(context.Context) (*invoke.Result, error) {
		ran = true
		return &invoke.Result{}, nil
	}); err != nil || replayed || !ran {
		t.Fatalf("after the lease: ran %v replayed %v err %v", ran, replayed, err)
	}
	close(release)

	crash := func(context.Context) (*invoke.Result, error) { return nil, runtime.ErrTrap }
	if _, _, err := s.Idempotent(ctx, "slow", "c", crash); !errors.Is(err, runtime.ErrTrap) {
		t.Fatalf("crash: %v", err)
	}
	ran = false
	if _, replayed, err := s.Idempotent(ctx, "slow", "c", func(context.Context) (*invoke.Result, error) {
		ran = true
		return &invoke.Result{}, nil
	}); err != nil || replayed || !ran {
		t.Fatal("a key whose call crashed must be free to try again")
	}
}

func TestIdempotentEnqueue(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	env.node.add("once", registry.Config{}, ok("result"))
	ctx := context.Background()
	first, err := s.Enqueue(ctx, "once", runtime.Request{}, "order-1")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, first, StatusSucceeded)
	for range 3 {
		again, err := s.Enqueue(ctx, "once", runtime.Request{}, "order-1")
		if err != nil || again != first {
			t.Fatalf("repeat enqueue = %s, %v, want the first id %s", again, err, first)
		}
	}
	// A sync call with the same key gets the async invocation's result.
	res, replayed, err := s.Idempotent(ctx, "once", "order-1", nil)
	if err != nil || !replayed || string(res.Response.Body) != "result" {
		t.Fatalf("sync repeat of an async key: %v %v %v", res, replayed, err)
	}
	if n := len(env.node.callsOf("once")); n != 1 {
		t.Fatalf("ran %d times, want once", n)
	}
}
