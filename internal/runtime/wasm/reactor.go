package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/sdk/go/abi"
)

var errClosed = errors.New("instance closed")

// reactorInstance is a live module that serves invocations through
// hearth_alloc and hearth_handle (docs/abi.md).
type reactorInstance struct {
	*instance
	// stack is reused by every guest call so the warm path allocates nothing
	// for arguments and results.
	stack [2]uint64
	// served counts invocations since the last reset (recycle mode).
	served int
	// inbox and inboxCap locate the request buffer the guest gave with
	// hearth_alloc: the host reuses it until a request does not fit, so the
	// warm path makes one call into the guest, not two.
	inbox, inboxCap uint32
}

// Invoke writes the request envelope into guest memory, runs the handler and
// reads the response envelope back. Any error leaves the instance broken.
func (i *reactorInstance) Invoke(ctx context.Context, req runtime.Request) (runtime.Response, error) {
	if i.broken != nil {
		return runtime.Response{}, fmt.Errorf("invoke %s: instance unusable: %w", i.spec.Name, i.broken)
	}
	if i.t.recycle && i.served > 0 {
		if err := i.recycle(ctx); err != nil {
			i.broken = err
			return runtime.Response{}, fmt.Errorf("invoke %s: %w", i.spec.Name, err)
		}
	}
	i.served++
	i.state.begin(req.ID)
	resp, err := i.invoke(ctx, req)
	i.state.end()
	if err != nil {
		i.broken = err
		return runtime.Response{}, fmt.Errorf("invoke %s: %w", i.spec.Name, err)
	}
	return resp, nil
}

func (i *reactorInstance) invoke(ctx context.Context, req runtime.Request) (runtime.Response, error) {
	env := abi.Request{ID: req.ID, Method: req.Method, Path: req.Path, Query: req.Query, Headers: req.Headers, Body: req.Body}
	size := env.Size()
	if size > math.MaxUint32 {
		return runtime.Response{}, fmt.Errorf("request of %d bytes does not fit a 32-bit guest", size)
	}
	if uint32(size) > i.inboxCap || i.inbox == 0 {
		// Grow by half again so that slowly growing requests do not call
		// hearth_alloc each time.
		want := max(uint32(size), i.inboxCap+i.inboxCap/2, 4096)
		i.stack[0] = uint64(want)
		if err := i.call(ctx, i.alloc, i.stack[:]); err != nil {
			return runtime.Response{}, err
		}
		i.inbox, i.inboxCap = uint32(i.stack[0]), want
	}
	ptr := i.inbox
	buf, ok := i.mod.Memory().Read(ptr, uint32(size))
	if ptr == 0 || !ok {
		return runtime.Response{}, fmt.Errorf("%w: %s(%d) returned %d, not a buffer inside guest memory", runtime.ErrTrap, exportAlloc, i.inboxCap, ptr)
	}
	env.Encode(buf)

	i.stack[0], i.stack[1] = uint64(ptr), uint64(size)
	if err := i.call(ctx, i.handle, i.stack[:]); err != nil {
		return runtime.Response{}, err
	}
	rptr, rlen := uint32(i.stack[0]>>32), uint32(i.stack[0])
	if lim := i.spec.MaxResponseBytes; lim > 0 && int64(rlen)-abi.ResponseHeaderSize > lim {
		return runtime.Response{}, fmt.Errorf("%w: %d bytes, limit %d", runtime.ErrResponseTooLarge, int64(rlen)-abi.ResponseHeaderSize, lim)
	}
	view, ok := i.mod.Memory().Read(rptr, rlen)
	if !ok {
		return runtime.Response{}, fmt.Errorf("%w: %s returned a response at [%d, %d), outside guest memory", runtime.ErrTrap, exportHandle, rptr, uint64(rptr)+uint64(rlen))
	}
	out, err := abi.DecodeResponse(view)
	if err != nil {
		return runtime.Response{}, fmt.Errorf("%w: %s returned a malformed response: %v", runtime.ErrTrap, exportHandle, err)
	}
	// The body lives in guest memory, which the next call reuses.
	resp := runtime.Response{Status: out.Status, Headers: out.Headers, Body: bytes.Clone(out.Body)}
	if resp.Status == 0 {
		resp.Status = 200
	}
	if out.ErrorType != "" {
		resp.Error = &runtime.FunctionError{Type: out.ErrorType, Message: out.ErrorMessage}
	}
	return resp, nil
}

// recycle resets the instance to the snapshot, or restores a new one in its
// place when the memory grew past the image (wasm memory never shrinks).
func (i *reactorInstance) recycle(ctx context.Context) error {
	start := i.rt.clock.Now()
	defer func() {
		i.t.resets.Add(1)
		i.t.resetNanos.Add(int64(i.rt.clock.Now().Sub(start)))
	}()
	ok, pages, err := i.t.snap.reset(i.mod, i.mem)
	i.t.resetPages.Add(int64(pages))
	if err != nil {
		return fmt.Errorf("reset to snapshot: %w", err)
	}
	if !ok {
		fresh, _, err := i.t.Spawn(ctx)
		if err != nil {
			return fmt.Errorf("restore a fresh instance: %w", err)
		}
		_ = i.instance.Close(ctx)
		*i = *fresh.(*reactorInstance)
	}
	i.served = 0
	// The guest's request buffer is part of the reset memory, but the
	// host's note of it must go: the reset image may predate it.
	i.inbox, i.inboxCap = 0, 0
	return nil
}
