package hearth

import (
	"errors"
	"fmt"
	"time"

	"github.com/hearth-sh/hearth/sdk/go/abi"
)

// Errors of state operations; check them with errors.Is.
var (
	// ErrConflict: an IfMatch condition failed (the key changed since it was
	// read). Read again and retry.
	ErrConflict = errors.New("state: etag mismatch")
	// ErrExists: a create-only write (IfNoneMatch) found the key.
	ErrExists = errors.New("state: key exists")
	// ErrNoStore: the node has no store of that name.
	ErrNoStore = errors.New("state: no such store")
	// ErrStateUnavailable: the store's backend cannot be reached right now.
	ErrStateUnavailable = errors.New("state: store unavailable")
)

// Store is a named key/value state store of the node. Get one with
// Context.State; the node's "default" store always exists.
//
//	orders := ctx.State("default")
//	v, etag, found, err := orders.Get("order/42")
//	_, err = orders.Set("order/42", newValue, hearth.IfMatch(etag))
//	if errors.Is(err, hearth.ErrConflict) { /* read again and retry */ }
type Store struct{ name string }

// State returns the store with the given name.
func (c Context) State(store string) *Store { return &Store{name: store} }

// SetOption is a condition or expiry of a Set, Delete or transaction op.
type SetOption func(*abi.StateOp)

// IfMatch makes a write happen only if the key still has etag.
func IfMatch(etag string) SetOption { return func(o *abi.StateOp) { o.IfMatch = etag } }

// IfNoneMatch makes a write create-only.
func IfNoneMatch() SetOption { return func(o *abi.StateOp) { o.IfNoneMatch = true } }

// TTL makes the key expire after d.
func TTL(d time.Duration) SetOption { return func(o *abi.StateOp) { o.TTLMillis = d.Milliseconds() } }

func (s *Store) call(op string, c abi.StateCall) (abi.StateResult, error) {
	c.Store = s.name
	in := c.AppendBinary(takeCallBuf())
	out, err := hostCall(op, in)
	putCallBuf(in)
	if err != nil {
		return abi.StateResult{}, err
	}
	return s.result(op, out)
}

// result decodes a state answer and turns its error into a Go error.
func (s *Store) result(op string, out []byte) (abi.StateResult, error) {
	res, err := abi.DecodeStateResult(out)
	if err != nil {
		return abi.StateResult{}, fmt.Errorf("%s: malformed answer: %w", op, err)
	}
	if e := res.Error; e != nil {
		var kind error
		switch e.Code {
		case abi.StateErrETagMismatch:
			kind = ErrConflict
		case abi.StateErrKeyExists:
			kind = ErrExists
		case abi.StateErrStoreNotFound:
			kind = ErrNoStore
		case abi.StateErrUnavailable:
			kind = ErrStateUnavailable
		default:
			return res, fmt.Errorf("%s %s: %s", op, s.name, e.Message)
		}
		return res, fmt.Errorf("%s %s: %s: %w", op, s.name, e.Message, kind)
	}
	return res, nil
}

// Get reads key. found is false (with a nil error) when the key is absent.
func (s *Store) Get(key string) (value []byte, etag string, found bool, err error) {
	// Get and Set skip the general encoder and decoder (and their structs):
	// inside a Go guest under wazero's interruption checks each function
	// call that is not inlined costs a few tenths of a microsecond, which
	// is most of a cached read (docs/bench-state.md).
	in := abi.AppendGetCall(takeCallBuf(), s.name, key)
	out, err := hostCall(abi.OpStateGet, in)
	putCallBuf(in)
	if err != nil {
		return nil, "", false, err
	}
	if value, etag, found, ok := abi.DecodeEntryResult(out); ok {
		return value, etag, found, nil
	}
	res, err := s.result(abi.OpStateGet, out)
	return res.Value, res.ETag, res.Found, err
}

// Set writes key and returns its new ETag.
func (s *Store) Set(key string, value []byte, opts ...SetOption) (etag string, err error) {
	var o abi.StateOp
	for _, f := range opts {
		f(&o)
	}
	in := abi.AppendSetCall(takeCallBuf(), s.name, key, value, o.IfMatch, o.IfNoneMatch, o.TTLMillis)
	out, err := hostCall(abi.OpStateSet, in)
	putCallBuf(in)
	if err != nil {
		return "", err
	}
	if _, etag, _, ok := abi.DecodeEntryResult(out); ok {
		return etag, nil
	}
	res, err := s.result(abi.OpStateSet, out)
	return res.ETag, err
}

// Delete removes key; with IfMatch only if it still has that ETag.
func (s *Store) Delete(key string, opts ...SetOption) error {
	var o abi.StateOp
	for _, f := range opts {
		f(&o)
	}
	_, err := s.call(abi.OpStateDelete, abi.StateCall{Key: key, IfMatch: o.IfMatch})
	return err
}

// Item is one result of BulkGet.
type Item struct {
	Key   string
	Found bool
	Value []byte
	ETag  string
}

// BulkGet reads several keys (each on its own; not a snapshot).
func (s *Store) BulkGet(keys ...string) ([]Item, error) {
	res, err := s.call(abi.OpStateBulkGet, abi.StateCall{Keys: keys})
	items := make([]Item, len(res.Items))
	for i, it := range res.Items {
		items[i] = Item{Key: it.Key, Found: it.Found, Value: it.Value, ETag: it.ETag}
	}
	return items, err
}

// Op is one operation of a transaction.
type Op struct{ op abi.StateOp }

// SetOp writes key in a transaction.
func SetOp(key string, value []byte, opts ...SetOption) Op {
	o := abi.StateOp{Op: "set", Key: key, Value: value}
	for _, f := range opts {
		f(&o)
	}
	return Op{o}
}

// DeleteOp removes key in a transaction.
func DeleteOp(key string, opts ...SetOption) Op {
	o := abi.StateOp{Op: "delete", Key: key}
	for _, f := range opts {
		f(&o)
	}
	return Op{o}
}

// Transact applies every op or none; a failed condition on any op
// (ErrConflict, ErrExists) leaves the store unchanged.
func (s *Store) Transact(ops ...Op) error {
	c := abi.StateCall{Ops: make([]abi.StateOp, len(ops))}
	for i, o := range ops {
		c.Ops[i] = o.op
	}
	_, err := s.call(abi.OpStateTransact, c)
	return err
}

// List returns up to limit keys with prefix after cursor, and the cursor of
// the next page ("" on the last).
func (s *Store) List(prefix, cursor string, limit int) (keys []string, next string, err error) {
	res, err := s.call(abi.OpStateList, abi.StateCall{Prefix: prefix, Cursor: cursor, Limit: limit})
	return res.Keys, res.Cursor, err
}
