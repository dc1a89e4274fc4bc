package async

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Finished invocations are most of all invocations, and most end in
// success at the first attempt with no record written before. Their final
// records are not KV entries, one subject each, but lines of shared
// messages in the done stream (see settleBatch): one message per worker
// batch and range of queue sequences, on the range's subject.
//
// The server keeps an index of every subject a stream holds, in memory,
// for as long as the stream holds it (records: 7 days). With a KV entry
// per invocation that index grew by one subject per invocation, and with
// it the memory the server holds and the time garbage collection takes;
// so did the cost of storing each record. A range holds doneRange
// sequences, so the done stream has a subject per doneRange invocations
// at most, and a record costs a line of a message.
//
// A record is found from its id, which holds its queue sequence (seqID):
// the range's subject, then its few messages, then the line that starts
// with the id. Only such ids, and only records not already in the KV
// bucket, are written here (see doneEligible).
const (
	doneStreamName    = "HEARTH_DONE"
	doneSubjectPrefix = "hearth.async.done."
	// doneRange is how many queue sequences share a subject.
	doneRange = 256
	// maxDoneLine bounds a record written as a line; a bigger one (a
	// large result) is a KV entry of its own, so that a batch stays far
	// below the server's largest message.
	maxDoneLine = 8 << 10
	// maxDoneMessage bounds the lines of one message.
	maxDoneMessage = 512 << 10
)

// doneSubject is the subject of the done records of queue sequence seq.
func doneSubject(seq uint64) string {
	return doneSubjectPrefix + strconv.FormatUint(seq/doneRange, 10)
}

// doneEligible says whether the final record rec (encoded: data) of the
// invocation goes to the done stream, and on which subject: its id must
// be a sequence id, and no KV record may exist for it (fresh: the attempt
// found none, wrote no running record, and is the first).
func doneEligible(rec *Record, data []byte, fresh bool) (subject string, ok bool) {
	if !fresh || len(rec.Attempts) != 1 || len(data) > maxDoneLine {
		return "", false
	}
	_, seq, ok := parseSeqID(rec.ID)
	if !ok {
		return "", false
	}
	return doneSubject(seq), true
}

// isDoneSubject says whether a record message goes to the done stream.
func isDoneSubject(subject string) bool { return strings.HasPrefix(subject, doneSubjectPrefix) }

// doneRecord finds the record of invocation id in the done stream: its
// range's messages come in one batched direct get (a round trip per
// doneRange messages), as a quiet node writes a message per invocation.
func (s *Service) doneRecord(ctx context.Context, id string) (Record, error) {
	notFound := fmt.Errorf("%w: invocation %s (records are kept %s)", ErrNotFound, id, s.opts.RecordTTL)
	_, seq, ok := parseSeqID(id)
	if !ok {
		return Record{}, notFound
	}
	subject := doneSubject(seq)
	prefix := []byte(`{"id":` + strconv.Quote(id) + `,`)
	ctx, cancel := context.WithTimeout(ctx, doneLookupTimeout)
	defer cancel()
	conn := s.opts.Conn
	inbox := conn.NewInbox()
	sub, err := conn.SubscribeSync(inbox)
	if err != nil {
		return Record{}, fmt.Errorf("read invocation %s: %w", id, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for next := uint64(1); ; {
		req := fmt.Appendf(nil, `{"seq":%d,"next_by_subj":%q,"batch":%d}`, next, subject, doneRange)
		if err := conn.PublishRequest("$JS.API.DIRECT.GET."+doneStreamName, inbox, req); err != nil {
			return Record{}, fmt.Errorf("read invocation %s: %w", id, err)
		}
	batch:
		for {
			m, err := sub.NextMsgWithContext(ctx)
			if errors.Is(err, nats.ErrNoResponders) {
				return Record{}, fmt.Errorf("read invocation %s: the %s stream does not serve direct gets (allow_direct is off; a node that starts turns it on): %w",
					id, doneStreamName, err)
			}
			if err != nil {
				return Record{}, fmt.Errorf("read invocation %s: %w", id, err)
			}
			switch status := m.Header.Get("Status"); status {
			case "":
				if rec, found, err := findLine(m.Data, prefix); found || err != nil {
					return rec, err
				}
				last, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
				if err != nil {
					return Record{}, fmt.Errorf("read invocation %s: message without its sequence: %w", id, err)
				}
				next = last + 1
			case "404": // nothing (more) on the subject
				return Record{}, notFound
			case "204": // end of the batch
				if m.Header.Get("Nats-Num-Pending") == "0" {
					return Record{}, notFound
				}
				break batch
			default:
				return Record{}, fmt.Errorf("read invocation %s: the done stream answered %s %s", id, status, m.Header.Get("Description"))
			}
		}
	}
}

// doneLookupTimeout bounds one lookup in the done stream.
const doneLookupTimeout = 10 * time.Second

// findLine decodes the line of data that starts with prefix, if any.
func findLine(data, prefix []byte) (rec Record, found bool, err error) {
	for line := range bytes.Lines(data) {
		if !bytes.HasPrefix(line, prefix) {
			continue
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return Record{}, true, fmt.Errorf("decode a done record: %w", err)
		}
		return rec, true, nil
	}
	return Record{}, false, nil
}

// doneBatch gathers the done records of a batch into messages: one per
// subject, more if one would pass maxDoneMessage, in the order of their
// first record.
type doneBatch struct {
	msgs []doneMsg
}

type doneMsg struct {
	subject string
	data    []byte
}

func (b *doneBatch) reset() { b.msgs = b.msgs[:0] }

// add appends record, one line, to a message on subject.
func (b *doneBatch) add(subject string, record []byte) {
	for i := len(b.msgs) - 1; i >= 0; i-- {
		m := &b.msgs[i]
		if m.subject == subject {
			if len(m.data)+len(record)+1 <= maxDoneMessage {
				m.data = append(append(m.data, record...), '\n')
				return
			}
			break
		}
	}
	data := make([]byte, 0, min(maxDoneMessage, 64*(len(record)+1)))
	b.msgs = append(b.msgs, doneMsg{subject: subject, data: append(append(data, record...), '\n')})
}
