package async

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// Status of an async invocation.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusRetrying  = "retrying"
	StatusSucceeded = "succeeded"
	// StatusFailed: the last attempt failed (or the function said
	// BadRequest); the event is in the function's dead-letter queue.
	StatusFailed = "failed"
)

// Record is what GET /v1/invocations/{id} shows about an async invocation.
type Record struct {
	ID       string `json:"id"`
	Function string `json:"function"`
	Status   string `json:"status"`
	// Source says who queued it: "api", "topic:NAME", "schedule:NAME",
	// "destination:FUNCTION" or "redrive".
	Source    string    `json:"source,omitempty"`
	Attempts  []Attempt `json:"attempts"`
	Result    *Result   `json:"result,omitempty"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// NextAttemptAt is set while the invocation waits to be retried.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
}

// Attempt is one run of an async invocation.
type Attempt struct {
	Number     int        `json:"number"`
	Node       string     `json:"node,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Outcome is "success", "error", "timeout", "crash" (invoke.Outcome) or
	// "interrupted" (the node stopped during the attempt).
	Outcome string `json:"outcome,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Result is a function's response, as recorded.
type Result struct {
	Status        int                    `json:"status"`
	Headers       map[string][]string    `json:"headers,omitempty"`
	Body          []byte                 `json:"body,omitempty"`
	FunctionError *runtime.FunctionError `json:"function_error,omitempty"`
	RequestID     string                 `json:"request_id,omitempty"`
	Version       int64                  `json:"version,omitempty"`
}

func resultOf(res *invoke.Result) *Result {
	if res == nil {
		return nil
	}
	r := res.Response
	return &Result{Status: r.Status, Headers: r.Headers, Body: r.Body, FunctionError: r.Error, RequestID: res.RequestID, Version: res.Version}
}

func (r *Result) invokeResult() *invoke.Result {
	return &invoke.Result{RequestID: r.RequestID, Version: r.Version,
		Response: runtime.Response{Status: r.Status, Headers: r.Headers, Body: r.Body, Error: r.FunctionError}}
}

func (r *Record) terminal() bool { return r.Status == StatusSucceeded || r.Status == StatusFailed }

// Invocation returns the record of an async invocation.
func (s *Service) Invocation(ctx context.Context, id string) (Record, error) {
	if !validID(id) {
		return Record{}, fmt.Errorf("%w: invocation %q", ErrNotFound, id)
	}
	rec, err := s.findRecord(ctx, id)
	if errors.Is(err, ErrNotFound) {
		if queued, qerr := s.queuedRecord(ctx, id); qerr == nil || !errors.Is(qerr, ErrNotFound) {
			return queued, qerr
		}
	}
	return rec, err
}

// findRecord reads the record of invocation id: its KV entry, or else its
// line in the done stream (done.go).
func (s *Service) findRecord(ctx context.Context, id string) (Record, error) {
	rec, _, err := s.loadRecord(ctx, id)
	if errors.Is(err, ErrNotFound) {
		if done, derr := s.doneRecord(ctx, id); derr == nil || !errors.Is(derr, ErrNotFound) {
			return done, derr
		}
	}
	return rec, err
}

// queuedRecord is the record of an invocation that no worker has taken
// yet, read from its message in the queue. Enqueue writes only the message;
// the first attempt writes the record proper.
func (s *Service) queuedRecord(ctx context.Context, id string) (Record, error) {
	notFound := fmt.Errorf("%w: invocation %s (records are kept %s)", ErrNotFound, id, s.opts.RecordTTL)
	var m *jetstream.RawStreamMsg
	var err error
	if _, seq, ok := parseSeqID(id); ok {
		m, err = s.invokeStream.GetMsg(ctx, seq)
	} else {
		m, err = s.invokeStream.GetLastMsgForSubject(ctx, invokeSubject("*", id))
	}
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Record{}, notFound
	}
	if err != nil {
		return Record{}, fmt.Errorf("read queued invocation %s: %w", id, err)
	}
	env, err := decodeEnvelope(m.Header, m.Data, m.Subject, m.Sequence)
	if err != nil {
		return Record{}, err
	}
	if env.ID != id {
		// Another invocation's message at that sequence: the id's nonce
		// is not its own.
		return Record{}, notFound
	}
	rec := Record{ID: env.ID, Function: env.Function, Status: StatusQueued, Source: env.Source,
		Attempts: env.Previous, CreatedAt: env.EnqueuedAt, UpdatedAt: env.EnqueuedAt}
	if rec.Attempts == nil {
		rec.Attempts = []Attempt{}
	}
	return rec, nil
}

func (s *Service) loadRecord(ctx context.Context, id string) (Record, uint64, error) {
	e, err := s.records.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record{}, 0, fmt.Errorf("%w: invocation %s (records are kept %s)", ErrNotFound, id, s.opts.RecordTTL)
	}
	if err != nil {
		return Record{}, 0, fmt.Errorf("read invocation %s: %w", id, err)
	}
	var rec Record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return Record{}, 0, fmt.Errorf("decode invocation %s: %w", id, err)
	}
	return rec, e.Revision(), nil
}

func (s *Service) saveRecord(ctx context.Context, rec *Record) error {
	f, err := s.recordAsync(rec)
	if err == nil {
		_, err = waitAck(ctx, f)
	}
	if err != nil {
		return fmt.Errorf("write invocation %s: %w", rec.ID, err)
	}
	return nil
}

// validID: ids are used as KV keys and subject tokens.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// recordAsync writes rec as a KV entry without waiting for the server's
// acknowledgement (see waitAck). On one connection it is stored in order
// with the writes that follow it.
func (s *Service) recordAsync(rec *Record) (jetstream.PubAckFuture, error) {
	b, err := s.encodeRecord(rec)
	if err != nil {
		return nil, err
	}
	f, err := s.opts.JS.PublishAsync(kvRecordSubject(rec.ID), b)
	if err != nil {
		return nil, fmt.Errorf("write invocation %s: %w", rec.ID, err)
	}
	return f, nil
}

// encodeRecord stamps rec and encodes it.
func (s *Service) encodeRecord(rec *Record) ([]byte, error) {
	rec.UpdatedAt = s.opts.Clock.Now().UTC()
	b, err := rec.appendJSON(nil) // not a reused buffer: the client may hold it until acked
	if err != nil {
		return nil, fmt.Errorf("encode invocation %s: %w", rec.ID, err)
	}
	return b, nil
}

// kvRecordSubject is the subject that stores invocation id's record in the
// records bucket: KV entries are messages on the bucket's subject for
// their key (ids are valid keys: see validID).
func kvRecordSubject(id string) string { return "$KV." + recordsBucket + "." + id }

// waitAck waits for the acknowledgement of an async publish.
func waitAck(ctx context.Context, f jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	select {
	case a := <-f.Ok():
		return a, nil
	case err := <-f.Err():
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
