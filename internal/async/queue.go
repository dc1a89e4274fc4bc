package async

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/pool"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// Enqueue queues an async invocation of function and returns its id at
// once. With an idempotencyKey, a repeat within the function's idempotency
// window queues nothing and returns the first invocation's id.
func (s *Service) Enqueue(ctx context.Context, function string, req runtime.Request, idempotencyKey string) (string, error) {
	return s.enqueue(ctx, envelope{Function: function, Request: req, IdempotencyKey: idempotencyKey, Source: "api"}, "")
}

// enqueue validates env and publishes it to the function's queue. msgID,
// when set, deduplicates the publish (schedule ticks, redrives); so does
// an id that env brings.
func (s *Service) enqueue(ctx context.Context, env envelope, msgID string) (id string, err error) {
	ctx, span, recording := s.startSpan(ctx, "async enqueue ", env.Function, trace.SpanKindProducer)
	if recording {
		span.SetAttributes(attrFunction.String(env.Function))
	}
	defer func() {
		if recording {
			span.SetAttributes(attrInvocationID.String(id))
			endSpan(span, err)
		}
	}()
	if err := registry.ValidateName(env.Function); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if len(env.Request.Body) > MaxPayloadBytes {
		return "", fmt.Errorf("%w: %d bytes, the limit for an async invocation is %d", ErrTooLarge, len(env.Request.Body), MaxPayloadBytes)
	}
	fn, err := s.fns.Get(ctx, env.Function)
	if err != nil {
		return "", err
	}
	fresh := env.ID == ""
	// Most invocations get their id once stored (see seqID). Those whose
	// id must exist before (an idempotency key's claim names it), whose
	// publish may be a repeat the server drops (msgID), or whose envelope
	// travels as JSON (no nonce header) get one now.
	bySeq := fresh && env.IdempotencyKey == "" && msgID == "" && headerSafe(env)
	switch {
	case bySeq:
		env.nonce = newNonce()
	case fresh:
		env.ID = invoke.NewRequestID()
	}
	if env.IdempotencyKey != "" {
		first, err := s.claimEnqueue(ctx, fn, env.IdempotencyKey, env.ID)
		if err != nil {
			return "", err
		}
		if first != env.ID {
			return first, nil
		}
	}
	env.Request.ID = env.ID
	env.EnqueuedAt = s.opts.Clock.Now().UTC()
	if err := s.ensureWorker(ctx, queueConsumer(fn.Name), false); err != nil {
		return "", err
	}
	if msgID == "" && !fresh {
		// A caller's id (a destination's, an event's) is the same when the
		// caller repeats itself: the server drops the repeat. A fresh id
		// cannot repeat, and the server need not remember it.
		msgID = env.ID
	}
	// The message is the "queued" record: one stream write per accepted
	// invocation. Its subject names the invocation, or its id names its
	// sequence, so Invocation finds it until a worker writes the record
	// proper (see queuedRecord). It also
	// carries the trace context: every attempt, however late, continues
	// the trace of the request that queued it.
	subject := invokeSubject(env.Function, env.ID)
	if bySeq {
		subject = invokeSubject(env.Function, seqSubjectToken)
	}
	msg := nats.NewMsg(subject)
	if err := encodeEnvelope(env, msg); err != nil {
		return "", err
	}
	s.inject(ctx, msg.Header)
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ack, err := s.opts.JS.PublishMsgAsync(msg, opts...)
	var stored *jetstream.PubAck
	if err == nil {
		stored, err = waitAck(ctx, ack)
	}
	if err != nil {
		// Undo, so that no key points at nothing.
		if env.IdempotencyKey != "" {
			_ = s.idem.Delete(context.WithoutCancel(ctx), idemKey(fn.Name, env.IdempotencyKey))
		}
		return "", fmt.Errorf("queue invocation of %s: %w", env.Function, err)
	}
	if bySeq {
		env.ID = seqID(env.nonce, stored.Sequence)
	}
	return env.ID, nil
}

// newNonce is the random half of an id made by seqID.
func newNonce() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// process runs one delivery of env and settles msg: ack when done, a
// delayed nak to retry, term when the message can never be handled.
//
// Invariant: an invocation whose record is terminal is never run again, so
// a redelivery after an ack was lost (node crash between record and ack)
// costs a record read, not a second run. The only window for a second run
// is a crash between the function's return and the record write.
func (s *Service) process(ctx context.Context, msg delivery, env envelope) {
	var rec Record
	var err error
	if msg.NumDelivered() == 1 && !strings.HasPrefix(env.Source, "topic:") {
		// A queued invocation's first delivery: its record is the "queued"
		// one enqueue wrote, so there is nothing to read. (An event's
		// delivery reads, to skip an event published again after the
		// duplicate window.)
		err = ErrNotFound
	} else {
		rec, err = s.findRecord(ctx, env.ID)
	}
	fresh := errors.Is(err, ErrNotFound) // no record stored yet
	switch {
	case errors.Is(err, ErrNotFound):
		rec = Record{ID: env.ID, Function: env.Function, Source: env.Source, Attempts: env.Previous, CreatedAt: env.EnqueuedAt}
		if rec.CreatedAt.IsZero() {
			rec.CreatedAt = s.opts.Clock.Now().UTC()
		}
	case err != nil:
		s.log.Warn("read invocation record; retrying", "id", env.ID, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if rec.terminal() {
		_ = msg.Ack()
		return
	}
	fn, err := s.fns.Get(ctx, env.Function)
	if errors.Is(err, registry.ErrNotFound) {
		s.fail(ctx, msg, env, &rec, fmt.Sprintf("function %s no longer exists", env.Function), "FunctionNotFound")
		return
	}
	if err != nil {
		_ = msg.NakWithDelay(time.Second)
		return
	}
	// An attempt without an end was cut short by a node that stopped.
	if n := len(rec.Attempts); n > 0 && rec.Attempts[n-1].FinishedAt == nil {
		rec.Attempts[n-1].Outcome, rec.Attempts[n-1].Error = "interrupted", "the node stopped during this attempt"
		end := s.opts.Clock.Now().UTC()
		rec.Attempts[n-1].FinishedAt = &end
		s.met.attempts.WithLabelValues(env.Function, "interrupted").Inc()
	}
	run := len(rec.Attempts) - len(env.Previous) + 1 // attempts in this run of the invocation
	rec.Attempts = append(rec.Attempts, Attempt{Number: len(rec.Attempts) + 1, Node: s.opts.NodeID, StartedAt: s.opts.Clock.Now().UTC()})
	// The attempt's span is a child of the enqueue (or publish) span that
	// the message carries, and the parent of the invocation's own spans
	// and of whatever the destinations queue next.
	ctx, span, recording := s.startSpan(ctx, "async attempt ", env.Function, trace.SpanKindConsumer)
	if recording {
		span.SetAttributes(attrFunction.String(env.Function), attrInvocationID.String(env.ID), attrAttempt.Int(len(rec.Attempts)))
	}
	outcome := "interrupted" // until the attempt ends otherwise
	var attemptErr error
	defer func() {
		if recording {
			span.SetAttributes(attrOutcome.String(outcome))
			endSpan(span, attemptErr)
		}
	}()
	rec.Status, rec.NextAttemptAt = StatusRunning, nil
	watch := s.watch(msg, &rec)
	res, err := s.opts.Invoker.Invoke(ctx, env.Function, env.Request)
	shown := watch.stop()
	if ctx.Err() != nil {
		// The service is closing and cut the attempt short: it does not
		// count, and the message goes back to the queue at once.
		rec.Attempts, rec.Status = rec.Attempts[:len(rec.Attempts)-1], StatusQueued
		if shown {
			bg, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.saveRecord(bg, &rec)
		}
		_ = msg.Nak()
		outcome = "shutdown"
		return
	}
	notActive := errors.Is(err, invoke.ErrNotFound) && !errors.Is(err, registry.ErrNotFound)
	if notActive || errors.Is(err, pool.ErrThrottled) {
		// Deployed but not (or no longer) active on this node, or every
		// instance is busy with sync traffic: not the function's fault, so
		// the attempt does not count.
		rec.Attempts = rec.Attempts[:len(rec.Attempts)-1]
		rec.Status = StatusQueued
		if shown {
			_ = s.saveRecord(ctx, &rec)
		}
		_ = msg.NakWithDelay(time.Second)
		outcome = "throttled"
		return
	}
	var resp runtime.Response
	if res != nil {
		resp = res.Response
	}
	outcome = invoke.Outcome(resp, err)
	last := &rec.Attempts[len(rec.Attempts)-1]
	end := s.opts.Clock.Now().UTC()
	last.FinishedAt, last.Outcome = &end, outcome
	switch {
	case err != nil:
		last.Error = err.Error()
	case resp.Error != nil:
		last.Error = resp.Error.Error()
	}
	if last.Error != "" {
		attemptErr = errors.New(last.Error)
	}
	s.met.attempts.WithLabelValues(env.Function, outcome).Inc()
	rec.Result = resultOf(res)
	if outcome == "success" {
		rec.Status, rec.Error = StatusSucceeded, ""
		b, err := s.encodeRecord(&rec)
		if err != nil {
			s.log.Warn("record success", "id", env.ID, "err", err)
		}
		subject, ok := doneEligible(&rec, b, fresh && !shown)
		if !ok {
			subject = kvRecordSubject(rec.ID)
		}
		s.deliver(ctx, fn.Config.OnSuccess, env, &rec, "Success")
		s.ackWhenRecorded(msg, subject, b)
		return
	}
	if resp.Error != nil && resp.Error.Type == "BadRequest" {
		s.fail(ctx, msg, env, &rec, last.Error, "BadRequest")
		return
	}
	retries := 2
	if fn.Config.Retries != nil {
		retries = *fn.Config.Retries
	}
	if run > retries {
		s.fail(ctx, msg, env, &rec, last.Error, "RetriesExhausted")
		return
	}
	cfg := fn.Config.Defaults()
	delay := Backoff(time.Duration(cfg.RetryBase), time.Duration(cfg.RetryCap), run, s.opts.Jitter())
	next := end.Add(delay)
	rec.Status, rec.Error, rec.NextAttemptAt = StatusRetrying, last.Error, &next
	if err := s.saveRecord(ctx, &rec); err != nil {
		s.log.Warn("record retry", "id", env.ID, "err", err)
	}
	s.met.retries.WithLabelValues(env.Function).Inc()
	_ = msg.NakWithDelay(delay)
}

// ackWhenRecorded stores an invocation's final record (the message
// subject, data; none if data is nil) and then acks msg: in the background
// where msg allows (see settleBatch), so that the worker goes on to the
// next invocation meanwhile. (Acked first, a node that stopped in between
// would leave an invocation that ran with no record of it.)
func (s *Service) ackWhenRecorded(msg delivery, subject string, data []byte) {
	if data == nil {
		_ = msg.Ack()
		return
	}
	if la, ok := msg.(laterAcker); ok && la.ackAfterRecord(subject, data) {
		return
	}
	s.settleBatch([]settling{{ack: msg.Ack, subject: subject, record: data}}, nil, nil)
}

// fail ends an invocation: a dead letter with every attempt, the failure
// destination, and the ack that takes it off the queue.
func (s *Service) fail(ctx context.Context, msg delivery, env envelope, rec *Record, reason, condition string) {
	rec.Status, rec.Error, rec.NextAttemptAt = StatusFailed, reason, nil
	if err := s.deadLetter(ctx, env, rec, condition); err != nil {
		// Keep the message: losing it would lose the event.
		s.log.Error("dead-letter invocation; will retry", "id", env.ID, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	s.met.deadLettered.WithLabelValues(env.Function).Inc()
	if err := s.saveRecord(ctx, rec); err != nil {
		s.log.Warn("record failure", "id", env.ID, "err", err)
	}
	if fn, err := s.fns.Get(ctx, env.Function); err == nil {
		s.deliver(ctx, fn.Config.OnFailure, env, rec, condition)
	}
	_ = msg.Ack()
}

// runningAfter is how long an attempt runs before its record says
// "running". The record is for people watching; the many invocations that
// end sooner are written once, when they end, and until then show as
// queued.
const runningAfter = 250 * time.Millisecond

// attemptWatch looks after one attempt while the function runs: after
// runningAfter it records the attempt as running (so that a node that
// stops during a long attempt leaves it marked), and every ackHeartbeat
// it tells JetStream that msg is still being worked on, so that a long
// invocation is not delivered again meanwhile.
type attemptWatch struct {
	mu      sync.Mutex
	timer   clock.Timer
	stopped bool
	shown   bool // the running record was written
}

// watch starts watching the attempt that rec describes. rec must not
// change until stop returns.
func (s *Service) watch(msg delivery, rec *Record) *attemptWatch {
	a := &attemptWatch{}
	var beat func()
	beat = func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.stopped {
			return
		}
		_ = msg.InProgress()
		a.timer = s.opts.Clock.AfterFunc(ackHeartbeat, beat)
	}
	show := func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.stopped {
			return
		}
		// Written on the connection before stop returns, so it is stored
		// before the attempt's final record.
		if _, err := s.recordAsync(rec); err == nil {
			a.shown = true
		}
		a.timer = s.opts.Clock.AfterFunc(ackHeartbeat-runningAfter, beat)
	}
	a.mu.Lock()
	a.timer = s.opts.Clock.AfterFunc(runningAfter, show)
	a.mu.Unlock()
	return a
}

// stop ends the watch and says whether the running record was written.
func (a *attemptWatch) stop() (shown bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = true
	a.timer.Stop()
	return a.shown
}
