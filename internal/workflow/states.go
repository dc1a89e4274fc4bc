package workflow

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// step is what a completed state hands on.
type step struct {
	out  any
	next string
	vars map[string]any // variables the state assigned
}

// state runs one state: its entered event, its work, its exited event.
func (r *run) state(ctx context.Context, s *scope, st *asl.State, input any) (any, string, *failure) {
	_, replayed := r.peek(s)
	if !replayed && r.transitions != nil {
		r.transitions.Inc()
	}
	ctx, span := r.startState(ctx, s, st, replayed)
	out, next, f := r.runState(ctx, s, st, input)
	endState(span, f)
	return out, next, f
}

// runState is state inside the state's span.
func (r *run) runState(ctx context.Context, s *scope, st *asl.State, input any) (any, string, *failure) {
	entered, err := r.emit(ctx, s, Event{Type: EventType(st.Type + "StateEntered"), Name: st.Name, Input: r.raw(input)})
	if err != nil {
		return nil, "", &failure{abort: err}
	}
	var res step
	var f *failure
	switch st.Type {
	case asl.TypePass:
		res, f = r.pass(ctx, s, st, input, entered)
	case asl.TypeTask:
		res, f = r.task(ctx, s, st, input, entered)
	case asl.TypeChoice:
		res, f = r.choice(ctx, s, st, input, entered)
	case asl.TypeWait:
		res, f = r.wait(ctx, s, st, input, entered)
	case asl.TypeSucceed:
		res, f = r.succeed(ctx, s, st, input, entered)
	case asl.TypeFail:
		return nil, "", r.failState(ctx, s, st, input, entered)
	case asl.TypeParallel:
		res, f = r.parallel(ctx, s, st, input, entered)
	case asl.TypeMap:
		res, f = r.mapState(ctx, s, st, input, entered)
	default:
		f = fail(asl.Errorf(asl.ErrRuntime, "unknown state type %q", st.Type))
	}
	if f != nil {
		return nil, "", f
	}
	limit := r.x.MaxPayloadBytes
	if limit == 0 {
		limit = DefaultMaxPayloadBytes
	}
	out := r.raw(res.out)
	if len(out) > limit {
		return nil, "", fail(asl.Errorf(asl.ErrDataLimitExceeded,
			"The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", st.Name))
	}
	for k, v := range res.vars {
		s.vars[k] = v
	}
	exited := Event{Type: EventType(st.Type + "StateExited"), Name: st.Name, Output: out}
	if len(res.vars) > 0 {
		exited.Vars = r.raw(res.vars)
	}
	if _, err := r.emit(ctx, s, exited); err != nil {
		return nil, "", &failure{abort: err}
	}
	// res.next is empty for a terminal state, unless a Catch redirected it.
	return res.out, res.next, nil
}

// evalFailure turns an evaluation error inside a state into its failure:
// the cause names the state and its entered event as Step Functions does,
// and a JSONata error is recorded as an EvaluationFailed event.
func (r *run) evalFailure(ctx context.Context, s *scope, st *asl.State, entered Event, err error) *failure {
	var ae *asl.Error
	if !errors.As(err, &ae) {
		return &failure{abort: err}
	}
	located := &asl.Error{Name: ae.Name, Cause: fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). %s", st.Name, entered.ID, ae.Cause)}
	if ae.Name == asl.ErrQueryEvaluation {
		if _, err := r.emit(ctx, s, Event{Type: EvaluationFailed, Name: st.Name, Error: located.Name, Cause: located.Cause}); err != nil {
			return &failure{abort: err}
		}
	}
	return fail(located)
}

// finishJSONPath applies ResultSelector (when selector), Assign, ResultPath
// and OutputPath to a state's result, in the spec's order.
func (r *run) finishJSONPath(env *asl.Env, st *asl.State, rawInput, result any, selector bool) (step, error) {
	if selector && st.HasResultSelector {
		v, err := env.Template(st.ResultSelector, result)
		if err != nil {
			return step{}, err
		}
		result = v
	}
	var vars map[string]any
	if st.HasAssign {
		v, err := env.AssignJSONPath(st.Assign, result)
		if err != nil {
			return step{}, err
		}
		vars = v
	}
	combined, err := env.ResultPath(st.ResultPath, rawInput, result)
	if err != nil {
		return step{}, err
	}
	out, err := env.OutputPath(st.OutputPath, combined)
	if err != nil {
		return step{}, err
	}
	return step{out: out, next: st.Next, vars: vars}, nil
}

// finishJSONata evaluates Assign and Output (default: the result, or the
// input when there is none); both see the variables from before the state.
func (r *run) finishJSONata(env *asl.Env, st *asl.State, states asl.States) (step, error) {
	var vars map[string]any
	if st.HasAssign {
		v, err := assignJSONata(env, st.Assign, states)
		if err != nil {
			return step{}, err
		}
		vars = v
	}
	out := states.Input
	if states.HasResult {
		out = states.Result
	}
	if st.HasOutput {
		v, err := env.Evaluate("Output", st.Output, states)
		if err != nil {
			return step{}, err
		}
		out = v
	}
	return step{out: out, next: st.Next, vars: vars}, nil
}

func assignJSONata(env *asl.Env, assign map[string]any, states asl.States) (map[string]any, error) {
	v, err := env.Evaluate("Assign", assign, states)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return m, nil
}

func (r *run) pass(ctx context.Context, s *scope, st *asl.State, input any, entered Event) (step, *failure) {
	env := r.env(s, st, entered, 0, "")
	if st.QueryLanguage == asl.JSONata {
		res, err := r.finishJSONata(env, st, asl.States{Input: input})
		if err != nil {
			return step{}, r.evalFailure(ctx, s, st, entered, err)
		}
		return res, nil
	}
	eff, err := env.InputPath(st.InputPath, input)
	if err != nil {
		return step{}, r.evalFailure(ctx, s, st, entered, err)
	}
	result := eff
	switch {
	case st.HasResult:
		result = asl.DeepCopy(st.Result)
	case st.HasParameters:
		if result, err = env.Template(st.Parameters, eff); err != nil {
			return step{}, r.evalFailure(ctx, s, st, entered, err)
		}
	}
	res, err := r.finishJSONPath(env, st, input, result, false)
	if err != nil {
		return step{}, r.evalFailure(ctx, s, st, entered, err)
	}
	return res, nil
}

func (r *run) choice(ctx context.Context, s *scope, st *asl.State, input any, entered Event) (step, *failure) {
	env := r.env(s, st, entered, 0, "")
	if st.QueryLanguage == asl.JSONata {
		states := asl.States{Input: input}
		rule, err := env.ChooseJSONata(st.Choices, states)
		if err != nil {
			return step{}, r.evalFailure(ctx, s, st, entered, err)
		}
		next, assign, hasAssign, output, hasOutput := st.Default, st.Assign, st.HasAssign, st.Output, st.HasOutput
		if rule != nil {
			next, assign, hasAssign = rule.Next, rule.Assign, rule.HasAssign
			if rule.HasOutput {
				output, hasOutput = rule.Output, true
			}
		} else if next == "" {
			return step{}, fail(asl.Errorf(asl.ErrNoChoiceMatched, "No Choice Rule matched and no Default is specified in the state '%s'.", st.Name))
		}
		res := step{out: input, next: next}
		if hasAssign {
			if res.vars, err = assignJSONata(env, assign, states); err != nil {
				return step{}, r.evalFailure(ctx, s, st, entered, err)
			}
		}
		if hasOutput {
			if res.out, err = env.Evaluate("Output", output, states); err != nil {
				return step{}, r.evalFailure(ctx, s, st, entered, err)
			}
		}
		return res, nil
	}
	eff, err := env.InputPath(st.InputPath, input)
	if err != nil {
		return step{}, r.evalFailure(ctx, s, st, entered, err)
	}
	rule, err := env.Choose(st.Choices, eff)
	if err != nil {
		return step{}, r.evalFailure(ctx, s, st, entered, err)
	}
	next, assign, hasAssign := st.Default, st.Assign, st.HasAssign
	if rule != nil {
		next, assign, hasAssign = rule.Next, rule.Assign, rule.HasAssign
	} else if next == "" {
		return step{}, fail(asl.Errorf(asl.ErrNoChoiceMatched, "No Choice Rule matched and no Default is specified in the state '%s'.", st.Name))
	}
	res := step{next: next}
	if hasAssign {
		if res.vars, err = env.AssignJSONPath(assign, eff); err != nil {
			return step{}, r.evalFailure(ctx, s, st, entered, err)
		}
	}
	if res.out, err = env.OutputPath(st.OutputPath, eff); err != nil {
		return step{}, r.evalFailure(ctx, s, st, entered, err)
	}
	return res, nil
}

func (r *run) wait(ctx context.Context, s *scope, st *asl.State, input any, entered Event) (step, *failure) {
	env := r.env(s, st, entered, 0, "")
	states := asl.States{Input: input}
	eff := input
	var err error
	if st.QueryLanguage == asl.JSONPath {
		if eff, err = env.InputPath(st.InputPath, input); err != nil {
			return step{}, r.evalFailure(ctx, s, st, entered, err)
		}
	}
	until, err := r.waitUntil(env, st, eff, states, entered.Timestamp)
	if err != nil {
		return step{}, r.evalFailure(ctx, s, st, entered, err)
	}
	// The wait is measured from the recorded entered time, so a restarted
	// engine waits only for what is left.
	if _, done := r.peek(s); !done {
		if err := r.sleepUntil(ctx, until); err != nil {
			return step{}, &failure{abort: err}
		}
	}
	if st.QueryLanguage == asl.JSONata {
		res, err := r.finishJSONata(env, st, states)
		if err != nil {
			return step{}, r.evalFailure(ctx, s, st, entered, err)
		}
		return res, nil
	}
	res := step{next: st.Next}
	if st.HasAssign {
		if res.vars, err = env.AssignJSONPath(st.Assign, eff); err != nil {
			return step{}, r.evalFailure(ctx, s, st, entered, err)
		}
	}
	if res.out, err = env.OutputPath(st.OutputPath, eff); err != nil {
		return step{}, r.evalFailure(ctx, s, st, entered, err)
	}
	return res, nil
}

// waitUntil computes when a Wait state ends.
func (r *run) waitUntil(env *asl.Env, st *asl.State, input any, states asl.States, from time.Time) (time.Time, error) {
	seconds := func(v any, what string) (time.Time, error) {
		f, ok := v.(float64)
		if n, isNum := asNumber(v); isNum {
			f, ok = n, true
		}
		if !ok || f != math.Trunc(f) {
			return time.Time{}, asl.Errorf(asl.ErrRuntime, "The %s parameter cannot be parsed as a long value: %s", what, mustJSON(v))
		}
		if f < 0 {
			return time.Time{}, asl.Errorf(asl.ErrRuntime, "The %s parameter references a negative value: %s", what, mustJSON(v))
		}
		return from.Add(time.Duration(f) * time.Second), nil
	}
	timestamp := func(v any, what string) (time.Time, error) {
		str, ok := v.(string)
		t, err := asl.ParseTimestamp(str)
		if !ok || err != nil {
			return time.Time{}, asl.Errorf(asl.ErrRuntime, "The %s parameter does not reference a valid ISO-8601 extended offset date-time format string: %s", what, mustJSON(v))
		}
		return t, nil
	}
	switch {
	case st.Seconds != nil:
		v := st.Seconds
		if str, ok := v.(string); ok {
			var err error
			if v, err = env.Expression("Seconds", str, states); err != nil {
				return time.Time{}, err
			}
		}
		return seconds(v, "Seconds")
	case st.SecondsPath != "":
		v, err := env.Select("SecondsPath", st.SecondsPath, input)
		if err != nil {
			return time.Time{}, asl.Errorf(asl.ErrRuntime, "The SecondsPath parameter does not reference an input value: %s", st.SecondsPath)
		}
		if _, isNum := asNumber(v); !isNum {
			return time.Time{}, asl.Errorf(asl.ErrRuntime, "The SecondsPath parameter cannot be parsed as a long value: %s == %s", st.SecondsPath, mustJSON(v))
		}
		t, err := seconds(v, "SecondsPath")
		if err != nil {
			f, _ := asNumber(v)
			if f == math.Trunc(f) {
				return time.Time{}, asl.Errorf(asl.ErrRuntime, "The SecondsPath parameter references a negative value: %s == %s", st.SecondsPath, mustJSON(v))
			}
			return time.Time{}, asl.Errorf(asl.ErrRuntime, "The SecondsPath parameter cannot be parsed as a long value: %s == %s", st.SecondsPath, mustJSON(v))
		}
		return t, nil
	case st.Timestamp != nil:
		v := st.Timestamp
		if str, ok := v.(string); ok && asl.IsExpression(str) {
			var err error
			if v, err = env.Expression("Timestamp", str, states); err != nil {
				return time.Time{}, err
			}
		}
		return timestamp(v, "Timestamp")
	case st.TimestampPath != "":
		v, err := env.Select("TimestampPath", st.TimestampPath, input)
		if err != nil {
			return time.Time{}, asl.Errorf(asl.ErrRuntime, "The TimestampPath parameter does not reference an input value: %s", st.TimestampPath)
		}
		return timestamp(v, "TimestampPath")
	}
	return from, nil
}

func (r *run) succeed(ctx context.Context, s *scope, st *asl.State, input any, entered Event) (step, *failure) {
	env := r.env(s, st, entered, 0, "")
	if st.QueryLanguage == asl.JSONata {
		res, err := r.finishJSONata(env, st, asl.States{Input: input})
		if err != nil {
			return step{}, r.evalFailure(ctx, s, st, entered, err)
		}
		return res, nil
	}
	eff, err := env.InputPath(st.InputPath, input)
	if err == nil {
		eff, err = env.OutputPath(st.OutputPath, eff)
	}
	if err != nil {
		return step{}, r.evalFailure(ctx, s, st, entered, err)
	}
	return step{out: eff}, nil
}

func (r *run) failState(ctx context.Context, s *scope, st *asl.State, input any, entered Event) *failure {
	env := r.env(s, st, entered, 0, "")
	states := asl.States{Input: input}
	field := func(name string, lit any, path string) (string, error) {
		var v any
		switch {
		case path != "":
			var err error
			v, err = env.Dynamic(name+"Path", path, input)
			if err != nil {
				return "", err
			}
		case lit != nil:
			v = lit
			if str, ok := lit.(string); ok && st.QueryLanguage == asl.JSONata && asl.IsExpression(str) {
				var err error
				if v, err = env.Expression(name, str, states); err != nil {
					return "", err
				}
			}
		default:
			return "", nil
		}
		str, ok := v.(string)
		if !ok {
			return "", asl.Errorf(asl.ErrRuntime, "The %s of the Fail state must be a string, got %s", name, mustJSON(v))
		}
		return str, nil
	}
	name, err := field("Error", st.Error, st.ErrorPath)
	if err != nil {
		return r.evalFailure(ctx, s, st, entered, err)
	}
	cause, err := field("Cause", st.Cause, st.CausePath)
	if err != nil {
		return r.evalFailure(ctx, s, st, entered, err)
	}
	return fail(&asl.Error{Name: name, Cause: cause})
}

// asNumber reports v as a float64 when it is a JSON number.
func asNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case interface{ Float64() (float64, error) }:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func mustJSON(v any) string {
	s, err := asl.EncodeJSON(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}
