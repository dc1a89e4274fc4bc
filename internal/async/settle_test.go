package async

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestSettleBatch checks that a batch of finished invocations has every
// record stored before any delivery is acked, and that a batch whose
// records cannot be written is still acked (the invocations ran; running
// them again would be worse than a missing record).
func TestSettleBatch(t *testing.T) {
	tests := []struct {
		name string
		n    int
		// lastSubject, if set, replaces the last record's subject: one no
		// stream stores, so its acknowledgement is an error.
		lastSubject string
		closed      bool // the connection is closed: every publish fails
		stored      int  // how many of the records are then readable
	}{
		{name: "one", n: 1, stored: 1},
		{name: "many", n: maxSettleBatch, stored: maxSettleBatch},
		{name: "last refused", n: 5, lastSubject: "hearth.test.nobody", stored: 4},
		{name: "connection closed", n: 3, closed: true, stored: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, nil)
			s := env.service(t, "n1")
			ctx := context.Background()
			var (
				mu    sync.Mutex
				acked []int
				// storedAtAck is how many records were readable when
				// the first delivery was acked.
				storedAtAck = -1
			)
			readable := func() int {
				got := 0
				for i := range tt.n {
					if _, err := s.records.Get(ctx, fmt.Sprintf("settle-%d", i)); err == nil {
						got++
					}
				}
				return got
			}
			batch := make([]settling, tt.n)
			for i := range batch {
				rec := &Record{ID: fmt.Sprintf("settle-%d", i), Function: "f", Status: StatusSucceeded, Attempts: []Attempt{}}
				data, err := s.encodeRecord(rec)
				if err != nil {
					t.Fatal(err)
				}
				subject := kvRecordSubject(rec.ID)
				if i == tt.n-1 && tt.lastSubject != "" {
					subject = tt.lastSubject
				}
				batch[i] = settling{subject: subject, record: data, ack: func() error {
					mu.Lock()
					defer mu.Unlock()
					if storedAtAck < 0 {
						storedAtAck = readable()
					}
					acked = append(acked, i)
					return nil
				}}
			}
			if tt.closed {
				env.bb.Conn.Close()
			}
			timer := time.NewTimer(time.Hour)
			timer.Stop()
			s.settleBatch(batch, timer, nil)

			if len(acked) != tt.n {
				t.Fatalf("acked %d deliveries, want all %d", len(acked), tt.n)
			}
			for i, a := range acked {
				if a != i {
					t.Fatalf("acked in order %v, want 0..%d", acked, tt.n-1)
				}
			}
			if storedAtAck != tt.stored {
				t.Errorf("%d records readable at the first ack, want %d", storedAtAck, tt.stored)
			}
			if tt.closed {
				return
			}
			e, err := s.records.Get(ctx, "settle-0")
			if err != nil {
				t.Fatal(err)
			}
			var rec Record
			if err := json.Unmarshal(e.Value(), &rec); err != nil || rec.Status != StatusSucceeded {
				t.Errorf("stored record %s (%v), want a succeeded record", e.Value(), err)
			}
		})
	}
}

// The records bucket must have no limit that refuses one record and
// stores the next: settleBatch relies on it (see there).
func TestRecordsBucketRefusesNothing(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	st, err := s.records.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config
	if cfg.MaxBytes > 0 || cfg.MaxMsgSize > 0 || cfg.MaxMsgs > 0 || cfg.DiscardNewPerSubject {
		t.Errorf("records stream limits bytes %d, msg size %d, msgs %d (new refused per subject: %v): a record could be refused alone",
			cfg.MaxBytes, cfg.MaxMsgSize, cfg.MaxMsgs, cfg.DiscardNewPerSubject)
	}
}
