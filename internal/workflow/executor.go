package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// Status is an execution's status.
type Status string

// Execution statuses, as Step Functions names them.
const (
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusTimedOut  Status = "TIMED_OUT"
	StatusAborted   Status = "ABORTED"
)

// DefaultMaxPayloadBytes is Step Functions' limit on a state's input or
// output (256 KiB).
const DefaultMaxPayloadBytes = 256 * 1024

// Execution describes one run of a state machine.
type Execution struct {
	// ID is the execution's identifier (an ARN in the Step Functions API);
	// it appears as $$.Execution.Id and keys the history.
	ID   string
	Name string
	// StateMachineID and StateMachineName appear in $$.StateMachine.
	StateMachineID   string
	StateMachineName string
	RoleArn          string
	// Type is STANDARD (the default) or EXPRESS.
	Type    asl.Type
	Machine *asl.Machine
	// Input is the execution input, in asl value form (see asl.DecodeJSON).
	Input any
}

// typ is the execution's type, STANDARD unless set.
func (e *Execution) typ() asl.Type {
	if e.Type == "" {
		return asl.Standard
	}
	return e.Type
}

// Result is how an execution ended.
type Result struct {
	Status Status
	Output any // when SUCCEEDED
	Error  string
	Cause  string
	// History is every event of the execution, the replayed ones first.
	History []Event
}

// Executor runs executions. Its fields are read-only once it is in use; one
// Executor serves many executions concurrently.
type Executor struct {
	// Invoker runs Task states; nil fails every Task with States.TaskFailed.
	Invoker Invoker
	// Clock times Wait states, retry intervals and event timestamps.
	Clock clock.Clock
	// Sink receives every new event before the execution moves on; nil
	// keeps history only in the Result.
	Sink HistorySink
	// Logger receives diagnostics; nil uses slog.Default().
	Logger *slog.Logger
	// MaxPayloadBytes caps a state's output (0: DefaultMaxPayloadBytes).
	MaxPayloadBytes int
	// MaxEvents caps an execution's history (0: DefaultMaxEvents); an
	// execution that reaches it fails, which also ends definitions that loop
	// forever.
	MaxEvents int
	// ParkAfter, when positive, makes Run give up instead of holding a
	// timer longer than this (a Wait state or retry interval): Run returns
	// a *ParkedError saying when to run the execution again, and its history
	// is in the sink. A durable engine uses it so that a 30-day Wait holds
	// no goroutine and no interpreter state while it waits.
	ParkAfter time.Duration
	// Tracer, when set, traces executions: a span per run of an execution,
	// a child span per state it enters (and per Parallel branch and Map
	// iteration), and a Task's invocation runs in its state's span context
	// (docs/workflows.md shows the trace). Nil traces nothing, as a no-op
	// tracer would.
	Tracer trace.Tracer
	// Propagator writes the execution's trace context into its
	// ExecutionStarted event and reads it back when the execution resumes;
	// nil is W3C trace context (traceparent, tracestate).
	Propagator propagation.TextMapPropagator
	// TransitionCounter, when set, gives the counter that Run increments at
	// every state the execution enters anew (replayed states are not
	// counted). Run asks for it once, so the counter's lookup is off the
	// per-state path.
	TransitionCounter func(exec *Execution) Counter
}

// Counter counts; prometheus.Counter is one.
type Counter interface{ Inc() }

// ParkedError is returned (wrapped) by Run when the execution reached a
// timer longer than Executor.ParkAfter. Run the execution again with its
// recorded history at Until (or later): the replay sees the timer expired
// and moves on.
type ParkedError struct {
	Until time.Time
}

// Error says when the execution wants to run again.
func (p *ParkedError) Error() string {
	return "execution parked until " + p.Until.UTC().Format(time.RFC3339Nano)
}

// DefaultMaxEvents is Step Functions' history limit.
const DefaultMaxEvents = 25000

func (x *Executor) logger() *slog.Logger {
	if x.Logger != nil {
		return x.Logger
	}
	return slog.Default()
}

func (x *Executor) maxEvents() int {
	if x.MaxEvents > 0 {
		return x.MaxEvents
	}
	return DefaultMaxEvents
}

// errHistoryLimit fails an execution whose history is full.
var errHistoryLimit = errors.New("history limit reached")

// New returns an Executor.
func New(inv Invoker, clk clock.Clock, sink HistorySink, logger *slog.Logger) *Executor {
	if logger == nil {
		logger = slog.Default()
	}
	return &Executor{Invoker: inv, Clock: clk, Sink: sink, Logger: logger}
}

// StopRequest stops an execution: cancel the context given to Run with it
// as the cause (context.WithCancelCause), and Run records ExecutionAborted
// with its error and cause and returns an ABORTED result. A Task in flight
// has its context cancelled too.
type StopRequest struct {
	ErrorName string
	Cause     string
}

// Error describes the stop request.
func (s *StopRequest) Error() string { return "execution stopped: " + s.ErrorName + " " + s.Cause }

// ErrHistoryMismatch is returned when recorded history does not fit the
// definition (it was written by a different machine).
var ErrHistoryMismatch = errors.New("history does not match the state machine")

// Run runs exec to the end and returns how it ended. recorded is the history
// already stored for this execution (nil for a new one): Run replays it,
// reusing recorded task results, timestamps and timer starts, appends only
// new events to the sink, and continues from there. A non-nil error means
// the execution did not finish (the context ended or the sink failed); its
// history so far is in the sink and a later Run resumes it.
func (x *Executor) Run(ctx context.Context, exec Execution, recorded []Event) (*Result, error) {
	if exec.Machine == nil {
		return nil, fmt.Errorf("run execution %s: no state machine", exec.ID)
	}
	r := &run{x: x, exec: exec, recorded: make(map[string]Event, len(recorded)),
		root: &scope{path: "", vars: map[string]any{}}}
	for _, ev := range recorded {
		if ev.Key == "" {
			return nil, fmt.Errorf("run execution %s: event %d has no key: %w", exec.ID, ev.ID, ErrHistoryMismatch)
		}
		r.recorded[ev.Key] = ev
		r.lastID = max(r.lastID, ev.ID)
	}
	r.history = append(r.history, recorded...)
	if len(recorded) > 0 {
		x.logger().Info("resuming workflow execution from its history", "execution", exec.ID, "events", len(recorded))
		if x.Tracer != nil {
			r.frontiers = frontiers(recorded)
		}
	}
	if x.TransitionCounter != nil {
		r.transitions = x.TransitionCounter(&r.exec)
	}
	ctx = r.startExecution(ctx)
	res, err := r.execute(ctx)
	r.endExecution(res, err)
	return res, err
}

// execute is Run once the run's state is built and its span started.
func (r *run) execute(ctx context.Context) (*Result, error) {
	x, exec, root := r.x, r.exec, r.root
	input := exec.Input
	if input == nil {
		input = map[string]any{}
	}
	started, err := r.emit(ctx, root, Event{Type: ExecutionStarted, Input: r.raw(input), Trace: r.traceContext})
	if err != nil {
		return nil, err
	}
	r.startTime = started.Timestamp
	if prior, ok := r.recorded[root.key(0)]; ok && len(prior.Input) > 0 {
		// The input of a resumed execution is the recorded one.
		if v, err := asl.DecodeJSON(prior.Input); err == nil {
			input = v
		}
	}
	r.input = input

	runCtx := ctx
	if exec.Machine.TimeoutSeconds > 0 {
		// The execution deadline is measured from the recorded start.
		var cancel context.CancelFunc
		runCtx, cancel = r.deadline(ctx, started.Timestamp.Add(time.Duration(exec.Machine.TimeoutSeconds)*time.Second))
		defer cancel()
	}
	out, ferr := r.machine(runCtx, root, exec.Machine, input)
	if ferr != nil && errors.Is(ferr.abort, errHistoryLimit) {
		ferr = fail(asl.Errorf(asl.ErrRuntime, "The execution reached the maximum number of history events (%d).", x.maxEvents()))
	}
	res := &Result{}
	switch {
	case ferr == nil:
		if _, err := r.emit(ctx, root, Event{Type: ExecutionSucceeded, Output: r.raw(out)}); err != nil {
			return nil, err
		}
		res.Status, res.Output = StatusSucceeded, out
	case ferr.abort != nil:
		var stop *StopRequest
		if errors.As(context.Cause(ctx), &stop) {
			// The context is cancelled, but the final event must still be
			// stored.
			r.skipRecorded(root)
			ev := Event{Type: ExecutionAborted, Error: stop.ErrorName, Cause: stop.Cause}
			if _, err := r.emit(context.WithoutCancel(ctx), root, ev); err != nil {
				return nil, err
			}
			res.Status, res.Error, res.Cause = StatusAborted, stop.ErrorName, stop.Cause
			break
		}
		if runCtx.Err() != nil && ctx.Err() == nil {
			r.skipRecorded(root)
			if _, err := r.emit(ctx, root, Event{Type: ExecutionTimedOut, Error: asl.ErrTimeout, Cause: "The execution timed out."}); err != nil {
				return nil, err
			}
			res.Status, res.Error, res.Cause = StatusTimedOut, asl.ErrTimeout, "The execution timed out."
			break
		}
		var parked *ParkedError
		if errors.As(ferr.abort, &parked) {
			// Parallel branches may each have parked; the execution must
			// wake for the earliest of their timers.
			r.mu.Lock()
			parked = &ParkedError{Until: r.parkUntil}
			r.mu.Unlock()
			return nil, fmt.Errorf("run execution %s: %w", exec.ID, parked)
		}
		return nil, fmt.Errorf("run execution %s: %w", exec.ID, ferr.abort)
	default:
		if _, err := r.emit(ctx, root, Event{Type: ExecutionFailed, Error: ferr.err.Name, Cause: ferr.err.Cause}); err != nil {
			return nil, err
		}
		res.Status, res.Error, res.Cause = StatusFailed, ferr.err.Name, ferr.err.Cause
	}
	r.mu.Lock()
	res.History = append([]Event(nil), r.history...)
	r.mu.Unlock()
	return res, nil
}

// skipRecorded moves the root scope past the events recorded in it. An
// execution stopped or timed out while it replays (a parked execution
// stopped, or woken after its deadline) ends before reaching the end of
// its history; its final event follows the recorded ones.
func (r *run) skipRecorded(root *scope) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if _, ok := r.recorded[root.key(root.seq)]; !ok {
			return
		}
		root.seq++
	}
}

// deadline returns a context that ends at t by the executor's clock.
func (r *run) deadline(ctx context.Context, t time.Time) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	d := t.Sub(r.x.Clock.Now())
	if d <= 0 {
		// Already past (a resumed execution woken after its deadline):
		// end now rather than at the clock's next tick.
		cancel()
		return ctx, cancel
	}
	timer := r.x.Clock.AfterFunc(d, cancel)
	return ctx, func() { timer.Stop(); cancel() }
}

// run is the state of one execution while it runs.
type run struct {
	x         *Executor
	exec      Execution
	input     any
	startTime time.Time

	root *scope
	// span is the run's span and traceContext its context as
	// ExecutionStarted records it (nil without a tracer); frontiers says
	// where each scope of a recorded history ends (see frontiers).
	span         trace.Span
	traced       bool // span is recording: states get spans too
	traceContext map[string]string
	frontiers    map[string]scopeFrontier
	transitions  Counter // nil: not counted

	mu       sync.Mutex
	recorded map[string]Event // replayable events by Key; read-only once Run has built it
	history  []Event
	lastID   int64
	// parkUntil is the earliest timer a scope parked on (see ParkAfter).
	parkUntil time.Time
}

// scope is a sequential thread of states: the execution itself, a Parallel
// branch or a Map iteration. Events are keyed by scope path and sequence.
type scope struct {
	path    string
	seq     int
	vars    map[string]any
	item    *mapItem
	discard bool // iterations of a distributed Map keep no parent history
}

type mapItem struct {
	index int
	value any
}

func (s *scope) key(seq int) string { return s.path + "#" + strconv.Itoa(seq) }

// child returns a nested scope that starts with a copy of s's variables:
// a branch or iteration sees the outer variables, and its own assignments
// stay inside it.
func (s *scope) child(name string) *scope {
	vars := make(map[string]any, len(s.vars))
	for k, v := range s.vars {
		vars[k] = v
	}
	return &scope{path: s.path + "/" + name, vars: vars, item: s.item, discard: s.discard}
}

// failure is why a state did not complete: a state error (err) that Retry,
// Catch or the execution handle, or an abort (context ended, sink failed)
// that stops the run without an outcome.
type failure struct {
	err   *asl.Error
	abort error
}

func fail(err *asl.Error) *failure { return &failure{err: err} }

// emit appends an event in scope s, or, when replaying, returns the event
// recorded under the same key without appending it again.
func (r *run) emit(ctx context.Context, s *scope, ev Event) (Event, error) {
	ev.Key = s.key(s.seq)
	s.seq++
	if prior, ok := r.recorded[ev.Key]; ok {
		if prior.Type != ev.Type {
			return Event{}, fmt.Errorf("event %s is %s in history but %s now: %w", ev.Key, prior.Type, ev.Type, ErrHistoryMismatch)
		}
		return prior, nil
	}
	r.mu.Lock()
	if s.discard {
		r.mu.Unlock()
		ev.Timestamp = r.x.Clock.Now()
		return ev, nil
	}
	// The sink sees events in ID order: IDs are assigned and appended under
	// one lock, so concurrent branches cannot reorder them.
	defer r.mu.Unlock()
	if r.lastID >= int64(r.x.maxEvents()-1) && ev.Type != ExecutionFailed {
		// Keep the last slot for the ExecutionFailed event this causes.
		return Event{}, errHistoryLimit
	}
	ev.ID = r.lastID + 1
	if ev.ID > 1 {
		ev.PreviousID = ev.ID - 1
	}
	ev.Timestamp = r.x.Clock.Now().UTC()
	if r.x.Sink != nil {
		if err := r.x.Sink.Append(ctx, r.exec.ID, ev); err != nil {
			return Event{}, fmt.Errorf("append %s event of execution %s: %w", ev.Type, r.exec.ID, err)
		}
	}
	r.lastID = ev.ID
	r.history = append(r.history, ev)
	return ev, nil
}

// peek returns the event recorded at scope s's next position, if any.
func (r *run) peek(s *scope) (Event, bool) {
	if len(r.recorded) == 0 {
		return Event{}, false
	}
	ev, ok := r.recorded[s.key(s.seq)]
	return ev, ok
}

// raw encodes v for an event; values built by asl always encode.
func (r *run) raw(v any) json.RawMessage {
	s, err := asl.EncodeJSON(v)
	if err != nil {
		return nil
	}
	return json.RawMessage(s)
}

// seed returns the random seed for the state whose entered event has key:
// derived from execution and event key, so replay draws the same values.
func (r *run) seed(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(r.exec.ID))
	h.Write([]byte(key))
	return h.Sum64()
}

// random returns a random source seeded like seed.
func (r *run) random(key string) *rand.Rand {
	seed := r.seed(key)
	return rand.New(rand.NewPCG(seed, seed>>1|1))
}

// sleepUntil waits until t by the executor's clock, or until ctx ends.
func (r *run) sleepUntil(ctx context.Context, t time.Time) error {
	d := t.Sub(r.x.Clock.Now())
	if d <= 0 {
		return nil
	}
	if r.x.ParkAfter > 0 && d > r.x.ParkAfter {
		r.mu.Lock()
		if r.parkUntil.IsZero() || t.Before(r.parkUntil) {
			r.parkUntil = t
		}
		r.mu.Unlock()
		return &ParkedError{Until: t}
	}
	done := make(chan struct{})
	timer := r.x.Clock.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		timer.Stop()
		return ctx.Err()
	}
}

// machine runs the states of m from StartAt in scope s.
func (r *run) machine(ctx context.Context, s *scope, m *asl.Machine, input any) (any, *failure) {
	name := m.StartAt
	for {
		st, ok := m.States[name]
		if !ok {
			return nil, fail(asl.Errorf(asl.ErrRuntime, "state %q does not exist", name))
		}
		if err := ctx.Err(); err != nil {
			return nil, &failure{abort: err}
		}
		out, next, f := r.state(ctx, s, st, input)
		if f != nil {
			return nil, f
		}
		if next == "" {
			return out, nil
		}
		name, input = next, out
	}
}

// timeFormat is how Step Functions writes times in the context object.
const timeFormat = "2006-01-02T15:04:05.000Z"

// context builds the context object for a state entered by ev.
func (r *run) contextObject(s *scope, st *asl.State, entered Event, retryCount int, token string) map[string]any {
	execution := map[string]any{
		"Id":        r.exec.ID,
		"Input":     asl.DeepCopy(r.input),
		"Name":      r.exec.Name,
		"RoleArn":   r.exec.RoleArn,
		"StartTime": r.startTime.UTC().Format(timeFormat),
	}
	if r.exec.Type != asl.Express {
		// EXPRESS executions cannot be redriven and have no RedriveCount.
		execution["RedriveCount"] = json.Number("0")
	}
	state := map[string]any{
		"EnteredTime": entered.Timestamp.UTC().Format(timeFormat),
		"Name":        st.Name,
	}
	switch st.Type {
	case asl.TypeTask, asl.TypeParallel, asl.TypeMap:
		// Only states that can retry carry RetryCount.
		state["RetryCount"] = json.Number(strconv.Itoa(retryCount))
	}
	c := map[string]any{
		"Execution": execution,
		"State":     state,
		"StateMachine": map[string]any{
			"Id":   r.exec.StateMachineID,
			"Name": r.exec.StateMachineName,
		},
	}
	if token != "" {
		c["Task"] = map[string]any{"Token": token}
	}
	if s.item != nil {
		c["Map"] = map[string]any{"Item": map[string]any{
			"Index": json.Number(strconv.Itoa(s.item.index)),
			"Value": asl.DeepCopy(s.item.value),
		}}
	}
	return c
}

func (r *run) env(s *scope, st *asl.State, entered Event, retryCount int, token string) *asl.Env {
	return &asl.Env{
		ContextFunc: func() any { return r.contextObject(s, st, entered, retryCount, token) },
		Vars:        s.vars,
		Seed:        r.seed(entered.Key),
		Now:         entered.Timestamp,
	}
}
