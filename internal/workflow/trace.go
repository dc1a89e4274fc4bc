package workflow

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// Attribute keys of the spans an Executor makes (docs/workflows.md shows
// the whole trace).
const (
	// AttrMachine is the state machine's name, on the execution span.
	AttrMachine = attribute.Key("hearth.workflow.machine")
	// AttrExecution is the execution's ID (its ARN in the engine).
	AttrExecution = attribute.Key("hearth.workflow.execution")
	// AttrType is STANDARD or EXPRESS.
	AttrType = attribute.Key("hearth.workflow.type")
	// AttrStatus is how the run of the execution ended: a final status, or
	// RUNNING when it parked or was interrupted and resumes later.
	AttrStatus = attribute.Key("hearth.workflow.status")
	// AttrResumed marks the span of a run that continued a recorded
	// history, and a state span that a resumed run finished.
	AttrResumed = attribute.Key("hearth.workflow.resumed")
	// AttrState and AttrStateType name a state span's state and its type
	// (Task, Pass, Choice…).
	AttrState     = attribute.Key("hearth.workflow.state")
	AttrStateType = attribute.Key("hearth.workflow.state.type")
	// AttrResource is a Task state's Resource.
	AttrResource = attribute.Key("hearth.workflow.task.resource")
	// AttrRetryCount is how many times a Task, Parallel or Map state was
	// retried (set when it was).
	AttrRetryCount = attribute.Key("hearth.workflow.retry_count")
	// AttrError and AttrCause are the error a state or execution failed
	// with (also when a Catch handled it).
	AttrError = attribute.Key("hearth.workflow.error")
	AttrCause = attribute.Key("hearth.workflow.cause")
	// AttrCatch is the state a Catch sent the execution to.
	AttrCatch = attribute.Key("hearth.workflow.catch")
	// AttrIndex is a Parallel branch's or a Map iteration's index.
	AttrIndex = attribute.Key("hearth.workflow.index")
)

// propagator is the executor's propagator, W3C trace context by default.
func (x *Executor) propagator() propagation.TextMapPropagator {
	if x.Propagator != nil {
		return x.Propagator
	}
	return propagation.TraceContext{}
}

// startExecution opens the span of this run of the execution and returns
// its context. A new execution's span is a child of ctx's span (the
// request that started it), and its trace context is what
// ExecutionStarted records. A resumed execution continues the recorded
// context.
//
// OpenTelemetry cannot reopen a span: one that ended (the run parked on a
// long timer) or whose process died is final. So every run of an
// execution is a span of its own, "workflow NAME", and a resumed run's span
// is a child of the first run's span, read back from the history: all runs
// share one trace id and hang under the first. After a crash the first
// span was never exported; its descendants still carry its trace id, so
// the trace stays one, with its root missing.
func (r *run) startExecution(ctx context.Context) context.Context {
	if r.x.Tracer == nil {
		return ctx
	}
	prior, resumed := r.recorded[r.root.key(0)]
	var opts []trace.SpanStartOption
	if resumed && len(prior.Trace) > 0 {
		if cause := trace.SpanContextFromContext(ctx); cause.IsValid() {
			// What resumed the run (a stop request) is linked, not the
			// parent: the execution's trace is the one it started in.
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: cause}))
		}
		ctx = r.x.propagator().Extract(ctx, propagation.MapCarrier(prior.Trace))
	}
	ctx, span := r.x.Tracer.Start(ctx, "workflow "+r.exec.Name, opts...)
	r.span = span
	// A run whose span is not sampled makes no state spans: a parent-based
	// sampler would not sample them either, and a run the sampler skips
	// then costs one span, not one per state.
	r.traced = span.IsRecording()
	if r.traced {
		span.SetAttributes(AttrMachine.String(r.exec.StateMachineName), AttrExecution.String(r.exec.ID),
			AttrType.String(string(r.exec.typ())))
		if resumed {
			span.SetAttributes(AttrResumed.Bool(true))
		}
	}
	if !resumed && span.SpanContext().IsValid() {
		carrier := propagation.MapCarrier{}
		r.x.propagator().Inject(ctx, carrier)
		r.traceContext = carrier
	}
	return ctx
}

// endExecution ends the run's span with how the run ended.
func (r *run) endExecution(res *Result, err error) {
	span := r.span
	if span == nil {
		return
	}
	defer span.End()
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.SetAttributes(AttrStatus.String(string(StatusRunning)))
		endInterrupted(span, err)
		return
	}
	span.SetAttributes(AttrStatus.String(string(res.Status)))
	if res.Status == StatusSucceeded {
		return
	}
	span.SetAttributes(AttrError.String(res.Error), AttrCause.String(res.Cause))
	if res.Status != StatusAborted {
		// A stop is what someone asked for, not a failure of the execution.
		span.SetStatus(codes.Error, res.Error)
	}
}

// endInterrupted records on span why a run stopped without an outcome.
func endInterrupted(span trace.Span, err error) {
	var parked *ParkedError
	switch {
	case errors.As(err, &parked):
		span.AddEvent("parked", trace.WithAttributes(attribute.String("until", parked.Until.UTC().Format(time.RFC3339Nano))))
	case errors.Is(err, context.Canceled):
		span.AddEvent("interrupted") // the engine is closing; the run resumes at its next start
	default:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
}

// startState opens the span of state st, about to be entered in scope s;
// replayed says its entered event is in the recorded history. A state the
// history holds in full does no work now (its span belongs to the run that
// did it): it gets no span, and its context carries a non-recording one so
// that nothing is attributed to the execution's span instead.
func (r *run) startState(ctx context.Context, s *scope, st *asl.State, replayed bool) (context.Context, trace.Span) {
	if !r.traced {
		return ctx, nil
	}
	if replayed && !r.frontier(s) {
		return trace.ContextWithSpanContext(ctx, trace.SpanContextFromContext(ctx)), nil
	}
	ctx, span := r.x.Tracer.Start(ctx, "state "+st.Name)
	if span.IsRecording() {
		span.SetAttributes(AttrState.String(st.Name), AttrStateType.String(string(st.Type)))
		if st.Type == asl.TypeTask {
			span.SetAttributes(AttrResource.String(st.Resource))
		}
		if replayed {
			span.SetAttributes(AttrResumed.Bool(true))
		}
	}
	return ctx, span
}

// endState ends a state's span with the failure it ended with, if any.
func endState(span trace.Span, f *failure) {
	if span == nil {
		return
	}
	defer span.End()
	if f == nil || !span.IsRecording() {
		return
	}
	if f.err != nil {
		span.SetAttributes(AttrError.String(f.err.Name), AttrCause.String(f.err.Cause))
		span.SetStatus(codes.Error, f.err.Name)
		return
	}
	endInterrupted(span, f.abort)
}

// startScope opens the span of a Parallel branch or Map iteration (name
// and index) running in scope s, unless the history holds all of it.
func (r *run) startScope(ctx context.Context, s *scope, name string, index int) (context.Context, trace.Span) {
	if !r.traced {
		return ctx, nil
	}
	if fr, ok := r.frontiers[s.path]; ok && fr.done {
		return trace.ContextWithSpanContext(ctx, trace.SpanContextFromContext(ctx)), nil
	}
	ctx, span := r.x.Tracer.Start(ctx, name+" "+strconv.Itoa(index))
	if span.IsRecording() {
		span.SetAttributes(AttrIndex.Int(index))
	}
	return ctx, span
}

// stateSpan returns the recording span of the state running in ctx, or
// nil. Only in a traced run is ctx's span the state's own (see
// startState); otherwise it may be a caller's, which must not get the
// state's events.
func (r *run) stateSpan(ctx context.Context) trace.Span {
	if !r.traced {
		return nil
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		return span
	}
	return nil
}

// scopeFrontier is where the recorded history of one scope ends.
type scopeFrontier struct {
	lastEntered int  // sequence number of the last state entered; -1: none
	done        bool // that state exited, or the Map iteration ended
}

// frontiers finds, for every scope of a recorded history, the state that
// the history leaves unfinished: the only one a resumed run still works in
// and traces. Events of a scope are sequential (a state's events, then the
// next state's; nested states are in scopes of their own), so the last
// entered state is unfinished unless an exit follows it.
//
// A Parallel branch or Map iteration that failed, in an attempt that was
// then retried, also ends on an unfinished state; replaying that attempt
// traces its last state once more, marked resumed.
func frontiers(recorded []Event) map[string]scopeFrontier {
	out := map[string]scopeFrontier{}
	for _, ev := range recorded {
		i := strings.LastIndexByte(ev.Key, '#')
		if i < 0 {
			continue
		}
		seq, err := strconv.Atoi(ev.Key[i+1:])
		if err != nil {
			continue
		}
		path := ev.Key[:i]
		fr, ok := out[path]
		if !ok {
			fr.lastEntered = -1
		}
		t := string(ev.Type)
		switch {
		case strings.HasSuffix(t, "StateEntered"):
			fr.lastEntered, fr.done = seq, false
		case strings.HasSuffix(t, "StateExited") && seq > fr.lastEntered,
			ev.Type == MapIterationSucceeded, ev.Type == MapIterationFailed:
			fr.done = true
		}
		out[path] = fr
	}
	return out
}

// frontier reports whether the state about to be entered in s (whose
// entered event is recorded) is where s's recorded history ends.
func (r *run) frontier(s *scope) bool {
	fr, ok := r.frontiers[s.path]
	return ok && fr.lastEntered == s.seq && !fr.done
}
