package async

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

func TestDoneEligible(t *testing.T) {
	one := []Attempt{{Number: 1}}
	tests := []struct {
		name    string
		id      string
		attempt []Attempt
		size    int
		fresh   bool
		subject string // "" when it goes to the KV bucket
	}{
		{name: "first attempt, sequence id", id: "0123456789abcdef-700", attempt: one, size: 200, fresh: true, subject: "hearth.async.done.2"},
		{name: "range start", id: "0123456789abcdef-256", attempt: one, size: 200, fresh: true, subject: "hearth.async.done.1"},
		{name: "a KV record exists", id: "0123456789abcdef-700", attempt: one, size: 200, fresh: false},
		{name: "after a retry", id: "0123456789abcdef-700", attempt: []Attempt{{Number: 1}, {Number: 2}}, size: 200, fresh: true},
		{name: "large result", id: "0123456789abcdef-700", attempt: one, size: maxDoneLine + 1, fresh: true},
		{name: "an id of its own", id: "order-17", attempt: one, size: 200, fresh: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subject, ok := doneEligible(&Record{ID: tt.id, Attempts: tt.attempt}, make([]byte, tt.size), tt.fresh)
			if ok != (tt.subject != "") || subject != tt.subject {
				t.Errorf("doneEligible = %q, %v; want %q", subject, ok, tt.subject)
			}
		})
	}
}

func TestDoneBatchGroupsBySubject(t *testing.T) {
	big := bytes.Repeat([]byte("x"), maxDoneMessage/2)
	tests := []struct {
		name  string
		adds  []string // subject:record
		wants []string // subject:lines joined by '|'
	}{
		{name: "one subject", adds: []string{"a:1", "a:2", "a:3"}, wants: []string{"a:1|2|3"}},
		{name: "two ranges, in first-seen order", adds: []string{"a:1", "b:2", "a:3"}, wants: []string{"a:1|3", "b:2"}},
		{name: "full message starts another", adds: []string{"a:" + string(big), "a:" + string(big), "a:3"},
			wants: []string{"a:" + string(big), "a:" + string(big) + "|3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b doneBatch
			b.add("stale", []byte("from the last batch"))
			b.reset()
			for _, a := range tt.adds {
				subject, record, _ := strings.Cut(a, ":")
				b.add(subject, []byte(record))
			}
			var got []string
			for _, m := range b.msgs {
				got = append(got, m.subject+":"+strings.ReplaceAll(strings.TrimSuffix(string(m.data), "\n"), "\n", "|"))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wants) {
				t.Errorf("messages = %.80q, want %.80q", got, tt.wants)
			}
		})
	}
}

// TestDoneRecordLookup: records written as lines are found by id across
// the several messages of one subject; an id whose nonce is not its own
// is not found.
func TestDoneRecordLookup(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	ctx := context.Background()
	settleAs := func(nonce string, seqs ...uint64) {
		var batch []settling
		for _, seq := range seqs {
			rec := &Record{ID: seqID(nonce, seq), Function: "f", Status: StatusSucceeded, Attempts: []Attempt{{Number: 1}}}
			data, err := s.encodeRecord(rec)
			if err != nil {
				t.Fatal(err)
			}
			subject, ok := doneEligible(rec, data, true)
			if !ok {
				t.Fatalf("record %s not eligible", rec.ID)
			}
			batch = append(batch, settling{ack: func() error { return nil }, subject: subject, record: data})
		}
		s.settleBatch(batch, nil, nil)
	}
	settle := func(seqs ...uint64) { settleAs("00000000000000aa", seqs...) }
	settle(3, 4, 300) // two subjects
	settle(5, 1)      // a second message on the first subject
	// More messages on one subject than one batched read returns.
	for seq := uint64(2 * doneRange); seq < 2*doneRange+doneRange; seq++ {
		settle(seq)
	}
	settleAs("00000000000000dd", 2*doneRange+7) // found only in the second read
	for _, id := range []string{seqID("00000000000000aa", 1), seqID("00000000000000aa", 3), seqID("00000000000000aa", 4),
		seqID("00000000000000aa", 5), seqID("00000000000000aa", 300), seqID("00000000000000aa", 3*doneRange-1),
		seqID("00000000000000dd", 2*doneRange+7)} {
		rec, err := s.Invocation(ctx, id)
		if err != nil || rec.ID != id || rec.Status != StatusSucceeded {
			t.Errorf("Invocation(%s) = %+v, %v", id, rec, err)
		}
	}
	for _, id := range []string{seqID("00000000000000bb", 3), seqID("00000000000000aa", 2), seqID("00000000000000aa", 3) + "0",
		seqID("00000000000000aa", 10*doneRange)} { // wrong nonce; none written; no such id; an empty range
		if _, err := s.Invocation(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Invocation(%s) error = %v, want not found", id, err)
		}
	}
}

// TestDoneInvocationIsNotRunAgain: a delivery of an invocation whose record
// is in the done stream (the node stopped between the record and the ack)
// is acked without running the function again.
func TestDoneInvocationIsNotRunAgain(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	ctx := context.Background()
	env.node.add("once", registry.Config{}, ok("ran"))
	id := seqID("00000000000000cc", 42)
	rec := &Record{ID: id, Function: "once", Status: StatusSucceeded, Attempts: []Attempt{{Number: 1}}}
	data, err := s.encodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	subject, eligible := doneEligible(rec, data, true)
	if !eligible {
		t.Fatal("not eligible")
	}
	s.settleBatch([]settling{{ack: func() error { return nil }, subject: subject, record: data}}, nil, nil)

	d := &fakeDelivery{delivered: 2}
	s.process(ctx, d, envelope{ID: id, Function: "once", EnqueuedAt: time.Now()})
	if calls := env.node.callsOf("once"); len(calls) != 0 {
		t.Errorf("the function ran %d times, want 0", len(calls))
	}
	if got := d.settled(); got != "ack" {
		t.Errorf("delivery settled with %q, want ack", got)
	}
}

// TestManyInvocationsEndInDoneRecords: invocations that finish together
// are recorded in shared messages, and each one's record reads back.
func TestManyInvocationsEndInDoneRecords(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	ctx := context.Background()
	env.node.add("many", registry.Config{Concurrency: 8}, ok("done"))
	resume, err := s.HoldQueue(ctx, "many")
	if err != nil {
		t.Fatal(err)
	}
	const n = 600 // more than two ranges
	ids := make([]string, n)
	for i := range ids {
		if ids[i], err = s.Enqueue(ctx, "many", runtime.Request{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := resume(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		rec := waitStatus(t, s, id, StatusSucceeded)
		if rec.Result == nil || string(rec.Result.Body) != "done" {
			t.Fatalf("%s: result %+v", id, rec.Result)
		}
	}
	done, err := env.bb.JS.Stream(ctx, doneStreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := done.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs == 0 || info.State.Msgs >= n {
		t.Errorf("%d done messages for %d invocations: want some, and fewer", info.State.Msgs, n)
	}
	t.Logf("%d invocations recorded in %d messages on %d subjects", n, info.State.Msgs, info.State.NumSubjects)
}

// fakeDelivery is a delivery that remembers how it was settled.
type fakeDelivery struct {
	delivered uint64
	mu        sync.Mutex
	how       []string
}

func (d *fakeDelivery) note(how string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.how = append(d.how, how)
	return nil
}

func (d *fakeDelivery) settled() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.how, ",")
}

func (d *fakeDelivery) Data() []byte                     { return nil }
func (d *fakeDelivery) Headers() nats.Header             { return nats.Header{} }
func (d *fakeDelivery) NumDelivered() uint64             { return d.delivered }
func (d *fakeDelivery) Subject() string                  { return invokeSubject("f", seqSubjectToken) }
func (d *fakeDelivery) Sequence() uint64                 { return 1 }
func (d *fakeDelivery) Ack() error                       { return d.note("ack") }
func (d *fakeDelivery) Nak() error                       { return d.note("nak") }
func (d *fakeDelivery) NakWithDelay(time.Duration) error { return d.note("nak-delay") }
func (d *fakeDelivery) InProgress() error                { return d.note("in-progress") }
func (d *fakeDelivery) Term() error                      { return d.note("term") }

// TestDoneRecordLookupErrors: a damaged line and a done stream that does
// not answer direct gets give errors that say so, not "not found".
func TestDoneRecordLookupErrors(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	ctx := context.Background()
	damaged := seqID("00000000000000ee", 9)
	if _, err := env.bb.JS.Publish(ctx, doneSubject(9), []byte(`{"id":"`+damaged+`","status":`+"\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Invocation(ctx, damaged); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "decode a done record") {
		t.Errorf("damaged record: %v, want a decode error", err)
	}

	done, err := env.bb.JS.Stream(ctx, doneStreamName)
	if err != nil {
		t.Fatal(err)
	}
	cfg := done.CachedInfo().Config
	cfg.AllowDirect = false
	if _, err := env.bb.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Invocation(ctx, seqID("00000000000000ee", 10)); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "does not serve direct gets") {
		t.Errorf("no direct gets: %v, want an error that says so", err)
	}
}

// TestProcessRecordsWithoutBackgroundAck: a delivery that cannot be acked
// in the background (not a worker's) has its record stored, and then is
// acked, before process returns.
func TestProcessRecordsWithoutBackgroundAck(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	ctx := context.Background()
	env.node.add("fg", registry.Config{}, ok("done"))
	id := seqID("00000000000000ff", 77)
	d := &fakeDelivery{delivered: 1}
	s.process(ctx, d, envelope{ID: id, Function: "fg", EnqueuedAt: time.Now()})
	if got := d.settled(); got != "ack" {
		t.Fatalf("delivery settled with %q, want ack", got)
	}
	rec, err := s.doneRecord(ctx, id)
	if err != nil || rec.Status != StatusSucceeded || string(rec.Result.Body) != "done" {
		t.Fatalf("done record = %+v, %v; want the success", rec, err)
	}
}
