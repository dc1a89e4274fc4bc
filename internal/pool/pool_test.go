package pool

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/policy"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// fakeTemplate counts spawns and closes; Spawn fails while failSpawn is set.
type fakeTemplate struct {
	spawned, closed atomic.Int64
	failSpawn       atomic.Bool
	tmplClosed      atomic.Bool
}

type fakeInstance struct{ t *fakeTemplate }

func (t *fakeTemplate) Spawn(context.Context) (runtime.Instance, runtime.Phases, error) {
	if t.failSpawn.Load() {
		return nil, runtime.Phases{}, errors.New("spawn failed")
	}
	t.spawned.Add(1)
	return &fakeInstance{t}, runtime.Phases{Init: time.Millisecond}, nil
}
func (t *fakeTemplate) Close(context.Context) error { t.tmplClosed.Store(true); return nil }
func (i *fakeInstance) Invoke(context.Context, runtime.Request) (runtime.Response, error) {
	return runtime.Response{Status: 200}, nil
}
func (i *fakeInstance) Close(context.Context) error { i.t.closed.Add(1); return nil }

func newTestPool(t *testing.T, cfg Config) (*Pool, *fakeTemplate, *clock.Fake) {
	t.Helper()
	tmpl := &fakeTemplate{}
	clk := clock.NewFake(time.Unix(0, 0))
	p := New(tmpl, cfg, clk, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p, tmpl, clk
}

func mustAcquire(t *testing.T, p *Pool) *Lease {
	t.Helper()
	l, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return l
}

// eventually polls cond; used only where the pool works in its own goroutines.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestColdThenWarm(t *testing.T) {
	p, tmpl, _ := newTestPool(t, Config{Concurrency: 2, KeepAlive: time.Minute, QueueSize: 1, QueueTimeout: time.Second})
	l := mustAcquire(t, p)
	if !l.Cold || l.Phases.Init != time.Millisecond {
		t.Fatalf("first acquire: cold=%v phases=%+v, want a timed cold start", l.Cold, l.Phases)
	}
	l.Release()
	l = mustAcquire(t, p)
	if l.Cold {
		t.Fatal("second acquire was cold, want the released instance")
	}
	l.Release()
	if got := tmpl.spawned.Load(); got != 1 {
		t.Fatalf("spawned %d instances, want 1", got)
	}
}

func TestConcurrencyLimitAndQueue(t *testing.T) {
	p, tmpl, clk := newTestPool(t, Config{Concurrency: 1, KeepAlive: time.Minute, QueueSize: 1, QueueTimeout: 10 * time.Second})
	first := mustAcquire(t, p)

	got := make(chan *Lease, 1)
	go func() {
		l, err := p.Acquire(context.Background())
		if err != nil {
			t.Errorf("queued Acquire: %v", err)
		}
		got <- l
	}()
	eventually(t, "the second invocation to queue", func() bool { return p.Stats().Waiting == 1 })

	if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrThrottled) {
		t.Fatalf("third Acquire with a full queue: err=%v, want ErrThrottled", err)
	}
	first.Release()
	second := <-got
	if second.Cold {
		t.Fatal("queued invocation got a cold instance, want the released one")
	}
	second.Release()
	if n := tmpl.spawned.Load(); n != 1 {
		t.Fatalf("spawned %d, want 1 (concurrency 1)", n)
	}

	// A waiter that outlives QueueTimeout is throttled.
	hold := mustAcquire(t, p)
	errc := make(chan error, 1)
	go func() { _, err := p.Acquire(context.Background()); errc <- err }()
	eventually(t, "a waiter", func() bool { return p.Stats().Waiting == 1 })
	clk.Advance(10 * time.Second)
	if err := <-errc; !errors.Is(err, ErrThrottled) {
		t.Fatalf("waiter after QueueTimeout: err=%v, want ErrThrottled", err)
	}
	hold.Release()
	if s := p.Stats(); s.Throttled != 2 || s.Waiting != 0 || s.Idle != 1 {
		t.Fatalf("stats = %+v, want 2 throttled, no waiters, 1 idle", s)
	}
}

func TestWaiterContextCancelled(t *testing.T) {
	p, _, _ := newTestPool(t, Config{Concurrency: 1, KeepAlive: time.Minute, QueueSize: 4, QueueTimeout: time.Hour})
	hold := mustAcquire(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := p.Acquire(ctx); errc <- err }()
	eventually(t, "a waiter", func() bool { return p.Stats().Waiting == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	hold.Release()
}

func TestKeepAliveAndMinWarm(t *testing.T) {
	tests := []struct {
		name      string
		minWarm   int
		acquire   int
		wantAlive int
	}{
		{"scale to zero", 0, 2, 0},
		{"min-warm kept", 1, 3, 1},
		{"min-warm equals use", 2, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, tmpl, clk := newTestPool(t, Config{Concurrency: 4, MinWarm: tt.minWarm, KeepAlive: time.Minute, QueueSize: 1, QueueTimeout: time.Second})
			eventually(t, "provisioned instances", func() bool { return p.Stats().Idle == tt.minWarm })
			var leases []*Lease
			for range tt.acquire {
				leases = append(leases, mustAcquire(t, p))
			}
			for _, l := range leases {
				l.Release()
			}
			clk.Advance(59 * time.Second)
			if s := p.Stats(); s.Idle != max(tt.acquire, tt.minWarm) {
				t.Fatalf("before keep-alive: idle=%d, want %d", s.Idle, max(tt.acquire, tt.minWarm))
			}
			clk.Advance(time.Second)
			s := p.Stats()
			if s.Idle != tt.wantAlive {
				t.Fatalf("after keep-alive: idle=%d, want %d", s.Idle, tt.wantAlive)
			}
			if alive := tmpl.spawned.Load() - tmpl.closed.Load(); alive != int64(tt.wantAlive) {
				t.Fatalf("live instances = %d, want %d", alive, tt.wantAlive)
			}
		})
	}
}

func TestDiscardReplacesMinWarm(t *testing.T) {
	p, tmpl, _ := newTestPool(t, Config{Concurrency: 2, MinWarm: 1, KeepAlive: time.Minute, QueueSize: 1, QueueTimeout: time.Second})
	eventually(t, "provisioning", func() bool { return p.Stats().Idle == 1 })
	l := mustAcquire(t, p)
	l.Discard()
	eventually(t, "a replacement", func() bool { return p.Stats().Idle == 1 })
	if tmpl.closed.Load() != 1 || tmpl.spawned.Load() != 2 {
		t.Fatalf("closed=%d spawned=%d, want 1 and 2", tmpl.closed.Load(), tmpl.spawned.Load())
	}
	if s := p.Stats(); s.Evicted["broken"] != 1 {
		t.Fatalf("evicted = %v, want one broken", s.Evicted)
	}
}

func TestSpawnErrorFreesSlot(t *testing.T) {
	p, tmpl, _ := newTestPool(t, Config{Concurrency: 1, KeepAlive: time.Minute, QueueSize: 1, QueueTimeout: time.Second})
	tmpl.failSpawn.Store(true)
	if _, err := p.Acquire(context.Background()); err == nil {
		t.Fatal("Acquire succeeded with a failing template")
	}
	tmpl.failSpawn.Store(false)
	mustAcquire(t, p).Release()
}

func TestCloseWaitsForBusy(t *testing.T) {
	p, tmpl, _ := newTestPool(t, Config{Concurrency: 2, KeepAlive: time.Minute, QueueSize: 1, QueueTimeout: time.Second})
	busy := mustAcquire(t, p)
	mustAcquire(t, p).Release()

	var wg sync.WaitGroup
	closed := make(chan error, 1)
	wg.Add(1)
	go func() { defer wg.Done(); closed <- p.Close(context.Background()) }()
	eventually(t, "the idle instance to close", func() bool { return tmpl.closed.Load() == 1 })
	select {
	case <-closed:
		t.Fatal("Close returned while an invocation was in flight")
	default:
	}
	if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire on a closing pool: %v, want ErrClosed", err)
	}
	busy.Release()
	wg.Wait()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if tmpl.closed.Load() != 2 || !tmpl.tmplClosed.Load() {
		t.Fatalf("after Close: %d instances closed, template closed=%v", tmpl.closed.Load(), tmpl.tmplClosed.Load())
	}
}

// TestEachInstanceExpiresOnItsOwnTime: instances released at different
// times each live KeepAlive after their own release.
func TestEachInstanceExpiresOnItsOwnTime(t *testing.T) {
	p, _, clk := newTestPool(t, Config{Concurrency: 2, KeepAlive: time.Minute, QueueSize: 1, QueueTimeout: time.Second})
	a, b := mustAcquire(t, p), mustAcquire(t, p)
	a.Release()
	clk.Advance(30 * time.Second)
	b.Release()
	clk.Advance(30 * time.Second) // a's minute is up, b has 30 s left
	if s := p.Stats(); s.Idle != 1 || s.Evicted["keepalive"] != 1 {
		t.Fatalf("after 60 s: %+v, want one expired and one idle", s)
	}
	clk.Advance(29 * time.Second)
	if s := p.Stats(); s.Idle != 1 {
		t.Fatalf("after 89 s: %+v, want b still idle", s)
	}
	clk.Advance(time.Second)
	if s := p.Stats(); s.Idle != 0 || s.Evicted["keepalive"] != 2 {
		t.Fatalf("after 90 s: %+v, want both expired", s)
	}
}

// TestPolicyPrewarmsPeriodicFunction drives a function invoked every five
// minutes. With a one-minute fixed keep-alive every invocation is cold; the
// histogram policy learns the period, releases the instance after each call
// and pre-warms one just before the next, so once it has learnt, every
// invocation is warm.
func TestPolicyPrewarmsPeriodicFunction(t *testing.T) {
	tests := []struct {
		name     string
		policy   policy.Policy
		wantCold int // among the last 10 of 20 invocations
	}{
		{"fixed 1m", policy.NewFixed(time.Minute), 10},
		{"histogram", policy.NewHistogram(policy.HistogramConfig{}), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, clk := newTestPool(t, Config{Concurrency: 2, Policy: tt.policy, QueueSize: 1, QueueTimeout: time.Second})
			cold := 0
			for i := range 20 {
				for range 5 { // a minute at a time, letting pre-warms finish
					clk.Advance(time.Minute)
					eventually(t, "pre-warms to finish", func() bool { return p.Stats().Spawning == 0 })
				}
				l := mustAcquire(t, p)
				if l.Cold && i >= 10 {
					cold++
				}
				l.Release()
			}
			if cold != tt.wantCold {
				t.Fatalf("%d cold starts in the last 10 invocations, want %d (stats %+v)", cold, tt.wantCold, p.Stats())
			}
			if s := p.Stats(); tt.wantCold == 0 && (s.Prewarms == 0 || s.PrewarmsUsed == 0) {
				t.Fatalf("no pre-warms counted: %+v", s)
			}
		})
	}
}

// scripted answers Decide with one decision while a window is open and
// another once it expired.
type scripted struct{ open, expired policy.Decision }

func (s scripted) Observe(policy.Invocation) {}
func (s scripted) Decide(_ time.Time, st policy.State) policy.Decision {
	if st.Expired {
		return s.expired
	}
	return s.open
}

// TestExpiredWindowDecision: when a window closes, the idle instances are
// released, and the next decision takes back as many as it wants warm
// (kept from now, not restarted) or none; a decision that keeps nothing
// for any time starts nothing, whatever its Warm.
func TestExpiredWindowDecision(t *testing.T) {
	tests := []struct {
		name    string
		expired policy.Decision
		// idle after the window closed, and after a further 10 minutes (when
		// the policy, asked again, wants the same again).
		wantIdle, wantIdleLater int
	}{
		{"keep one of two", policy.Decision{KeepAlive: 10 * time.Minute, Warm: 1}, 1, 1},
		{"keep none", policy.Decision{KeepAlive: 10 * time.Minute}, 0, 0},
		{"warm more than exist", policy.Decision{KeepAlive: 10 * time.Minute, Warm: 2}, 2, 2},
		{"empty window", policy.Decision{Warm: 3}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, clk := newTestPool(t, Config{Concurrency: 2, QueueSize: 1, QueueTimeout: time.Second,
				Policy: scripted{open: policy.Decision{KeepAlive: time.Minute}, expired: tt.expired}})
			a, b := mustAcquire(t, p), mustAcquire(t, p)
			a.Release()
			b.Release()
			clk.Advance(time.Minute)
			eventually(t, "the window to close", func() bool { return p.Stats().Idle == tt.wantIdle })
			if s := p.Stats(); s.Prewarms != 0 || s.Spawning != 0 {
				t.Fatalf("after the window: %+v, want no instance started", s)
			}
			clk.Advance(10*time.Minute - time.Second)
			if s := p.Stats(); s.Idle != tt.wantIdle {
				t.Fatalf("1 s before the new keep-alive ends: %+v, want %d idle", s, tt.wantIdle)
			}
			clk.Advance(time.Second)
			eventually(t, "the next window", func() bool { return p.Stats().Idle == tt.wantIdleLater })
			if s := p.Stats(); s.Prewarms != 0 || s.Evicted["keepalive"] != int64(2-tt.wantIdle) {
				t.Fatalf("after the next window: %+v, want no instance started and %d evicted", s, 2-tt.wantIdle)
			}
		})
	}
}
