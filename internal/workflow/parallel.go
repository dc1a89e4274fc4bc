package workflow

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// effectiveInput applies InputPath (JSONPath) or Arguments (JSONata) to a
// Parallel or Map state's input; Parameters, where they apply, come after.
func (r *run) effectiveInput(env *asl.Env, st *asl.State, input any) (any, error) {
	if st.QueryLanguage == asl.JSONata {
		if st.HasArguments {
			return env.Evaluate("Arguments", st.Arguments, asl.States{Input: input})
		}
		return input, nil
	}
	return env.InputPath(st.InputPath, input)
}

// finish post-processes the result of a Parallel or Map state.
func (r *run) finish(env *asl.Env, st *asl.State, input, result any) (step, error) {
	if st.QueryLanguage == asl.JSONata {
		return r.finishJSONata(env, st, asl.States{Input: input, Result: result, HasResult: true})
	}
	return r.finishJSONPath(env, st, input, result, true)
}

func (r *run) parallel(ctx context.Context, s *scope, st *asl.State, input any, entered Event) (step, *failure) {
	return r.withRetry(ctx, s, st, input, entered, func(ctx context.Context, attempt int) (step, time.Time, *failure) {
		env := r.env(s, st, entered, attempt, "")
		eff, err := r.effectiveInput(env, st, input)
		if err == nil && st.QueryLanguage == asl.JSONPath && st.HasParameters {
			eff, err = env.Template(st.Parameters, eff)
		}
		if err != nil {
			return step{}, time.Time{}, r.evalFailure(ctx, s, st, entered, err)
		}
		if _, err := r.emit(ctx, s, Event{Type: ParallelStateStarted}); err != nil {
			return step{}, time.Time{}, &failure{abort: err}
		}
		results := make([]any, len(st.Branches))
		branchCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			first *failure
		)
		for i, b := range st.Branches {
			child := s.child(fmt.Sprintf("%s/b%d.%d", entered.Key, i, attempt))
			wg.Add(1)
			go func() {
				defer wg.Done()
				bctx, span := r.startScope(branchCtx, child, "branch", i)
				out, f := r.machine(bctx, child, b, asl.DeepCopy(eff))
				endState(span, f)
				if f != nil {
					mu.Lock()
					if first == nil || (first.abort != nil && f.err != nil) {
						first = f
					}
					mu.Unlock()
					if f.err != nil {
						cancel() // one failed branch stops the others
					}
					return
				}
				results[i] = out
			}()
		}
		wg.Wait()
		if first != nil {
			if first.abort != nil && ctx.Err() != nil {
				return step{}, time.Time{}, &failure{abort: ctx.Err()}
			}
			if first.err != nil {
				ev, err := r.emit(ctx, s, Event{Type: ParallelStateFailed, Error: first.err.Name, Cause: first.err.Cause})
				if err != nil {
					return step{}, time.Time{}, &failure{abort: err}
				}
				return step{}, ev.Timestamp, first
			}
			return step{}, time.Time{}, first
		}
		res, err := r.finish(env, st, input, results)
		if err != nil {
			return step{}, time.Time{}, r.evalFailure(ctx, s, st, entered, err)
		}
		return res, time.Time{}, nil
	})
}
