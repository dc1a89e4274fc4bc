package workflow

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// JetStreamConfig configures a JetStreamStore.
type JetStreamConfig struct {
	// Stream is the stream name; default "WF_HISTORY".
	Stream string
	// Subject is the subject prefix; an execution's events go to
	// Subject + "." + an encoding of its ID. Default "hearth.wf.history".
	Subject string
	// Replicas is the stream's replication factor (1 on a single node, 3 in
	// a cluster). Default 1.
	Replicas int
}

// JetStreamStore keeps execution histories in a JetStream stream, one
// subject per execution: the stream is the event log, so an execution
// survives a crash of the process, and with the server's sync setting
// (SyncAlways) a power loss.
//
// # Notes
//
// Appends carry the expected last sequence of the execution's subject, so
// two engines that both believe they own an execution cannot interleave
// events: the second one's append fails with ErrConcurrentAppend and it must
// stop. Appends also carry a message ID (execution, event ID), so a publish
// retried after a lost acknowledgement is not stored twice.
type JetStreamStore struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	subject string

	mu      sync.Mutex
	lastSeq map[string]uint64 // per execution: stream sequence of its last event
}

// ErrConcurrentAppend means another writer appended to the execution's
// history since this store last read or wrote it.
var ErrConcurrentAppend = errors.New("history was appended to concurrently")

// NewJetStreamStore creates (or updates) the history stream and returns a
// store on it.
func NewJetStreamStore(ctx context.Context, js jetstream.JetStream, cfg JetStreamConfig) (*JetStreamStore, error) {
	if cfg.Stream == "" {
		cfg.Stream = "WF_HISTORY"
	}
	if cfg.Subject == "" {
		cfg.Subject = "hearth.wf.history"
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "hearth workflow execution histories, one subject per execution",
		Subjects:    []string{cfg.Subject + ".>"},
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Retention:   jetstream.LimitsPolicy,
		// The default two-minute duplicate window covers retried publishes.
	})
	if err != nil {
		return nil, fmt.Errorf("create workflow history stream %s: %w", cfg.Stream, err)
	}
	return &JetStreamStore{js: js, stream: stream, subject: cfg.Subject, lastSeq: map[string]uint64{}}, nil
}

// subjectFor encodes an execution ID (an ARN may hold '.', which NATS uses
// as a token separator) into one subject token.
func (s *JetStreamStore) subjectFor(executionID string) string {
	return s.subject + "." + base64.RawURLEncoding.EncodeToString([]byte(executionID))
}

// Append stores ev as the next event of the execution.
func (s *JetStreamStore) Append(ctx context.Context, executionID string, ev Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event %d: %w", ev.ID, err)
	}
	// The lock guards the map only: the executor appends one execution's
	// events one at a time, so executions publish concurrently and each
	// execution's expectation is read and moved by its one writer.
	s.mu.Lock()
	last, known := s.lastSeq[executionID]
	s.mu.Unlock()
	if !known && ev.ID > 1 {
		// First append by this store to an execution that has history:
		// learn where it ends so that the expectation below is right.
		if last, err = s.lastSequence(ctx, executionID); err != nil {
			return err
		}
	}
	ack, err := s.js.Publish(ctx, s.subjectFor(executionID), data,
		jetstream.WithExpectLastSequencePerSubject(last),
		jetstream.WithMsgID(executionID+"/"+strconv.FormatInt(ev.ID, 10)))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			return fmt.Errorf("append event %d of %s: %w", ev.ID, executionID, ErrConcurrentAppend)
		}
		return fmt.Errorf("append event %d of %s: %w", ev.ID, executionID, err)
	}
	s.mu.Lock()
	if cur := s.lastSeq[executionID]; ack.Sequence > cur {
		s.lastSeq[executionID] = ack.Sequence
	}
	s.mu.Unlock()
	return nil
}

// lastSequence returns the stream sequence of the execution's last event (0
// when it has none).
func (s *JetStreamStore) lastSequence(ctx context.Context, executionID string) (uint64, error) {
	msg, err := s.stream.GetLastMsgForSubject(ctx, s.subjectFor(executionID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read last event of %s: %w", executionID, err)
	}
	return msg.Sequence, nil
}

// Load reads the execution's events in order.
func (s *JetStreamStore) Load(ctx context.Context, executionID string) ([]Event, error) {
	last, err := s.lastSequence(ctx, executionID)
	if err != nil || last == 0 {
		return nil, err
	}
	cons, err := s.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{s.subjectFor(executionID)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", executionID, err)
	}
	var events []Event
	for {
		// FetchNoWait returns what is stored now instead of waiting for a
		// full batch; the loop ends at the sequence read above.
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return nil, fmt.Errorf("read history of %s: %w", executionID, err)
		}
		var seq uint64
		for msg := range batch.Messages() {
			var ev Event
			if err := json.Unmarshal(msg.Data(), &ev); err != nil {
				return nil, fmt.Errorf("decode event of %s: %w", executionID, err)
			}
			events = append(events, ev)
			meta, err := msg.Metadata()
			if err != nil {
				return nil, fmt.Errorf("read history of %s: %w", executionID, err)
			}
			seq = meta.Sequence.Stream
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("read history of %s: %w", executionID, err)
		}
		if seq >= last {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	// A reader (describe, history) may run beside the execution's writer:
	// never move the expectation back to a sequence it has appended past.
	if cur, ok := s.lastSeq[executionID]; !ok || last > cur {
		s.lastSeq[executionID] = last
	}
	s.mu.Unlock()
	return events, nil
}
