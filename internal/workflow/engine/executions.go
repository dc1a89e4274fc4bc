package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/workflow"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// Execution is an execution's record: what Describe and List return.
type Execution struct {
	ARN         string          `json:"arn"`
	Name        string          `json:"name"`
	MachineARN  string          `json:"machineArn"`
	MachineName string          `json:"machineName"`
	Type        asl.Type        `json:"type"`
	Status      workflow.Status `json:"status"`
	Input       json.RawMessage `json:"input"`
	Output      json.RawMessage `json:"output,omitempty"`
	Error       string          `json:"error,omitempty"`
	Cause       string          `json:"cause,omitempty"`
	StartTime   time.Time       `json:"startTime"`
	StopTime    time.Time       `json:"stopTime,omitzero"`
	// Definition and RoleArn are the machine's as the execution started:
	// an update of the machine does not change a running execution.
	Definition     string `json:"definition"`
	MachineVersion int64  `json:"machineVersion"`
	RoleArn        string `json:"roleArn,omitempty"`
	// WakeAt is set while the execution is parked on a long timer.
	WakeAt time.Time `json:"wakeAt,omitzero"`
	// Parent is the execution that started this one from a Task, if any.
	Parent string `json:"parent,omitempty"`
}

// StartInput starts an execution.
type StartInput struct {
	// Machine is the state machine's name or ARN.
	Machine string
	// Name is the execution's name, unique per machine; empty makes one.
	Name string
	// Input is the execution input as JSON; empty means {}.
	Input json.RawMessage
	// Parent is set by nested executions.
	Parent string
}

// key encodes an ARN as a key/value bucket key.
func key(arn string) string { return base64.RawURLEncoding.EncodeToString([]byte(arn)) }

// Start starts an execution and returns its record without waiting for it.
// Starting again with the same name and input returns the existing
// execution (as Step Functions does for STANDARD machines); with a
// different input it fails with ErrExecutionExists.
func (e *Engine) Start(ctx context.Context, in StartInput) (*Execution, error) {
	m, err := e.Machine(ctx, in.Machine)
	if err != nil {
		return nil, err
	}
	machine, err := parse(m.Definition, m.Type)
	if err != nil {
		return nil, err
	}
	if in.Name == "" {
		in.Name = uuid.NewString()
	}
	if err := checkName("execution", in.Name); err != nil {
		return nil, err
	}
	if len(in.Input) == 0 {
		in.Input = json.RawMessage("{}")
	}
	input, err := asl.DecodeJSON(in.Input)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	canonical, err := asl.EncodeJSON(input)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	rec := &Execution{
		ARN: e.arn("execution", m.Name, in.Name), Name: in.Name, MachineARN: m.ARN, MachineName: m.Name,
		Type: m.Type, Status: workflow.StatusRunning, Input: json.RawMessage(canonical),
		StartTime: e.clk.Now().UTC(), Definition: m.Definition, MachineVersion: m.Version,
		RoleArn: m.RoleArn, Parent: in.Parent,
	}
	// The execution runs after Start returns, but in the trace of the
	// request that started it (see workflow.Executor.Tracer).
	parent := trace.SpanContextFromContext(ctx)
	if m.Type == asl.Express {
		return e.startExpress(rec, machine, input, parent)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode execution %s: %w", rec.ARN, err)
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	// The running index first: an execution record without it would never
	// be resumed, one without a record is skipped at resume and cleaned up.
	if _, err := e.running.Put(ctx, key(rec.ARN), nil); err != nil {
		return nil, fmt.Errorf("index execution %s: %w", rec.ARN, err)
	}
	if _, err := e.executions.Create(ctx, key(rec.ARN), data); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("store execution %s: %w", rec.ARN, err)
		}
		old, gerr := e.Describe(ctx, rec.ARN)
		if gerr != nil {
			return nil, gerr
		}
		if string(old.Input) == canonical {
			return old, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrExecutionExists, rec.ARN)
	}
	e.launchRun(rec, machine, nil, true, parent)
	return rec, nil
}

// StartSync starts an execution and waits for it to finish (or for ctx).
func (e *Engine) StartSync(ctx context.Context, in StartInput) (*Execution, error) {
	rec, err := e.Start(ctx, in)
	if err != nil {
		return nil, err
	}
	return e.Wait(ctx, rec.ARN)
}

// launch runs a STANDARD execution in its own goroutine, unless the engine
// is closing or the execution already has one. stop, when set, stops it
// as soon as it has replayed its history.
func (e *Engine) launch(rec *Execution, machine *asl.Machine, stop *workflow.StopRequest) {
	e.launchRun(rec, machine, stop, false, trace.SpanContext{})
}

// launchRun is launch; fresh says the execution was just created and has
// no history to load, and parent is the span of what started it.
func (e *Engine) launchRun(rec *Execution, machine *asl.Machine, stop *workflow.StopRequest, fresh bool, parent trace.SpanContext) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if a, ok := e.active[rec.ARN]; ok {
		if stop != nil {
			a.cancel(stop)
		}
		return
	}
	if t, ok := e.timers[rec.ARN]; ok {
		t.Stop()
		delete(e.timers, rec.ARN)
	}
	ctx, cancel := context.WithCancelCause(e.ctx)
	if stop != nil {
		cancel(stop)
	}
	a := &activeExec{cancel: cancel, done: make(chan struct{})}
	e.active[rec.ARN] = a
	e.notify()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(a.done)
		defer cancel(nil)
		runCtx := ctx
		if parent.IsValid() {
			runCtx = trace.ContextWithSpanContext(ctx, parent)
		}
		e.drive(runCtx, rec, machine, fresh)
		e.mu.Lock()
		delete(e.active, rec.ARN)
		e.notify()
		e.mu.Unlock()
	}()
}

func (e *Engine) execution(rec *Execution, machine *asl.Machine) workflow.Execution {
	var input any
	if v, err := asl.DecodeJSON(rec.Input); err == nil {
		input = v
	}
	return workflow.Execution{
		ID: rec.ARN, Name: rec.Name, StateMachineID: rec.MachineARN, StateMachineName: rec.MachineName,
		RoleArn: rec.RoleArn, Type: rec.Type, Machine: machine, Input: input,
	}
}

// drive runs a STANDARD execution from its stored history until it
// finishes, parks or the engine closes.
func (e *Engine) drive(ctx context.Context, rec *Execution, machine *asl.Machine, fresh bool) {
	for {
		// Loading ignores a stop request (the context's cancellation): a
		// stopped execution still replays its history to record the abort.
		var events []workflow.Event
		var err error
		if !fresh {
			events, err = e.history.Load(context.WithoutCancel(ctx), rec.ARN)
		}
		fresh = false
		var res *workflow.Result
		if err == nil {
			res, err = e.standard.Run(ctx, e.execution(rec, machine), events)
		}
		var parked *workflow.ParkedError
		switch {
		case err == nil:
			e.finish(rec, res)
			return
		case errors.As(err, &parked):
			e.park(rec, machine, parked.Until)
			return
		case e.ctx.Err() != nil:
			return // closing: the execution resumes at the next start
		case errors.Is(err, workflow.ErrConcurrentAppend):
			e.log.Error("another engine is running this workflow execution; leaving it", "execution", rec.ARN, "err", err)
			return
		}
		// The backbone failed under the execution: try again shortly, from
		// what it stored.
		e.log.Warn("workflow execution interrupted; retrying", "execution", rec.ARN, "err", err)
		retry := make(chan struct{})
		t := e.clk.AfterFunc(time.Second, func() { close(retry) })
		select {
		case <-retry:
		case <-e.ctx.Done():
			t.Stop()
			return
		}
	}
}

// park records when a parked execution wakes and arms its timer.
func (e *Engine) park(rec *Execution, machine *asl.Machine, until time.Time) {
	if machine.TimeoutSeconds > 0 {
		// The execution's own deadline must fire even while it is parked.
		deadline := rec.StartTime.Add(time.Duration(machine.TimeoutSeconds) * time.Second)
		if deadline.Before(until) {
			until = deadline
		}
	}
	ctx := context.WithoutCancel(e.ctx)
	if _, err := e.running.Put(ctx, key(rec.ARN), []byte(until.UTC().Format(time.RFC3339Nano))); err != nil {
		// The timer below still wakes it; only a restart would lose the
		// time, and resume then runs it at once, which re-parks it.
		e.log.Warn("record workflow wake-up time", "execution", rec.ARN, "err", err)
	}
	e.log.Debug("workflow execution parked", "execution", rec.ARN, "until", until)
	e.arm(rec, machine, until)
}

// arm sets the wake-up timer of a parked execution.
func (e *Engine) arm(rec *Execution, machine *asl.Machine, until time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if t, ok := e.timers[rec.ARN]; ok {
		t.Stop()
	}
	if !until.After(e.clk.Now()) {
		// Due already: run it now (launch takes the lock itself).
		go e.launch(rec, machine, nil)
		return
	}
	e.timers[rec.ARN] = e.clk.AfterFunc(until.Sub(e.clk.Now()), func() {
		e.mu.Lock()
		delete(e.timers, rec.ARN)
		e.mu.Unlock()
		e.launch(rec, machine, nil)
	})
}

// finish stores how an execution ended and releases what it held.
func (e *Engine) finish(rec *Execution, res *workflow.Result) {
	ctx := context.WithoutCancel(e.ctx)
	done := *rec
	applyResult(&done, res, e.clk.Now())
	data, err := json.Marshal(&done)
	if err == nil {
		_, err = e.executions.Put(ctx, key(rec.ARN), data)
	}
	if err != nil {
		// The history holds the outcome; resume re-derives the record.
		e.log.Error("store workflow execution result", "execution", rec.ARN, "err", err)
		return
	}
	e.metrics.executionFinished(&done)
	if err := e.running.Delete(ctx, key(rec.ARN)); err != nil {
		e.log.Warn("unindex finished workflow execution", "execution", rec.ARN, "err", err)
	}
	for _, ev := range res.History {
		// Only callback tasks leave completions to clean up; listing
		// them costs a consumer, which most executions need not pay.
		if strings.HasSuffix(ev.Resource, ".waitForTaskToken") {
			e.forgetTokens(ctx, rec.ARN)
			break
		}
	}
}

func applyResult(rec *Execution, res *workflow.Result, now time.Time) {
	rec.Status, rec.Error, rec.Cause, rec.WakeAt = res.Status, res.Error, res.Cause, time.Time{}
	rec.StopTime = now.UTC()
	if n := len(res.History); n > 0 {
		rec.StopTime = res.History[n-1].Timestamp
	}
	if res.Status == workflow.StatusSucceeded {
		if out, err := asl.EncodeJSON(res.Output); err == nil {
			rec.Output = json.RawMessage(out)
		}
	}
}

// resume continues every STANDARD execution that has not finished.
func (e *Engine) resume(ctx context.Context) error {
	keys, err := e.running.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list running workflow executions: %w", err)
	}
	var ks []string
	for k := range keys.Keys() {
		ks = append(ks, k)
	}
	resumed, parked := 0, 0
	for _, k := range ks {
		idx, err := e.running.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read running workflow execution: %w", err)
		}
		rec, err := e.record(ctx, k)
		if errors.Is(err, ErrExecutionNotFound) {
			// Indexed but never stored: Start failed half-way.
			_ = e.running.Delete(ctx, k)
			continue
		}
		if err != nil {
			return err
		}
		machine, err := parse(rec.Definition, rec.Type)
		if err != nil {
			return fmt.Errorf("resume %s: %w", rec.ARN, err)
		}
		if wake, perr := time.Parse(time.RFC3339Nano, string(idx.Value())); perr == nil && wake.After(e.clk.Now()) {
			e.arm(rec, machine, wake)
			parked++
			continue
		}
		e.launch(rec, machine, nil)
		resumed++
	}
	if resumed+parked > 0 {
		e.log.Info("resumed workflow executions", "running", resumed, "parked", parked)
	}
	return nil
}

// record reads an execution record by its key.
func (e *Engine) record(ctx context.Context, k string) (*Execution, error) {
	entry, err := e.executions.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, ErrExecutionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read workflow execution: %w", err)
	}
	var rec Execution
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return nil, fmt.Errorf("decode workflow execution: %w", err)
	}
	return &rec, nil
}

// Describe returns an execution's record.
func (e *Engine) Describe(ctx context.Context, arn string) (*Execution, error) {
	if arn == "" {
		return nil, fmt.Errorf("%w: no execution ARN given", ErrExecutionNotFound)
	}
	e.mu.Lock()
	if rec, ok := e.expressRecs[arn]; ok {
		cp := *rec
		e.mu.Unlock()
		return &cp, nil
	}
	e.mu.Unlock()
	rec, err := e.record(ctx, key(arn))
	if errors.Is(err, ErrExecutionNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrExecutionNotFound, arn)
	}
	if err != nil {
		return nil, err
	}
	if rec.Status == workflow.StatusRunning {
		if idx, err := e.running.Get(ctx, key(arn)); err == nil {
			rec.WakeAt, _ = time.Parse(time.RFC3339Nano, string(idx.Value()))
		}
	}
	return rec, nil
}

// Filter selects executions for List; empty fields match all.
type Filter struct {
	// Machine is a state machine name or ARN.
	Machine string
	Status  workflow.Status
}

// List returns the executions that match f, newest first.
func (e *Engine) List(ctx context.Context, f Filter) ([]*Execution, error) {
	machine := ""
	if f.Machine != "" {
		machine = e.machineName(f.Machine)
	}
	match := func(r *Execution) bool {
		return (machine == "" || r.MachineName == machine) && (f.Status == "" || r.Status == f.Status)
	}
	var out []*Execution
	e.mu.Lock()
	for _, r := range e.expressRecs {
		if match(r) {
			cp := *r
			out = append(out, &cp)
		}
	}
	e.mu.Unlock()
	keys, err := e.executions.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list workflow executions: %w", err)
	}
	var ks []string
	for k := range keys.Keys() {
		ks = append(ks, k)
	}
	for _, k := range ks {
		rec, err := e.record(ctx, k)
		if errors.Is(err, ErrExecutionNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if match(rec) {
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartTime.Equal(out[j].StartTime) {
			return out[i].StartTime.After(out[j].StartTime)
		}
		return out[i].ARN < out[j].ARN
	})
	return out, nil
}

// History returns an execution's events in order.
func (e *Engine) History(ctx context.Context, arn string) ([]workflow.Event, error) {
	rec, err := e.Describe(ctx, arn)
	if err != nil {
		return nil, err
	}
	if rec.Type == asl.Express {
		e.mu.Lock()
		defer e.mu.Unlock()
		return append([]workflow.Event(nil), e.expressHist[arn]...), nil
	}
	events, err := e.history.Load(ctx, arn)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", arn, err)
	}
	return events, nil
}

// Stop stops a running execution: it ends ABORTED with the given error
// and cause. Stopping a finished execution changes nothing.
func (e *Engine) Stop(ctx context.Context, arn, errName, cause string) (*Execution, error) {
	rec, err := e.Describe(ctx, arn)
	if err != nil {
		return nil, err
	}
	if rec.Status != workflow.StatusRunning {
		return rec, nil
	}
	stop := &workflow.StopRequest{ErrorName: errName, Cause: cause}
	if rec.Type == asl.Express {
		e.mu.Lock()
		a := e.active[arn]
		e.mu.Unlock()
		if a != nil {
			a.cancel(stop)
		}
		return e.Wait(ctx, arn)
	}
	machine, err := parse(rec.Definition, rec.Type)
	if err != nil {
		return nil, err
	}
	// A parked execution gets a goroutine again, which replays its history
	// and records the abort; its span links to the stop request's.
	e.launchRun(rec, machine, stop, false, trace.SpanContextFromContext(ctx))
	return e.Wait(ctx, arn)
}

// Wait blocks until an execution has finished (or ctx ends) and returns
// its record.
func (e *Engine) Wait(ctx context.Context, arn string) (*Execution, error) {
	for {
		e.mu.Lock()
		a := e.active[arn]
		e.mu.Unlock()
		rec, err := e.Describe(ctx, arn)
		if err != nil {
			return nil, err
		}
		if rec.Status != workflow.StatusRunning {
			return rec, nil
		}
		if a == nil {
			// Parked, or about to start: poll the record. Finished
			// executions are seen at the next look; a parked one wakes
			// by its timer.
			a = e.waitActive(ctx, arn)
			if a == nil {
				return nil, ctx.Err()
			}
		}
		select {
		case <-a.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// waitActive waits until an execution has a goroutine (it is woken from
// parking or launched) or has finished, and returns what to wait on next;
// nil when ctx ends.
func (e *Engine) waitActive(ctx context.Context, arn string) *activeExec {
	for {
		e.mu.Lock()
		a, changed := e.active[arn], e.changed
		e.mu.Unlock()
		if a != nil {
			return a
		}
		if rec, err := e.Describe(ctx, arn); err == nil && rec.Status != workflow.StatusRunning {
			done := make(chan struct{})
			close(done)
			return &activeExec{done: done}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// notify wakes the waiters of waitActive; e.mu must be held.
func (e *Engine) notify() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// ExecutionARN is the ARN of a machine's execution by name.
func (e *Engine) ExecutionARN(machine, name string) string {
	return e.arn("execution", e.machineName(machine), name)
}
