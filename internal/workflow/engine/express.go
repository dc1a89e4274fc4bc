package engine

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// startExpress runs an EXPRESS execution in memory. Nothing of it is
// stored: a crash loses it, and the caller (who got no result) starts it
// again, which makes EXPRESS at-least-once.
func (e *Engine) startExpress(rec *Execution, machine *asl.Machine, input any, parent trace.SpanContext) (*Execution, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if old, ok := e.expressRecs[rec.ARN]; ok {
		if string(old.Input) == string(rec.Input) {
			cp := *old
			return &cp, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrExecutionExists, rec.ARN)
	}
	e.expressRecs[rec.ARN] = rec
	ctx, cancel := context.WithCancelCause(e.ctx)
	runCtx := ctx
	if parent.IsValid() {
		runCtx = trace.ContextWithSpanContext(ctx, parent)
	}
	a := &activeExec{cancel: cancel, done: make(chan struct{})}
	e.active[rec.ARN] = a
	e.notify()
	exec := e.execution(rec, machine)
	exec.Input = input
	cp := *rec
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(a.done)
		defer cancel(nil)
		res, err := e.express.Run(runCtx, exec, nil)
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.active, rec.ARN)
		e.notify()
		if err != nil {
			// Closing: the execution is lost, as EXPRESS executions are.
			delete(e.expressRecs, rec.ARN)
			return
		}
		done := *rec
		applyResult(&done, res, e.clk.Now())
		e.metrics.executionFinished(&done)
		e.expressRecs[rec.ARN] = &done
		e.expressHist[rec.ARN] = res.History
		e.expressDone = append(e.expressDone, rec.ARN)
		for len(e.expressDone) > e.opts.ExpressRetain {
			old := e.expressDone[0]
			e.expressDone = e.expressDone[1:]
			delete(e.expressRecs, old)
			delete(e.expressHist, old)
		}
	}()
	return &cp, nil
}
