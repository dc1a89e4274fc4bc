package workflow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// attemptFn runs one attempt of a Task, Parallel or Map state's work and
// post-processing. failedAt is when the attempt failed (the timestamp of
// its failure event, so that replayed retry intervals start where they did).
type attemptFn func(ctx context.Context, attempt int) (res step, failedAt time.Time, f *failure)

// withRetry runs attempts under the state's Retry and Catch rules.
func (r *run) withRetry(ctx context.Context, s *scope, st *asl.State, input any, entered Event, attemptOnce attemptFn) (step, *failure) {
	counts := make([]int, len(st.Retry))
	span := r.stateSpan(ctx)
	for attempt := 0; ; attempt++ {
		if span != nil && attempt > 0 {
			span.SetAttributes(AttrRetryCount.Int(attempt))
		}
		res, failedAt, f := attemptOnce(ctx, attempt)
		if f == nil || f.abort != nil {
			return res, f
		}
		if i := asl.MatchRetrier(st.Retry, f.err.Name); i >= 0 {
			counts[i]++
			jitter := r.random(fmt.Sprintf("%s#retry%d", entered.Key, attempt)).Float64()
			if d, ok := st.Retry[i].Delay(counts[i], jitter); ok {
				r.x.logger().Debug("retrying workflow state", "execution", r.exec.ID, "state", st.Name,
					"error", f.err.Name, "retry", counts[i], "delay", d)
				if span != nil {
					span.AddEvent("retry", trace.WithAttributes(attribute.Int("retry", attempt+1),
						attribute.String("error", f.err.Name), attribute.String("cause", f.err.Cause),
						attribute.String("delay", d.String())))
				}
				if failedAt.IsZero() {
					failedAt = r.x.Clock.Now()
				}
				if err := r.sleepUntil(ctx, failedAt.Add(d)); err != nil {
					return step{}, &failure{abort: err}
				}
				continue
			}
		}
		if i := asl.MatchCatcher(st.Catch, f.err.Name); i >= 0 {
			if span != nil {
				// The state failed, and its Catch handled it: still an error
				// of this span, with where the execution went on.
				span.SetAttributes(AttrError.String(f.err.Name), AttrCause.String(f.err.Cause), AttrCatch.String(st.Catch[i].Next))
				span.SetStatus(codes.Error, f.err.Name)
			}
			return r.catch(ctx, s, st, st.Catch[i], input, entered, f.err)
		}
		return step{}, f
	}
}

// catch builds the output of a caught error.
func (r *run) catch(ctx context.Context, s *scope, st *asl.State, c *asl.Catcher, input any, entered Event, e *asl.Error) (step, *failure) {
	env := r.env(s, st, entered, 0, "")
	errOut := map[string]any{"Error": e.Name, "Cause": e.Cause}
	res := step{next: c.Next}
	var err error
	if st.QueryLanguage == asl.JSONata {
		states := asl.States{Input: input, ErrorOutput: errOut, HasError: true}
		if c.HasAssign {
			if res.vars, err = assignJSONata(env, c.Assign, states); err != nil {
				return step{}, r.evalFailure(ctx, s, st, entered, err)
			}
		}
		res.out = any(errOut)
		if c.HasOutput {
			if res.out, err = env.Evaluate("Output", c.Output, states); err != nil {
				return step{}, r.evalFailure(ctx, s, st, entered, err)
			}
		}
		return res, nil
	}
	if c.HasAssign {
		if res.vars, err = env.AssignJSONPath(c.Assign, errOut); err != nil {
			return step{}, r.evalFailure(ctx, s, st, entered, err)
		}
	}
	if res.out, err = env.ResultPath(c.ResultPath, input, errOut); err != nil {
		return step{}, r.evalFailure(ctx, s, st, entered, err)
	}
	return res, nil
}

// taskEvents names the events of a task: Lambda function ARNs get
// LambdaFunction* events, every other resource Task* events.
type taskEvents struct{ scheduled, started, succeeded, failed, timedOut EventType }

func eventsFor(resource string) taskEvents {
	if isLambdaARN(resource) {
		return taskEvents{LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionSucceeded, LambdaFunctionFailed, LambdaFunctionTimedOut}
	}
	return taskEvents{TaskScheduled, TaskStarted, TaskSucceeded, TaskFailed, TaskTimedOut}
}

func (r *run) task(ctx context.Context, s *scope, st *asl.State, input any, entered Event) (step, *failure) {
	eff := input
	if st.QueryLanguage == asl.JSONPath {
		env := r.env(s, st, entered, 0, "")
		var err error
		if eff, err = env.InputPath(st.InputPath, input); err != nil {
			return step{}, r.evalFailure(ctx, s, st, entered, err)
		}
	}
	return r.withRetry(ctx, s, st, input, entered, func(ctx context.Context, attempt int) (step, time.Time, *failure) {
		token := ""
		if isCallback(st.Resource) {
			token = fmt.Sprintf("%s/%s/%d", r.exec.ID, entered.Key, attempt)
		}
		env := r.env(s, st, entered, attempt, token)
		states := asl.States{Input: input}
		var args any = eff
		var err error
		switch {
		case st.QueryLanguage == asl.JSONata && st.HasArguments:
			args, err = env.Evaluate("Arguments", st.Arguments, states)
		case st.QueryLanguage == asl.JSONPath && st.HasParameters:
			args, err = env.Template(st.Parameters, eff)
		}
		if err != nil {
			return step{}, time.Time{}, r.evalFailure(ctx, s, st, entered, err)
		}
		timeout, heartbeat, err := r.taskTimeouts(env, st, eff, states)
		if err != nil {
			return step{}, time.Time{}, r.evalFailure(ctx, s, st, entered, err)
		}
		result, failedAt, f := r.invoke(ctx, s, st, args, attempt, token, timeout, heartbeat)
		if f != nil {
			return step{}, failedAt, f
		}
		var res step
		if st.QueryLanguage == asl.JSONata {
			states.Result, states.HasResult = result, true
			res, err = r.finishJSONata(env, st, states)
		} else {
			res, err = r.finishJSONPath(env, st, input, result, true)
		}
		if err != nil {
			return step{}, time.Time{}, r.evalFailure(ctx, s, st, entered, err)
		}
		return res, time.Time{}, nil
	})
}

func isCallback(resource string) bool {
	return len(resource) > len(".waitForTaskToken") && resource[len(resource)-len(".waitForTaskToken"):] == ".waitForTaskToken"
}

// taskTimeouts resolves TimeoutSeconds and HeartbeatSeconds (or their Path
// or JSONata forms).
func (r *run) taskTimeouts(env *asl.Env, st *asl.State, input any, states asl.States) (timeout, heartbeat time.Duration, err error) {
	resolve := func(name string, v any, path string) (time.Duration, error) {
		switch {
		case path != "":
			sel, err := env.Select(name+"Path", path, input)
			if err != nil {
				return 0, err
			}
			v = sel
		case v == nil:
			return 0, nil
		}
		if str, ok := v.(string); ok {
			var err error
			if v, err = env.Expression(name, str, states); err != nil {
				return 0, err
			}
		}
		f, ok := asNumber(v)
		if !ok || f < 1 {
			return 0, asl.Errorf(asl.ErrRuntime, "The %s must be a positive integer, got %s", name, mustJSON(v))
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	if timeout, err = resolve("TimeoutSeconds", st.TimeoutSeconds, st.TimeoutSecondsPath); err != nil {
		return 0, 0, err
	}
	heartbeat, err = resolve("HeartbeatSeconds", st.HeartbeatSeconds, st.HeartbeatSecondsPath)
	return timeout, heartbeat, err
}

// invoke runs one task attempt and records it. A recorded outcome is reused;
// a scheduled attempt without an outcome (in flight at a crash) runs again
// with the same idempotency key.
func (r *run) invoke(ctx context.Context, s *scope, st *asl.State, args any, attempt int, token string, timeout, heartbeat time.Duration) (any, time.Time, *failure) {
	names := eventsFor(st.Resource)
	scheduled, err := r.emit(ctx, s, Event{Type: names.scheduled, Name: st.Name, Resource: st.Resource, Input: r.raw(args)})
	if err != nil {
		return nil, time.Time{}, &failure{abort: err}
	}
	if _, err := r.emit(ctx, s, Event{Type: names.started, Name: st.Name, Resource: st.Resource}); err != nil {
		return nil, time.Time{}, &failure{abort: err}
	}
	if prior, ok := r.peek(s); ok {
		ev, err := r.emit(ctx, s, Event{Type: prior.Type, Name: st.Name, Resource: st.Resource})
		if err != nil {
			return nil, time.Time{}, &failure{abort: err}
		}
		if ev.Type == names.succeeded {
			v, err := asl.DecodeJSON(ev.Output)
			if err != nil {
				return nil, time.Time{}, &failure{abort: fmt.Errorf("decode recorded task result %s: %w", ev.Key, err)}
			}
			return v, time.Time{}, nil
		}
		return nil, ev.Timestamp, fail(&asl.Error{Name: ev.Error, Cause: ev.Cause})
	}

	req := TaskRequest{
		ExecutionID: r.exec.ID, StateName: st.Name, Resource: st.Resource, Input: args,
		IdempotencyKey: r.exec.ID + "/" + scheduled.Key, Attempt: attempt, TaskToken: token,
		Timeout: timeout, Heartbeat: heartbeat,
	}
	req.Function, _ = FunctionName(st.Resource)
	payload := args
	if isLambdaInvoke(st.Resource) {
		// The optimized integration names the function in its parameters
		// and wraps the result the way the Lambda Invoke API does.
		if m, ok := args.(map[string]any); ok {
			if fn, ok := m["FunctionName"].(string); ok {
				req.Function, _ = FunctionName(fn)
			}
			payload = m["Payload"]
		}
		req.Input = payload
	}
	result, ierr := r.call(ctx, req)
	if ctx.Err() != nil {
		// The engine is stopping: the attempt stays scheduled without an
		// outcome and runs again on resume.
		return nil, time.Time{}, &failure{abort: ctx.Err()}
	}
	if ierr == nil && isLambdaInvoke(st.Resource) && !isCallback(st.Resource) {
		// A callback task's result is what SendTaskSuccess sent, unwrapped.
		result = map[string]any{"ExecutedVersion": "$LATEST", "Payload": result, "StatusCode": asl.Number(200)}
	}
	if ierr != nil {
		typ := names.failed
		if ierr.Name == asl.ErrTimeout || ierr.Name == asl.ErrHeartbeatTimeout {
			typ = names.timedOut
		}
		ev, err := r.emit(ctx, s, Event{Type: typ, Name: st.Name, Resource: st.Resource, Error: ierr.Name, Cause: ierr.Cause})
		if err != nil {
			return nil, time.Time{}, &failure{abort: err}
		}
		return nil, ev.Timestamp, fail(ierr)
	}
	if _, err := r.emit(ctx, s, Event{Type: names.succeeded, Name: st.Name, Resource: st.Resource, Output: r.raw(result)}); err != nil {
		return nil, time.Time{}, &failure{abort: err}
	}
	return result, time.Time{}, nil
}

// call invokes the task with its timeout (and, for callback tasks, its
// heartbeat timeout) and classifies the outcome.
func (r *run) call(ctx context.Context, req TaskRequest) (any, *asl.Error) {
	if r.x.Invoker == nil {
		return nil, asl.Errorf(asl.ErrTaskFailed, "no task invoker is configured for resource %s", req.Resource)
	}
	callCtx := ctx
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = r.deadline(ctx, r.x.Clock.Now().Add(req.Timeout))
		defer cancel()
	}
	var hb *heartbeat
	if req.Heartbeat > 0 && req.TaskToken != "" {
		hb = newHeartbeat(callCtx, r.x.Clock, req.Heartbeat)
		defer hb.stop()
		callCtx, req.Beat = hb.ctx, hb.beat
	}
	v, err := r.x.Invoker.Invoke(callCtx, req)
	if err == nil {
		return v, nil
	}
	var ae *asl.Error
	switch {
	case errors.As(err, &ae):
		return nil, ae
	case hb != nil && errors.Is(context.Cause(callCtx), errHeartbeatMissed) && ctx.Err() == nil:
		return nil, asl.Errorf(asl.ErrHeartbeatTimeout, "No heartbeat for %s", req.Heartbeat)
	case callCtx.Err() != nil && ctx.Err() == nil:
		return nil, asl.Errorf(asl.ErrTimeout, "Task timed out after %s", req.Timeout)
	}
	return nil, &asl.Error{Name: asl.ErrTaskFailed, Cause: err.Error()}
}

var errHeartbeatMissed = errors.New("task heartbeat missed")

// heartbeat cancels a callback task's context when no heartbeat arrives
// within the interval; each beat re-arms the timer.
type heartbeat struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc
	clk      clock.Clock
	interval time.Duration

	mu    sync.Mutex
	timer clock.Timer
	done  bool
}

func newHeartbeat(parent context.Context, clk clock.Clock, interval time.Duration) *heartbeat {
	ctx, cancel := context.WithCancelCause(parent)
	h := &heartbeat{ctx: ctx, cancel: cancel, clk: clk, interval: interval}
	h.beat()
	return h
}

func (h *heartbeat) beat() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return
	}
	if h.timer != nil {
		h.timer.Stop()
	}
	h.timer = h.clk.AfterFunc(h.interval, func() { h.cancel(errHeartbeatMissed) })
}

func (h *heartbeat) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.done = true
	if h.timer != nil {
		h.timer.Stop()
	}
	h.cancel(nil)
}
