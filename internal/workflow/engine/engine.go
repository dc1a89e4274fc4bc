// Package engine is hearth's durable workflow service: it stores state
// machines, starts and resumes their executions, and completes callback
// tasks. The interpreter is internal/workflow; this package gives it a
// home on the backbone.
//
// # Durability
//
// A STANDARD execution is a record in the WF_EXECUTIONS key/value bucket,
// an entry in WF_RUNNING while it runs, and its history in the WF_HISTORY
// stream (workflow.JetStreamStore). Every event is stored before the
// execution moves on, so a process killed at any point resumes from what
// the stream holds: New finds every RUNNING execution and runs it again
// from its history. A Task whose outcome is recorded is not run again; one
// that was in flight runs again with the same idempotency key.
//
// Timers longer than Options.ParkAfter (long Wait states, long retry
// intervals) park the execution: its goroutine and interpreter state are
// released, the wake-up time is written to WF_RUNNING, and one clock timer
// wakes it, re-armed from that index after a restart.
//
// EXPRESS executions live in memory only and are lost with the process
// (at-least-once, as in Step Functions: a caller retries).
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/telemetry"
	"github.com/hearth-sh/hearth/internal/workflow"
)

// Invoker runs hearth functions; *node.Node satisfies it.
type Invoker interface {
	Invoke(ctx context.Context, name string, req runtime.Request) (*invoke.Result, error)
}

// Options configures an Engine.
type Options struct {
	// JS is the backbone's JetStream; required.
	JS jetstream.JetStream
	// Invoker runs the functions Task states name; nil fails such tasks.
	Invoker Invoker
	// Clock times waits and timestamps events; nil is the wall clock.
	Clock  clock.Clock
	Logger *slog.Logger
	// Replicas is the replication factor of the buckets and the history
	// stream (1 on a single node, 3 in a cluster). Default 1.
	Replicas int
	// ParkAfter is the longest timer an execution holds in memory; longer
	// ones park it (see the package doc). Default one minute.
	ParkAfter time.Duration
	// Region and Account appear in the ARNs the engine makes. Defaults
	// "local" and "000000000000".
	Region, Account string
	// ExpressRetain is how many finished EXPRESS executions stay
	// describable. Default 1000.
	ExpressRetain int
	// Tracer traces executions: a span per execution (a child of the
	// context given to Start, so of the request that started it), a span
	// per state, and Task invocations in their state's span. Nil traces
	// nothing, as a no-op tracer would. See workflow.Executor.Tracer.
	Tracer trace.Tracer
	// Propagator stores an execution's trace context in its history, so
	// that a resumed execution continues its trace. Nil is W3C trace
	// context.
	Propagator propagation.TextMapPropagator
	// Metrics, when set, gets the engine's collectors
	// (hearth_workflow_transitions_total,
	// hearth_workflow_executions_finished_total,
	// hearth_workflow_execution_duration_seconds). Nil counts nothing.
	// Register may panic on a collector it already has (as
	// prometheus.MustRegister does), so one registry serves one engine.
	Metrics telemetry.Registerer
}

// Errors the engine returns; the APIs map each to one status and name.
var (
	ErrMachineNotFound   = errors.New("state machine does not exist")
	ErrMachineExists     = errors.New("a different state machine with this name already exists")
	ErrInvalidDefinition = errors.New("invalid state machine definition")
	ErrInvalidName       = errors.New("invalid name")
	ErrInvalidInput      = errors.New("invalid execution input")
	ErrExecutionNotFound = errors.New("execution does not exist")
	ErrExecutionExists   = errors.New("an execution with this name and a different input already exists")
	ErrTaskNotFound      = errors.New("task does not exist or has already completed")
	ErrInvalidToken      = errors.New("invalid task token")
	ErrClosed            = errors.New("workflow engine is closed")
)

// Engine runs workflows. It is safe for concurrent use.
type Engine struct {
	opts   Options
	clk    clock.Clock
	log    *slog.Logger
	ctx    context.Context // ends at Close: stops the runs, which stay RUNNING
	cancel context.CancelFunc

	machines   jetstream.KeyValue
	executions jetstream.KeyValue
	running    jetstream.KeyValue
	tokens     jetstream.KeyValue
	history    *workflow.JetStreamStore

	standard *workflow.Executor
	express  *workflow.Executor
	metrics  *metrics // nil without Options.Metrics

	wg sync.WaitGroup
	mu sync.Mutex
	// active holds the executions that have a goroutine; an execution is in
	// active, or parked with a wake timer in timers, or finished.
	active  map[string]*activeExec
	timers  map[string]clock.Timer
	waiting map[string]*waiter // callback tasks by token
	// expressRecs holds EXPRESS executions (running and recently finished);
	// expressDone orders the finished ones for eviction.
	expressRecs map[string]*Execution
	expressDone []string
	expressHist map[string][]workflow.Event
	// changed is closed and replaced whenever an execution gains or loses
	// its goroutine, to wake Wait.
	changed chan struct{}
	closed  bool
}

type activeExec struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// New opens (creating where needed) the engine's buckets and stream and
// resumes every RUNNING execution found there. Close stops it.
func New(ctx context.Context, opts Options) (*Engine, error) {
	if opts.JS == nil {
		return nil, errors.New("workflow engine: JetStream is required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.ParkAfter == 0 {
		opts.ParkAfter = time.Minute
	}
	if opts.Region == "" {
		opts.Region = "local"
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.ExpressRetain == 0 {
		opts.ExpressRetain = 1000
	}
	if opts.Propagator == nil {
		opts.Propagator = propagation.TraceContext{}
	}
	e := &Engine{
		opts: opts, clk: opts.Clock, log: opts.Logger,
		active: map[string]*activeExec{}, timers: map[string]clock.Timer{},
		waiting: map[string]*waiter{}, expressRecs: map[string]*Execution{},
		expressHist: map[string][]workflow.Event{}, changed: make(chan struct{}),
	}
	buckets := []struct {
		name, desc string
		history    uint8
		dst        *jetstream.KeyValue
	}{
		// History keeps earlier definitions as versions.
		{"WF_MACHINES", "hearth state machines", 64, &e.machines},
		{"WF_EXECUTIONS", "hearth workflow execution records", 1, &e.executions},
		{"WF_RUNNING", "hearth workflow executions that have not finished, with their wake-up times", 1, &e.running},
		{"WF_TOKENS", "hearth workflow callback task completions", 1, &e.tokens},
	}
	for _, b := range buckets {
		kv, err := opts.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: b.name, Description: b.desc, History: b.history,
			Storage: jetstream.FileStorage, Replicas: opts.Replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("workflow engine: open bucket %s: %w", b.name, err)
		}
		*b.dst = kv
	}
	var err error
	e.history, err = workflow.NewJetStreamStore(ctx, opts.JS, workflow.JetStreamConfig{Replicas: opts.Replicas})
	if err != nil {
		return nil, fmt.Errorf("workflow engine: %w", err)
	}
	inv := &taskInvoker{e: e}
	e.standard = &workflow.Executor{Invoker: inv, Clock: e.clk, Sink: e.history, Logger: e.log, ParkAfter: opts.ParkAfter,
		Tracer: opts.Tracer, Propagator: opts.Propagator}
	e.express = &workflow.Executor{Invoker: inv, Clock: e.clk, Sink: nil, Logger: e.log,
		Tracer: opts.Tracer, Propagator: opts.Propagator}
	if opts.Metrics != nil {
		e.metrics = newMetrics(opts.Metrics)
		e.standard.TransitionCounter = e.metrics.transitionCounter
		e.express.TransitionCounter = e.metrics.transitionCounter
	}
	e.ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := e.resume(ctx); err != nil {
		e.Close(ctx)
		return nil, err
	}
	return e, nil
}

// Close stops every execution's goroutine and timer without finishing the
// executions: STANDARD ones stay RUNNING and resume at the next New. It
// waits for the goroutines until ctx ends.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	for id, t := range e.timers {
		t.Stop()
		delete(e.timers, id)
	}
	e.mu.Unlock()
	e.cancel()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close workflow engine: %w", ctx.Err())
	}
}

// arn builds an ARN of the given resource type.
func (e *Engine) arn(kind string, parts ...string) string {
	s := "arn:aws:states:" + e.opts.Region + ":" + e.opts.Account + ":" + kind
	for _, p := range parts {
		s += ":" + p
	}
	return s
}
