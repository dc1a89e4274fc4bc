package async

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/pool"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		base, limit time.Duration
		attempt     int
		jitter      float64
		want        time.Duration
	}{
		{time.Second, time.Minute, 1, 0.5, 500 * time.Millisecond},
		{time.Second, time.Minute, 2, 0.5, time.Second},
		{time.Second, time.Minute, 3, 0.5, 2 * time.Second},
		{time.Second, 3 * time.Second, 5, 1 - 1e-9, 3*time.Second - 3},
		{time.Second, time.Minute, 4, 0, 0},
		{time.Second, time.Hour, 200, 0.5, 30 * time.Minute}, // no overflow
		{0, time.Minute, 3, 0.5, 0},
	}
	for _, tt := range tests {
		if got := Backoff(tt.base, tt.limit, tt.attempt, tt.jitter); got != tt.want {
			t.Errorf("Backoff(%s, %s, %d, %v) = %s, want %s", tt.base, tt.limit, tt.attempt, tt.jitter, got, tt.want)
		}
	}
}

func ptr(n int) *int { return &n }

// TestRetries: a function that fails its first N calls succeeds on call
// N+1 when it has N retries; with fewer it ends in the dead-letter queue
// with every attempt's error, and a redrive runs it again.
func TestRetries(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	ctx := context.Background()
	failFirst := func(n int) behaviour {
		return func(_ context.Context, call int, _ runtime.Request) (runtime.Response, error) {
			if call <= n {
				return failing("HandlerError"), nil
			}
			return runtime.Response{Status: 200, Body: []byte("done")}, nil
		}
	}
	tests := []struct {
		name       string
		retries    int
		fails      int
		wantStatus string
		wantCalls  int
	}{
		{"succeeds-on-last-retry", 2, 2, StatusSucceeded, 3},
		{"succeeds-at-once", 2, 0, StatusSucceeded, 1},
		{"exhausts-retries", 1, 5, StatusFailed, 2},
		{"no-retries", 0, 5, StatusFailed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.node.add(tt.name, registry.Config{Retries: ptr(tt.retries)}, failFirst(tt.fails))
			id, err := s.Enqueue(ctx, tt.name, runtime.Request{Body: []byte("x")}, "")
			if err != nil {
				t.Fatal(err)
			}
			rec := waitStatus(t, s, id, tt.wantStatus)
			if len(rec.Attempts) != tt.wantCalls || len(env.node.callsOf(tt.name)) != tt.wantCalls {
				t.Fatalf("attempts %d, calls %d, want %d", len(rec.Attempts), len(env.node.callsOf(tt.name)), tt.wantCalls)
			}
			for i, a := range rec.Attempts[:min(tt.fails, len(rec.Attempts))] {
				if a.Outcome != "error" || !strings.Contains(a.Error, "deliberate") || a.Number != i+1 {
					t.Errorf("attempt %d = %+v, want a recorded error", i+1, a)
				}
			}
			dls, err := s.DeadLetters(ctx, tt.name, 0)
			if err != nil {
				t.Fatal(err)
			}
			wantDL := tt.wantStatus == StatusFailed
			if (len(dls) == 1) != wantDL {
				t.Fatalf("dead letters %+v, want %v", dls, wantDL)
			}
			if wantDL && (dls[0].ID != id || len(dls[0].Attempts) != tt.wantCalls || dls[0].Condition != "RetriesExhausted") {
				t.Fatalf("dead letter %+v", dls[0])
			}
		})
	}

	t.Run("redrive", func(t *testing.T) {
		dls, err := s.DeadLetters(ctx, "exhausts-retries", 0)
		if err != nil || len(dls) != 1 {
			t.Fatalf("dead letters %v %v", dls, err)
		}
		env.node.add("exhausts-retries", registry.Config{Retries: ptr(1)}, ok("fixed"))
		ids, err := s.Redrive(ctx, "exhausts-retries", "")
		if err != nil || len(ids) != 1 || ids[0] != dls[0].ID {
			t.Fatalf("redrive = %v, %v", ids, err)
		}
		rec := waitStatus(t, s, ids[0], StatusSucceeded)
		if len(rec.Attempts) != 3 || string(rec.Result.Body) != "fixed" || rec.Source != "redrive" {
			t.Fatalf("redriven record %+v", rec)
		}
		if left, _ := s.DeadLetters(ctx, "exhausts-retries", 0); len(left) != 0 {
			t.Fatalf("dead letters after redrive: %v", left)
		}
		if _, err := s.Redrive(ctx, "exhausts-retries", ids[0]); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second redrive of one id: %v, want ErrNotFound", err)
		}
	})
}

func TestBadRequestIsNotRetried(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	env.node.add("picky", registry.Config{Retries: ptr(5)}, func(context.Context, int, runtime.Request) (runtime.Response, error) {
		return failing("BadRequest"), nil
	})
	id, err := s.Enqueue(context.Background(), "picky", runtime.Request{}, "")
	if err != nil {
		t.Fatal(err)
	}
	rec := waitStatus(t, s, id, StatusFailed)
	dl, err := s.DeadLetter(context.Background(), "picky", id)
	if err != nil || len(rec.Attempts) != 1 || dl.Condition != "BadRequest" {
		t.Fatalf("record %+v dead letter %+v %v: want one attempt, condition BadRequest", rec, dl, err)
	}
}

func TestCrashAndTimeoutAreRetried(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	env.node.add("flaky", registry.Config{Retries: ptr(2)}, func(_ context.Context, n int, _ runtime.Request) (runtime.Response, error) {
		switch n {
		case 1:
			return runtime.Response{}, runtime.ErrTrap
		case 2:
			return runtime.Response{}, runtime.ErrTimeout
		}
		return runtime.Response{Status: 200}, nil
	})
	id, err := s.Enqueue(context.Background(), "flaky", runtime.Request{}, "")
	if err != nil {
		t.Fatal(err)
	}
	rec := waitStatus(t, s, id, StatusSucceeded)
	if got := []string{rec.Attempts[0].Outcome, rec.Attempts[1].Outcome, rec.Attempts[2].Outcome}; strings.Join(got, ",") != "crash,timeout,success" {
		t.Fatalf("outcomes %v", got)
	}
}

func TestEnqueueRefusesBadInput(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	env.node.add("f", registry.Config{}, ok(""))
	tests := []struct {
		name, fn string
		body     []byte
		want     error
	}{
		{"unknown function", "nope", nil, registry.ErrNotFound},
		{"bad name", "Bad_Name", nil, ErrInvalid},
		{"too large", "f", make([]byte, MaxPayloadBytes+1), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Enqueue(context.Background(), tt.fn, runtime.Request{Body: tt.body}, ""); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	info, err := s.invokeStream.Info(context.Background())
	if err != nil || info.State.Msgs != 0 {
		t.Fatalf("queued %d messages after refusals (%v)", info.State.Msgs, err)
	}
}

// TestConcurrencyIsBounded: a node runs at most the function's concurrency
// of its queued invocations at once; throttling does not use up attempts.
func TestConcurrencyIsBounded(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	var mu sync.Mutex
	running, most := 0, 0
	gate := make(chan struct{})
	env.node.add("narrow", registry.Config{Concurrency: 2, Retries: ptr(0)}, func(ctx context.Context, n int, _ runtime.Request) (runtime.Response, error) {
		if n == 1 {
			return runtime.Response{}, pool.ErrThrottled // not an attempt
		}
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		<-gate
		mu.Lock()
		running--
		mu.Unlock()
		return runtime.Response{Status: 200}, nil
	})
	ids := make([]string, 10)
	for i := range ids {
		id, err := s.Enqueue(context.Background(), "narrow", runtime.Request{}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	eventually(t, "two running", func() bool { mu.Lock(); defer mu.Unlock(); return running == 2 })
	close(gate)
	for _, id := range ids {
		if rec := waitStatus(t, s, id, StatusSucceeded); len(rec.Attempts) != 1 {
			t.Fatalf("%s: %d attempts, want 1 (throttling is not an attempt)", id, len(rec.Attempts))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if most != 2 {
		t.Fatalf("%d ran at once, want the concurrency of 2", most)
	}
}

// TestQueuedRecordIsReadableAtOnce: an accepted invocation that no worker
// has taken yet has a "queued" record (read from its message), and a
// message queued on the subject used before invocations had their own
// runs once a node starts and sees it.
func TestQueuedRecordIsReadableAtOnce(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	ctx := context.Background()
	gate := make(chan struct{})
	env.node.add("held", registry.Config{Concurrency: 1}, func(ctx context.Context, _ int, req runtime.Request) (runtime.Response, error) {
		if string(req.Body) == "first" {
			<-gate
		}
		return runtime.Response{Status: 200}, nil
	})
	first, err := s.Enqueue(ctx, "held", runtime.Request{Body: []byte("first")}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, first, StatusRunning)
	second, err := s.Enqueue(ctx, "held", runtime.Request{Body: []byte("second")}, "")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Invocation(ctx, second)
	if err != nil || rec.Status != StatusQueued || rec.Function != "held" || rec.Source != "api" ||
		rec.CreatedAt.IsZero() || rec.Attempts == nil || len(rec.Attempts) != 0 {
		t.Fatalf("record of the queued invocation = %+v, %v", rec, err)
	}
	if _, err := s.Invocation(ctx, "no-such-id"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v, want ErrNotFound", err)
	}

	filters := func() []string {
		c, err := env.bb.JS.Consumer(ctx, invokeStreamName, queueConsumer("held").Name)
		if err != nil {
			t.Fatal(err)
		}
		return c.CachedInfo().Config.FilterSubjects
	}
	if f := filters(); len(f) != 1 {
		t.Fatalf("filter subjects %v: with nothing queued the old way, want only the per-invocation one", f)
	}

	// The subject of a function's queue before invocations had their own.
	old, err := json.Marshal(envelope{ID: "queued-before-upgrade", Function: "held", Source: "api", EnqueuedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.bb.JS.Publish(ctx, invokeSubjectPrefix+"held", old); err != nil {
		t.Fatal(err)
	}
	// A node that starts (after an upgrade) finds it and pulls it too.
	env.service(t, "n2")
	if f := filters(); len(f) != 2 {
		t.Fatalf("filter subjects %v: want the old subject too", f)
	}
	close(gate)
	for _, id := range []string{first, second, "queued-before-upgrade"} {
		waitStatus(t, s, id, StatusSucceeded)
	}
}

// TestRunningRecordOnlyForLongAttempts: an attempt is recorded as running
// once it has run runningAfter (by the service's clock), so that watchers
// and a restarted node see it; one that ends sooner is written once.
func TestRunningRecordOnlyForLongAttempts(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	env := newEnv(t, clk)
	s := env.service(t, "n1")
	ctx := context.Background()
	started, gate := make(chan struct{}, 1), make(chan struct{})
	env.node.add("slow", registry.Config{}, func(_ context.Context, _ int, req runtime.Request) (runtime.Response, error) {
		if string(req.Body) == "slow" {
			started <- struct{}{}
			<-gate
		}
		return runtime.Response{Status: 200}, nil
	})
	// writes counts the messages stored in the records bucket and in the
	// done stream.
	writes := func() (kv, done uint64) {
		for i, name := range []string{"KV_" + recordsBucket, doneStreamName} {
			info, err := env.bb.JS.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				kv = info.CachedInfo().State.LastSeq
			} else {
				done = info.CachedInfo().State.LastSeq
			}
		}
		return kv, done
	}

	quick, err := s.Enqueue(ctx, "slow", runtime.Request{Body: []byte("quick")}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, quick, StatusSucceeded)
	if kv, done := writes(); kv != 0 || done != 1 {
		t.Fatalf("a quick invocation wrote %d KV records and %d done messages, want 0 and 1 (its end, a line)", kv, done)
	}

	id, err := s.Enqueue(ctx, "slow", runtime.Request{Body: []byte("slow")}, "")
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if rec, err := s.Invocation(ctx, id); err != nil || rec.Status != StatusQueued {
		t.Fatalf("before runningAfter: %+v, %v; want queued", rec, err)
	}
	eventually(t, "the watch's timer", func() bool { return clk.Pending() > 0 })
	clk.Advance(runningAfter)
	rec := waitStatus(t, s, id, StatusRunning)
	if len(rec.Attempts) != 1 || rec.Attempts[0].FinishedAt != nil || rec.Attempts[0].Node != "n1" {
		t.Fatalf("running record = %+v", rec)
	}
	close(gate)
	waitStatus(t, s, id, StatusSucceeded)
	// Once a running record is in the bucket, the end goes there too, or
	// the bucket's would still say running.
	if kv, done := writes(); kv != 2 || done != 1 {
		t.Fatalf("%d KV records and %d done messages written in all, want 2 (slow running, slow's end) and 1 (quick's end)", kv, done)
	}
}

// TestHoldQueue: while a queue is held on the only node, invocations are
// accepted and wait, queued; resumed, every one runs.
func TestHoldQueue(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	ctx := context.Background()
	env.node.add("held", registry.Config{Concurrency: 2}, ok("done"))
	resume, err := s.HoldQueue(ctx, "held")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 20 {
		id, err := s.Enqueue(ctx, "held", runtime.Request{Body: []byte("x")}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// Nothing to wait for but time: give a worker, had one been started,
	// the chance to take the first invocation.
	time.Sleep(200 * time.Millisecond)
	if n := len(env.node.callsOf("held")); n != 0 {
		t.Fatalf("%d invocations ran while the queue was held", n)
	}
	if rec, err := s.Invocation(ctx, ids[0]); err != nil || rec.Status != StatusQueued || rec.ID != ids[0] {
		t.Fatalf("held invocation: %+v, %v; want queued", rec, err)
	}
	// Its id is its nonce and its place in the stream: the same place with
	// another nonce is no invocation.
	if _, seq, ok := parseSeqID(ids[0]); !ok {
		t.Fatalf("id %q is not made of a nonce and a sequence", ids[0])
	} else if _, err := s.Invocation(ctx, seqID("ffffffffffffffff", seq)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a guessed id: %v, want ErrNotFound", err)
	}
	if err := resume(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		waitStatus(t, s, id, StatusSucceeded)
	}
	if n := len(env.node.callsOf("held")); n != len(ids) {
		t.Fatalf("%d runs, want %d", n, len(ids))
	}
}

// TestEnqueueIDs: an invocation with nothing of its own gets an id made of
// its place in the stream; one whose envelope cannot travel in headers,
// or that carries an idempotency key, gets a random id; each runs and its
// record is found by that id.
func TestEnqueueIDs(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	ctx := context.Background()
	env.node.add("ids", registry.Config{}, ok("done"))
	cases := []struct {
		name  string
		req   runtime.Request
		key   string
		bySeq bool
	}{
		{"plain", runtime.Request{Method: "POST", Path: "/", Body: []byte("a")}, "", true},
		{"a header value with a line break", runtime.Request{Body: []byte("b"),
			Headers: map[string][]string{"X-Odd": {"one\ntwo"}}}, "", false},
		{"an idempotency key", runtime.Request{Body: []byte("c")}, "order-1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := s.Enqueue(ctx, "ids", tc.req, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, bySeq := parseSeqID(id); bySeq != tc.bySeq {
				t.Fatalf("id %q: made of a sequence = %v, want %v", id, bySeq, tc.bySeq)
			}
			rec := waitStatus(t, s, id, StatusSucceeded)
			if rec.ID != id {
				t.Fatalf("record id %q, want %q", rec.ID, id)
			}
		})
	}
	for _, req := range env.node.callsOf("ids") {
		if req.ID == "" {
			t.Fatalf("a request reached the function without its id: %+v", req)
		}
	}
}
