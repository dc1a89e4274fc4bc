package process

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// Instance is one execution environment: a guest process and its Runtime
// API. It serves one invocation at a time.
//
// # Notes
//
// As in Lambda, a runtime may exit after reporting an error (aws-lambda-go
// does after a panic) or between invocations: the next Invoke then starts a
// new process in the same instance before handing over its event, so a
// handled error never costs the caller more than a cold start. A process
// that dies or overruns during an invocation makes Invoke fail; the
// instance is then broken and the pool replaces it.
type Instance struct {
	t *Template

	mu sync.Mutex // one Invoke at a time; guards p
	p  *proc
}

var _ runtime.Instance = (*Instance)(nil)

// Invoke hands req.Body to the guest as its event and waits for its answer.
// A function error comes back in Response.Error (with the Lambda error
// document as Body). The errors wrap runtime.ErrTimeout (the process was
// killed), runtime.ErrTrap (it exited or broke the protocol),
// runtime.ErrMemoryLimit, runtime.ErrResponseTooLarge or runtime.ErrInit (a
// restart after an exit failed).
func (in *Instance) Invoke(ctx context.Context, req runtime.Request) (runtime.Response, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.p == nil {
		return runtime.Response{}, errors.New("invoke on a closed instance")
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = in.t.rt.clock.Now().Add(in.t.spec.Timeout)
	}
	inv := &invocation{req: req, deadline: deadline, done: make(chan outcome, 1)}
	id := req.ID
	var p *proc
	// A process that exits before it takes the event (a runtime that exits
	// after reporting an error does so a moment after its report) never
	// saw it: restart it and hand the event to the new one. A new process
	// that exits too is a failure.
	for handed := false; !handed; {
		if in.p.dead() {
			if err := in.restart(ctx); err != nil {
				return runtime.Response{}, err
			}
		}
		p = in.p
		p.requestID.Store(&id)
		select {
		case p.next <- inv:
			handed = true
		case <-p.exited:
			if !p.servedOne() {
				return runtime.Response{}, p.crashError()
			}
		case <-ctx.Done():
			return runtime.Response{}, in.interrupted(ctx)
		}
	}
	select {
	case o := <-inv.done:
		return o.resp, o.err
	case <-p.exited:
		// An answer that raced with the exit still counts.
		select {
		case o := <-inv.done:
			return o.resp, o.err
		default:
		}
		return runtime.Response{}, p.crashError()
	case <-ctx.Done():
		return runtime.Response{}, in.interrupted(ctx)
	}
}

// interrupted kills the process of an invocation that ran out of time or
// was abandoned, and says which.
func (in *Instance) interrupted(ctx context.Context) error {
	in.p.kill()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w after %s: the process was killed", runtime.ErrTimeout, in.t.spec.Timeout)
	}
	return fmt.Errorf("invocation abandoned, the process was killed: %w", ctx.Err())
}

// restart replaces a process that exited between invocations.
func (in *Instance) restart(ctx context.Context) error {
	desc := in.p.exitDescription()
	_ = in.p.close(ctx)
	p, _, err := in.t.start(ctx)
	if err != nil {
		in.p = nil
		return fmt.Errorf("restart after the process %s between invocations: %w", desc, err)
	}
	in.p = p
	return nil
}

// Close kills the instance's process and everything it started, and waits
// for them.
func (in *Instance) Close(ctx context.Context) error {
	in.mu.Lock()
	p := in.p
	in.p = nil
	in.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.close(ctx)
}
