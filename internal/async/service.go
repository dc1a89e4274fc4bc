// Package async runs hearth's asynchronous invocations on NATS JetStream:
// a durable work queue per function with retries (exponential backoff, full
// jitter), a dead-letter queue, invocation records, destinations,
// idempotency keys, pub/sub topics with fan-out subscriptions, ordering keys
// and cluster-wide schedules. docs/async.md states the guarantees.
//
// # Notes
//
// Every node of a cluster runs a Service over the same JetStream. The
// streams, consumers and buckets are shared, so the nodes share the work:
// one durable consumer per function and per subscription, pulled by all.
package async

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/telemetry"
)

// Invoker runs one invocation synchronously; (*node.Node).Invoke is one.
type Invoker interface {
	Invoke(ctx context.Context, name string, req runtime.Request) (*invoke.Result, error)
}

// FunctionLookup reads a function's current config; *registry.Registry is one.
// It returns an error wrapping registry.ErrNotFound for an unknown function.
type FunctionLookup interface {
	Get(ctx context.Context, name string) (registry.Function, error)
}

// Options configure a Service.
type Options struct {
	JS        jetstream.JetStream
	Conn      *nats.Conn
	Invoker   Invoker
	Functions FunctionLookup
	Clock     clock.Clock
	Logger    *slog.Logger
	// NodeID names this node in invocation records and logs.
	NodeID string
	// RecordTTL is how long invocation records are kept (default 7 days).
	RecordTTL time.Duration
	// DLQMaxAge is how long dead letters are kept (default 14 days).
	DLQMaxAge time.Duration
	// Jitter returns a uniform number in [0, 1) for backoff jitter
	// (default math/rand/v2); tests pin it.
	Jitter func() float64
	// Tracer makes the spans of the async hops: enqueue and publish, and
	// each attempt, whose context the Invoker gets (default: no spans).
	Tracer trace.Tracer
	// Propagator carries the trace context through the queue in each
	// message's headers (default: W3C trace context).
	Propagator propagation.TextMapPropagator
	// Metrics, when set, exports hearth_async_attempts_total,
	// hearth_async_retries_total and hearth_async_dead_lettered_total.
	Metrics telemetry.Registerer
}

// Errors the Service reports; the API maps each to one HTTP status.
var (
	// ErrTopicNotFound: no such topic.
	ErrTopicNotFound = errors.New("topic not found")
	// ErrExists: a topic, subscription or schedule of that name exists.
	ErrExists = errors.New("already exists")
	// ErrNotFound: no such invocation, dead letter, subscription or schedule.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request is malformed (bad cron, bad name, bad event).
	ErrInvalid = errors.New("invalid request")
	// ErrTooLarge: a payload is over MaxPayloadBytes.
	ErrTooLarge = errors.New("payload too large")
	// ErrInProgress: an invocation with the same idempotency key is running.
	ErrInProgress = errors.New("an invocation with this idempotency key is in progress")
)

// MaxPayloadBytes bounds an async request or a published event's data, as
// AWS Lambda bounds a synchronous payload.
const MaxPayloadBytes = invoke.MaxRequestBytes

// Service is the async subsystem of one node.
type Service struct {
	opts Options
	log  *slog.Logger
	fns  *fnCache // opts.Functions, for the hot paths
	met  *metrics

	invokeStream jetstream.Stream
	dlqStream    jetstream.Stream
	records      jetstream.KeyValue
	idem         jetstream.KeyValue
	schedules    jetstream.KeyValue
	ticks        jetstream.KeyValue

	ctx    context.Context // ends at Close; parents every background loop
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	consumers map[string]*worker // by durable consumer name, on this node
	held      map[string]bool    // consumers not pulled here (HoldQueue)
	timers    map[string]clock.Timer
	control   *nats.Subscription
	closed    bool
}

// New creates (or opens) the streams and buckets and starts consuming the
// queues and subscriptions that exist, and the schedules.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.JS == nil || opts.Conn == nil || opts.Invoker == nil || opts.Functions == nil {
		return nil, errors.New("async: JS, Conn, Invoker and Functions are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RecordTTL == 0 {
		opts.RecordTTL = 7 * 24 * time.Hour
	}
	if opts.DLQMaxAge == 0 {
		opts.DLQMaxAge = 14 * 24 * time.Hour
	}
	if opts.Jitter == nil {
		opts.Jitter = rand.Float64
	}
	if opts.Tracer == nil {
		opts.Tracer = noop.NewTracerProvider().Tracer("")
	}
	if opts.Propagator == nil {
		opts.Propagator = propagation.TraceContext{}
	}
	s := &Service{opts: opts, log: opts.Logger.With("component", "async"),
		consumers: map[string]*worker{}, timers: map[string]clock.Timer{}}
	s.fns = newFnCache(opts.Functions, opts.Clock)
	s.met = newMetrics(opts.Metrics)
	if err := s.openStorage(ctx); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.startConsumers(ctx); err != nil {
		_ = s.Close(ctx)
		return nil, err
	}
	if err := s.startSchedules(); err != nil {
		_ = s.Close(ctx)
		return nil, err
	}
	return s, nil
}

func (s *Service) openStorage(ctx context.Context) error {
	var err error
	s.invokeStream, err = s.opts.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:      invokeStreamName,
		Subjects:  []string{invokeSubjectPrefix + ">"},
		Retention: jetstream.WorkQueuePolicy,
		Storage:   jetstream.FileStorage,
		// Enqueues carry a Nats-Msg-Id; a retried enqueue (client retry,
		// schedule tick claimed twice) within this window is dropped.
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("async stream %s: %w", invokeStreamName, err)
	}
	s.dlqStream, err = s.opts.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     dlqStreamName,
		Subjects: []string{dlqSubjectPrefix + ">"},
		Storage:  jetstream.FileStorage,
		MaxAge:   s.opts.DLQMaxAge,
		// One dead letter per invocation id: a second one replaces the first.
		MaxMsgsPerSubject: 1,
	})
	if err != nil {
		return fmt.Errorf("async stream %s: %w", dlqStreamName, err)
	}
	// Records of finished invocations, in batches (done.go).
	_, err = s.opts.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     doneStreamName,
		Subjects: []string{doneSubjectPrefix + ">"},
		Storage:  jetstream.FileStorage,
		MaxAge:   s.opts.RecordTTL,
		// A lookup reads a range's messages in one batched direct get.
		AllowDirect: true,
	})
	if err != nil {
		return fmt.Errorf("async stream %s: %w", doneStreamName, err)
	}
	buckets := []struct {
		kv  *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&s.records, jetstream.KeyValueConfig{Bucket: recordsBucket, TTL: s.opts.RecordTTL, History: 1}},
		// Entries carry their own expiry (checked against the Clock); the
		// bucket's age limit only collects garbage.
		{&s.idem, jetstream.KeyValueConfig{Bucket: idempotencyBucket, TTL: maxIdempotencyWindow, History: 1}},
		{&s.schedules, jetstream.KeyValueConfig{Bucket: schedulesBucket, History: 1}},
		{&s.ticks, jetstream.KeyValueConfig{Bucket: ticksBucket, TTL: 24 * time.Hour, History: 1}},
	}
	for _, b := range buckets {
		kv, err := s.opts.JS.CreateOrUpdateKeyValue(ctx, b.cfg)
		if err != nil {
			return fmt.Errorf("async bucket %s: %w", b.cfg.Bucket, err)
		}
		*b.kv = kv
	}
	return nil
}

// Close stops pulling queues and subscriptions and firing schedules, and
// waits until ctx ends for the invocations in flight. Those still running
// then are cancelled; their messages, not acknowledged, are delivered again
// (to this node after a restart, or to another node).
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, t := range s.timers {
		t.Stop()
	}
	workers := s.consumers
	s.consumers = map[string]*worker{}
	if s.control != nil {
		_ = s.control.Unsubscribe()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		for _, w := range workers {
			w.stop()
		}
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("async: invocations still running at close: %w", ctx.Err())
	}
	if s.cancel != nil {
		s.cancel()
	}
	<-done
	s.wg.Wait()
	return err
}

// Names on the backbone.
const (
	invokeStreamName    = "HEARTH_ASYNC"
	invokeSubjectPrefix = "hearth.async.invoke."
	dlqStreamName       = "HEARTH_DLQ"
	dlqSubjectPrefix    = "hearth.async.dlq."
	topicStreamPrefix   = "HEARTH_TOPIC_"
	topicSubjectPrefix  = "hearth.topic."
	recordsBucket       = "hearth_invocations"
	idempotencyBucket   = "hearth_idempotency"
	schedulesBucket     = "hearth_schedules"
	ticksBucket         = "hearth_schedule_ticks"
	// controlSubject tells every node that a consumer was created, so that
	// all nodes start pulling from it at once.
	controlSubject = "hearth.async.control.consumer"

	maxIdempotencyWindow = 30 * 24 * time.Hour
)
