package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/async"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
	"github.com/hearth-sh/hearth/internal/state"
	"github.com/hearth-sh/hearth/sdk/go/abi"
)

// maxHostCallSpans is how many host calls of one invocation get a span of
// their own. A function that loops over state calls would otherwise give
// its trace one span per call (100,000 in a second), flooding the span
// exporter's queue, which then drops other traces' spans; and a span costs
// about as much as a cached state read. Calls past the limit still count in
// the store metrics.
const maxHostCallSpans = 100

// HostCall serves the capabilities a guest reaches through hearth.call:
// state (every function may use every store of the node) and publish. It
// implements wasm.HostCalls.
func (n *Node) HostCall(ctx context.Context, op string, input []byte) ([]byte, error) {
	if traceHostCall(ctx) {
		var span trace.Span
		ctx, span = n.tracing.Tracer.Start(ctx, "host "+op)
		defer span.End()
	}
	switch op {
	case abi.OpStateGet, abi.OpStateSet, abi.OpStateDelete, abi.OpStateBulkGet, abi.OpStateTransact, abi.OpStateList:
		call, err := abi.DecodeStateCall(input)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		res := n.stateCall(ctx, op, call)
		// Answer in the layout the guest's SDK wrote: older SDKs know only v1.
		return res.AppendBinaryVersion(nil, abi.StateVersion(input)), nil
	case abi.OpPublish:
		call, err := abi.DecodePublishCall(input)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		source := "hearth"
		if from, ok := wasm.CallFrom(ctx); ok {
			source = "hearth/functions/" + from.Function
		}
		// Data aliases guest memory, valid only during the call.
		id, err := n.async.Publish(ctx, call.Topic, bytes.Clone(call.Data), async.PublishOptions{Source: source,
			Type: call.Type, ContentType: call.ContentType, OrderingKey: call.OrderingKey})
		if err != nil {
			return nil, err
		}
		return []byte(id), nil
	}
	return nil, fmt.Errorf("unknown host operation %q", op)
}

// traceHostCall says whether a host call gets a span: only inside a trace
// that is being recorded (the span would be dropped anyway, after costing
// its allocation), and only for the first maxHostCallSpans calls under one
// parent span.
func traceHostCall(ctx context.Context) bool {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return false
	}
	// The SDK's spans count their children; other implementations trace
	// every call.
	counted, ok := parent.(interface{ ChildSpanCount() int })
	return !ok || counted.ChildSpanCount() < maxHostCallSpans
}

func (n *Node) stateCall(ctx context.Context, op string, c abi.StateCall) abi.StateResult {
	st, ok := n.stores.Store(c.Store)
	if !ok {
		return abi.StateResult{Error: &abi.StateError{Code: abi.StateErrStoreNotFound,
			Message: fmt.Sprintf("no state store %q on this node (stores: %v)", c.Store, n.stores.Names())}}
	}
	var res abi.StateResult
	var err error
	switch op {
	case abi.OpStateGet:
		var e state.Entry
		e, err = st.Get(ctx, c.Key)
		if errors.Is(err, state.ErrNotFound) {
			return res
		}
		res.Found, res.Value, res.ETag = err == nil, e.Value, e.ETag
	case abi.OpStateSet:
		// Values alias guest memory, valid only during the call; stores may keep them.
		res.ETag, err = st.Set(ctx, c.Key, bytes.Clone(c.Value), state.SetOptions{IfMatch: c.IfMatch, IfNoneMatch: c.IfNoneMatch,
			TTL: time.Duration(c.TTLMillis) * time.Millisecond})
	case abi.OpStateDelete:
		err = st.Delete(ctx, c.Key, state.DeleteOptions{IfMatch: c.IfMatch})
	case abi.OpStateBulkGet:
		var items []state.Item
		items, err = st.BulkGet(ctx, c.Keys)
		for _, it := range items {
			res.Items = append(res.Items, abi.StateItem{Key: it.Key, Found: it.Found, Value: it.Value, ETag: it.ETag})
		}
	case abi.OpStateTransact:
		ops := make([]state.Op, 0, len(c.Ops))
		for _, o := range c.Ops {
			kind := state.OpSet
			if o.Op == "delete" {
				kind = state.OpDelete
			} else if o.Op != "set" {
				return abi.StateResult{Error: &abi.StateError{Code: abi.StateErrInvalid, Message: fmt.Sprintf("transaction op %q: use set or delete", o.Op)}}
			}
			ops = append(ops, state.Op{Kind: kind, Key: o.Key, Value: bytes.Clone(o.Value), IfMatch: o.IfMatch, IfNoneMatch: o.IfNoneMatch,
				TTL: time.Duration(o.TTLMillis) * time.Millisecond})
		}
		err = st.Transact(ctx, ops)
	case abi.OpStateList:
		var page state.Page
		page, err = st.List(ctx, c.Prefix, c.Cursor, c.Limit)
		res.Keys, res.Cursor = page.Keys, page.Cursor
	}
	if err != nil {
		return abi.StateResult{Error: stateError(err)}
	}
	return res
}

func stateError(err error) *abi.StateError {
	code := abi.StateErrInternal
	switch {
	case errors.Is(err, state.ErrETagMismatch):
		code = abi.StateErrETagMismatch
	case errors.Is(err, state.ErrKeyExists):
		code = abi.StateErrKeyExists
	case errors.Is(err, state.ErrInvalidKey), errors.Is(err, state.ErrInvalidETag), errors.Is(err, state.ErrInvalidArgument):
		code = abi.StateErrInvalid
	case errors.Is(err, state.ErrTooLarge):
		code = abi.StateErrTooLarge
	case errors.Is(err, state.ErrUnavailable):
		code = abi.StateErrUnavailable
	}
	return &abi.StateError{Code: code, Message: err.Error()}
}
