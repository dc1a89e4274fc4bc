package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// natsTxRetries bounds how often Transact retries a batch that the server
// rejected although every condition still holds when re-read: that happens
// when a create-only key got a new delete marker between the read and the
// commit, which is a harmless race.
const natsTxRetries = 3

// Transact implements Store with a JetStream atomic batch publish: all
// messages of the batch are staged by the server and committed under the
// stream's lock in one step, or the whole batch is rejected. Each conditioned
// operation carries Nats-Expected-Last-Subject-Sequence, which the server
// checks at commit, so a stale ETag anywhere rejects the whole batch.
//
// Guarantees: atomic and durable as a unit (a crash never leaves half a
// batch), conditions checked at commit. Not a read snapshot: a reader that
// reads the keys one by one while the batch is being applied may see some of
// the new values before the others for that instant.
//
// Cost: with file storage the server stages a batch with extra fsyncs; a
// batch costs a few milliseconds, far more than a single Set. Use Set for
// single-key writes.
func (s *NATS) Transact(ctx context.Context, ops []Op) error {
	if err := s.limits.CheckOps(ops); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		msgs, err := s.batch(ctx, ops)
		if err != nil {
			return err
		}
		_, err = jetstreamext.PublishMsgBatch(ctx, s.js, msgs)
		if err == nil {
			return nil
		}
		if !isWrongLastSeq(err) {
			return natsErr("transaction", err)
		}
		// The server does not say which message failed; find it by reading
		// the conditioned keys again.
		if cerr := s.firstFailingCondition(ctx, ops); cerr != nil {
			return cerr
		}
		if attempt+1 >= natsTxRetries {
			return fmt.Errorf("nats transaction: %w: conditions kept changing under the batch", ErrETagMismatch)
		}
	}
}

// batch turns ops into batch messages. Create-only operations need the
// sequence of the key's last message: a deleted or expired key still has a
// marker message, and the expectation must name it.
func (s *NATS) batch(ctx context.Context, ops []Op) ([]*nats.Msg, error) {
	msgs := make([]*nats.Msg, len(ops))
	for i, op := range ops {
		// Every message needs a non-nil Header: PublishMsgBatch writes to it.
		m := &nats.Msg{Subject: s.subject + encodeNATSKey(op.Key), Header: nats.Header{}}
		switch op.Kind {
		case OpSet:
			m.Data = op.Value
			if ttl := natsTTL(op.TTL); ttl > 0 {
				m.Header.Set(jetstream.MsgTTLHeader, ttl.String())
			}
		case OpDelete:
			m.Header.Set("KV-Operation", "DEL")
		}
		switch {
		case op.IfMatch != "":
			rev, _ := ParseETag(op.IfMatch) // validated by CheckOps
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(rev, 10))
		case op.Kind == OpSet && op.IfNoneMatch:
			last, live, err := s.last(ctx, op.Key)
			if err != nil {
				return nil, err
			}
			if live {
				return nil, exists(op.Key, i)
			}
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(last, 10))
		}
		msgs[i] = m
	}
	return msgs, nil
}

// last returns the sequence of key's last message (0 if none) and whether
// that message is a live value rather than a delete, purge or expiry marker.
func (s *NATS) last(ctx context.Context, key string) (uint64, bool, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, s.subject+encodeNATSKey(key))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, natsErr("read "+key, err)
	}
	live := m.Header.Get("KV-Operation") == "" && m.Header.Get(jetstream.MarkerReasonHeader) == ""
	return m.Sequence, live, nil
}

// firstFailingCondition re-reads the conditioned keys of ops and returns a
// *ConditionError for the first condition that no longer holds, or nil.
func (s *NATS) firstFailingCondition(ctx context.Context, ops []Op) error {
	for i, op := range ops {
		if op.IfMatch == "" && !(op.Kind == OpSet && op.IfNoneMatch) {
			continue
		}
		seq, live, err := s.last(ctx, op.Key)
		if err != nil {
			return err
		}
		if op.IfMatch != "" && (!live || FormatETag(seq) != op.IfMatch) {
			return mismatch(op.Key, i)
		}
		if op.IfMatch == "" && live {
			return exists(op.Key, i)
		}
	}
	return nil
}
