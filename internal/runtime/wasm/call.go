package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/hearth-sh/hearth/internal/runtime"
)

var errResponseTooLarge = errors.New("response over the limit")

// call runs fn in the guest within the function's timeout and turns every
// way it can fail into an error wrapping one of runtime's sentinels.
//
// Spec.Timeout is enforced with the runtime's Clock (so tests drive it with
// a fake clock); ctx's own deadline and cancellation are enforced by wazero
// directly. Either way wazero closes the module: close-on-context-done.
func (i *instance) call(ctx context.Context, fn api.Function, stack []uint64) error {
	var fired atomic.Bool
	if d := i.spec.Timeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		timer := i.rt.clock.AfterFunc(d, func() {
			fired.Store(true)
			cancel()
		})
		defer func() {
			timer.Stop()
			cancel()
		}()
	}
	i.state.ctx = ctx
	err := fn.CallWithStack(ctx, stack)
	i.state.ctx = nil
	switch {
	case i.mem != nil && i.mem.exceeded:
		return fmt.Errorf("%w of %d MiB (memory.grow refused): raise --memory or make the function use less", runtime.ErrMemoryLimit, i.mem.limit>>20)
	case err == nil:
		return nil
	case fired.Load():
		return fmt.Errorf("%w: still running after %s and stopped", runtime.ErrTimeout, i.spec.Timeout)
	}
	return i.explain(ctx, err)
}

// explain classifies a failed call.
func (i *instance) explain(ctx context.Context, err error) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch code := exit.ExitCode(); code {
		case sys.ExitCodeDeadlineExceeded:
			return fmt.Errorf("%w: still running at the invocation's deadline and stopped", runtime.ErrTimeout)
		case sys.ExitCodeContextCanceled:
			return fmt.Errorf("invocation canceled and the function stopped: %w", context.Cause(ctx))
		default:
			return fmt.Errorf("%w: %w", runtime.ErrTrap, &guestExit{code: code, msg: i.withGuestMessage(fmt.Sprintf("the function exited with code %d", code))})
		}
	}
	trap := summarizeTrap(err)
	if crash := i.state.crash; crash != "" {
		// A Go panic ends in a trap inside the runtime; what the guest
		// printed says far more than where it trapped.
		return fmt.Errorf("%w: %s (%s)", runtime.ErrTrap, crash, trap)
	}
	return fmt.Errorf("%w: %s", runtime.ErrTrap, i.withGuestMessage(trap))
}

// guestExit is a guest's proc_exit: a crash for a reactor, the answer of a
// command.
type guestExit struct {
	code uint32
	msg  string
}

func (e *guestExit) Error() string { return e.msg }

func (i *instance) withGuestMessage(what string) string {
	if m := i.state.guestMessage(); m != "" {
		return what + ": " + m
	}
	return what
}

// summarizeTrap keeps wazero's first line ("wasm error: unreachable") and
// the innermost guest frames of its stack trace.
func summarizeTrap(err error) string {
	lines := strings.Split(err.Error(), "\n")
	out := lines[0]
	frames := 0
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "wasm stack trace") {
			continue
		}
		if frames == 3 {
			out += " ..."
			break
		}
		out += " at " + l
		frames++
		if frames < 3 {
			out += ";"
		}
	}
	return strings.TrimSuffix(out, ";")
}
