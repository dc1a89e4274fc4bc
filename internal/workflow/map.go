package workflow

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// mapSettings are a Map state's run-time limits.
type mapSettings struct {
	concurrency      int     // 0: unlimited
	toleratedCount   int     // -1: none set
	toleratedPercent float64 // -1: none set
}

func (r *run) mapState(ctx context.Context, s *scope, st *asl.State, input any, entered Event) (step, *failure) {
	if st.ItemReader != nil || st.ItemBatcher != nil || st.ResultWriter != nil {
		// These read from and write to S3; hearth has no S3 to offer.
		return step{}, fail(asl.Errorf(asl.ErrItemReaderFailed, "The Map state '%s' uses ItemReader, ItemBatcher or ResultWriter, which need AWS services that hearth does not provide", st.Name))
	}
	return r.withRetry(ctx, s, st, input, entered, func(ctx context.Context, attempt int) (step, time.Time, *failure) {
		env := r.env(s, st, entered, attempt, "")
		eff, err := r.effectiveInput(env, st, input)
		if err != nil {
			return step{}, time.Time{}, r.evalFailure(ctx, s, st, entered, err)
		}
		items, err := r.mapItems(env, st, eff)
		if err != nil {
			return step{}, time.Time{}, r.evalFailure(ctx, s, st, entered, err)
		}
		set, err := r.mapSettings(env, st, eff)
		if err != nil {
			return step{}, time.Time{}, r.evalFailure(ctx, s, st, entered, err)
		}
		if _, err := r.emit(ctx, s, Event{Type: MapStateStarted}); err != nil {
			return step{}, time.Time{}, &failure{abort: err}
		}
		distributed := st.ProcessorMode == asl.ModeDistributed
		if distributed {
			if _, err := r.emit(ctx, s, Event{Type: MapRunStarted}); err != nil {
				return step{}, time.Time{}, &failure{abort: err}
			}
		}
		results, f := r.iterate(ctx, s, st, entered, attempt, eff, items, set, distributed)
		if f != nil {
			if f.abort != nil {
				return step{}, time.Time{}, f
			}
			if distributed {
				if _, err := r.emit(ctx, s, Event{Type: MapRunFailed, Error: f.err.Name, Cause: f.err.Cause}); err != nil {
					return step{}, time.Time{}, &failure{abort: err}
				}
			}
			ev, err := r.emit(ctx, s, Event{Type: MapStateFailed, Error: f.err.Name, Cause: f.err.Cause})
			if err != nil {
				return step{}, time.Time{}, &failure{abort: err}
			}
			return step{}, ev.Timestamp, f
		}
		if distributed {
			if _, err := r.emit(ctx, s, Event{Type: MapRunSucceeded}); err != nil {
				return step{}, time.Time{}, &failure{abort: err}
			}
		}
		if _, err := r.emit(ctx, s, Event{Type: MapStateSucceeded}); err != nil {
			return step{}, time.Time{}, &failure{abort: err}
		}
		res, err := r.finish(env, st, input, results)
		if err != nil {
			return step{}, time.Time{}, r.evalFailure(ctx, s, st, entered, err)
		}
		return res, time.Time{}, nil
	})
}

// mapItems selects the array a Map state iterates over.
func (r *run) mapItems(env *asl.Env, st *asl.State, eff any) ([]any, error) {
	v := eff
	switch {
	case st.QueryLanguage == asl.JSONata && st.HasItems:
		var err error
		if v, err = env.Evaluate("Items", st.Items, asl.States{Input: eff}); err != nil {
			return nil, err
		}
	case st.QueryLanguage == asl.JSONPath && st.ItemsPath != "":
		var err error
		if v, err = env.Select("ItemsPath", st.ItemsPath, eff); err != nil {
			return nil, err
		}
	}
	items, ok := v.([]any)
	if !ok {
		return nil, asl.Errorf(asl.ErrRuntime, "The Map state's items must be a JSON array, got %s", mustJSON(v))
	}
	return items, nil
}

// mapSettings resolves MaxConcurrency and the tolerated failure thresholds
// in their literal, Path and JSONata forms.
func (r *run) mapSettings(env *asl.Env, st *asl.State, eff any) (mapSettings, error) {
	resolve := func(name string, v any, path string) (float64, bool, error) {
		switch {
		case path != "":
			sel, err := env.Select(name+"Path", path, eff)
			if err != nil {
				return 0, false, err
			}
			v = sel
		case v == nil:
			return 0, false, nil
		}
		if str, ok := v.(string); ok {
			if asl.IsExpression(str) {
				var err error
				if v, err = env.Expression(name, str, asl.States{Input: eff}); err != nil {
					return 0, false, err
				}
			} else if n, err := asl.DecodeJSON([]byte(str)); err == nil {
				v = n // a Path may select a number written as a string
			}
		}
		f, ok := asNumber(v)
		if !ok || f < 0 {
			return 0, false, asl.Errorf(asl.ErrRuntime, "The %s must be a non-negative number, got %s", name, mustJSON(v))
		}
		return f, true, nil
	}
	set := mapSettings{toleratedCount: -1, toleratedPercent: -1}
	c, _, err := resolve("MaxConcurrency", st.MaxConcurrency, st.MaxConcurrencyPath)
	if err != nil {
		return set, err
	}
	set.concurrency = int(c)
	if n, ok, err := resolve("ToleratedFailureCount", st.ToleratedFailureCount, st.ToleratedFailureCountPath); err != nil {
		return set, err
	} else if ok {
		set.toleratedCount = int(n)
	}
	if p, ok, err := resolve("ToleratedFailurePercentage", st.ToleratedFailurePercentage, st.ToleratedFailurePercentagePath); err != nil {
		return set, err
	} else if ok {
		set.toleratedPercent = p
	}
	return set, nil
}

// iterate runs the item processor once per item, at most set.concurrency at
// a time, and collects the results in item order.
func (r *run) iterate(ctx context.Context, s *scope, st *asl.State, entered Event, attempt int, eff any, items []any, set mapSettings, distributed bool) ([]any, *failure) {
	results := make([]any, len(items))
	iterCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	limit := set.concurrency
	if limit <= 0 || limit > len(items) {
		limit = len(items)
	}
	sem := make(chan struct{}, max(limit, 1))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures int
		first    *failure
		abort    *failure
	)
	tolerated := func() bool {
		if set.toleratedCount < 0 && set.toleratedPercent < 0 {
			return false
		}
		if set.toleratedCount >= 0 && failures > set.toleratedCount {
			return false
		}
		if set.toleratedPercent >= 0 && float64(failures)*100 > set.toleratedPercent*float64(len(items)) {
			return false
		}
		return true
	}
	for i, item := range items {
		select {
		case sem <- struct{}{}:
		case <-iterCtx.Done():
		}
		if iterCtx.Err() != nil {
			break
		}
		child := s.child(fmt.Sprintf("%s/i%d.%d", entered.Key, i, attempt))
		child.item = &mapItem{index: i, value: item}
		child.discard = s.discard || distributed
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ictx, span := r.startScope(iterCtx, child, "iteration", i)
			out, f := r.iteration(ictx, child, st, entered, i, eff, item)
			endState(span, f)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case f == nil:
				results[i] = out
			case f.abort != nil:
				if abort == nil {
					abort = f
				}
			default:
				failures++
				if first == nil {
					first = f
				}
				if !tolerated() {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, &failure{abort: ctx.Err()}
	}
	if first != nil && !tolerated() {
		if set.toleratedCount >= 0 || set.toleratedPercent >= 0 {
			return nil, fail(asl.Errorf(asl.ErrExceedToleratedFail, "The specified tolerated failure threshold was exceeded"))
		}
		return nil, first
	}
	if abort != nil {
		return nil, abort
	}
	return results, nil
}

// iteration runs one item through the processor with its own events.
func (r *run) iteration(ctx context.Context, s *scope, st *asl.State, entered Event, index int, eff, item any) (any, *failure) {
	idx := index
	if _, err := r.emit(ctx, s, Event{Type: MapIterationStarted, Name: st.Name, Index: &idx}); err != nil {
		return nil, &failure{abort: err}
	}
	env := r.env(s, st, entered, 0, "")
	input := item
	var err error
	switch {
	case st.HasItemSelector && st.QueryLanguage == asl.JSONata:
		input, err = env.Evaluate("ItemSelector", st.ItemSelector, asl.States{Input: eff})
	case st.HasItemSelector:
		input, err = env.Template(st.ItemSelector, eff)
	case st.HasParameters && st.QueryLanguage == asl.JSONPath:
		input, err = env.Template(st.Parameters, eff)
	}
	if err != nil {
		f := r.evalFailure(ctx, s, st, entered, err)
		return nil, f
	}
	out, f := r.machine(ctx, s, st.ItemProcessor, asl.DeepCopy(input))
	if f != nil {
		if f.err != nil {
			if _, err := r.emit(ctx, s, Event{Type: MapIterationFailed, Name: st.Name, Index: &idx, Error: f.err.Name, Cause: f.err.Cause}); err != nil {
				return nil, &failure{abort: err}
			}
		}
		return nil, f
	}
	if _, err := r.emit(ctx, s, Event{Type: MapIterationSucceeded, Name: st.Name, Index: &idx}); err != nil {
		return nil, &failure{abort: err}
	}
	return out, nil
}
