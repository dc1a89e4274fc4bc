package abi

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// The state payloads are encoded by hand, not as JSON: encoding/json inside a
// Go guest costs about 100 µs per call under wazero's interruption checks
// (bench/stateguest measures the codec).
//
// Two layouts exist, told apart by their first byte (docs/abi.md). Version 1,
// little-endian: every field in declaration order; strings and byte slices
// are a u32 length and the bytes; slices are a u32 count and their elements;
// bools are one byte; integers are u64. Version 2 (state_codec_v2.go) writes
// only the fields that are set, behind a byte of flags, and is what this
// package writes by default. Decoders read both, and the node answers a call
// in the version it came in, so guests built with an older SDK keep working.

// Versions of the state payloads.
const (
	StateCodecV1 byte = 1
	StateCodecV2 byte = 2
	// StateCodecVersion is the version AppendBinary writes.
	StateCodecVersion = StateCodecV2
)

// publishCodecVersion is the version byte of publish payloads, which have
// one layout (v1 conventions).
const publishCodecVersion = 1

type enc struct{ b []byte }

func (e *enc) u8(v byte)      { e.b = append(e.b, v) }
func (e *enc) u32(v int)      { e.b = binary.LittleEndian.AppendUint32(e.b, uint32(v)) }
func (e *enc) u64(v int64)    { e.b = binary.LittleEndian.AppendUint64(e.b, uint64(v)) }
func (e *enc) bytes(v []byte) { e.u32(len(v)); e.b = append(e.b, v...) }
func (e *enc) str(v string)   { e.u32(len(v)); e.b = append(e.b, v...) }
func (e *enc) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

type dec struct {
	b   []byte
	err error
	// short is set by the first read past the end (the failure is recorded
	// without a call, see take); need and have describe it.
	short      bool
	need, have int
}

// The readers are kept small enough to inline: in a Go guest under wazero's
// interruption checks every call that is not inlined costs about a tenth of
// a microsecond, and a payload is read a few bytes at a time. A read past
// the end empties d.b, so every later read fails too and returns zero
// values; done reports the first error.

// take returns the next n bytes.
func (d *dec) take(n int) (v []byte) {
	if uint(n) <= uint(len(d.b)) {
		v, d.b = d.b[:n:n], d.b[n:]
		return v
	}
	d.short, d.need, d.have, d.b = true, n, len(d.b), nil
	return nil
}

func (d *dec) u8() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *dec) u32() int {
	if v := d.take(4); v != nil {
		return int(binary.LittleEndian.Uint32(v))
	}
	return 0
}

func (d *dec) u64() int64 {
	if v := d.take(8); v != nil {
		return int64(binary.LittleEndian.Uint64(v))
	}
	return 0
}

// bytes reads a u32 length and that many bytes (nil for none).
func (d *dec) bytes() []byte {
	if v := d.take(d.u32()); len(v) > 0 {
		return v
	}
	return nil
}

func (d *dec) str() string { return string(d.bytes()) }

// view reads a string that aliases the payload instead of copying it: for
// results, whose buffer the guest allocates for the answer and never
// changes, it saves an allocation per string.
func (d *dec) view() string {
	b := d.bytes()
	return unsafe.String(unsafe.SliceData(b), len(b))
}
func (d *dec) bool() bool { return d.u8() != 0 }

// count reads a slice length, refusing one that cannot fit the rest of the
// payload (each element takes at least min bytes), so a hostile length
// cannot make the reader allocate.
func (d *dec) count(min int) int {
	n := d.u32()
	if n*min > len(d.b) {
		d.fail(fmt.Errorf("state payload: %d elements cannot fit %d bytes: %w", n, len(d.b), ErrMalformed))
		return 0
	}
	return n
}

// version reads the version byte and checks that it is from lo to hi.
// (Not variadic: the slice would escape into the error and cost every
// decode an allocation.)
func (d *dec) version(lo, hi byte) byte {
	v := d.u8()
	if !d.failed() && (v < lo || v > hi) {
		d.fail(fmt.Errorf("state payload version %d, want %d to %d: %w", v, lo, hi, ErrMalformed))
	}
	return v
}

// fail records err unless an error came first, and empties d.b so that
// nothing more is read.
func (d *dec) fail(err error) {
	if !d.failed() {
		d.err = err
	}
	d.b = nil
}

// failed reports whether a read or check has failed so far.
func (d *dec) failed() bool { return d.err != nil || d.short }

func (d *dec) done() error {
	if d.err == nil && d.short {
		d.err = fmt.Errorf("state payload truncated: need %d bytes, have %d: %w", d.need, d.have, ErrMalformed)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("state payload: %d trailing bytes: %w", len(d.b), ErrMalformed)
	}
	return d.err
}

func (o *StateOp) encode(e *enc) {
	e.str(o.Op)
	e.str(o.Key)
	e.bytes(o.Value)
	e.str(o.IfMatch)
	e.bool(o.IfNoneMatch)
	e.u64(o.TTLMillis)
}

func (o *StateOp) decode(d *dec) {
	o.Op, o.Key, o.Value, o.IfMatch = d.str(), d.str(), d.bytes(), d.str()
	o.IfNoneMatch, o.TTLMillis = d.bool(), d.u64()
}

// AppendBinary appends the call to b in StateCodecVersion's layout.
func (c *StateCall) AppendBinary(b []byte) []byte { return c.AppendBinaryVersion(b, StateCodecVersion) }

// AppendBinaryVersion appends the call to b in the layout of version (1 or
// 2; anything else is 2).
func (c *StateCall) AppendBinaryVersion(b []byte, version byte) []byte {
	if version != StateCodecV1 {
		return c.appendV2(b)
	}
	e := enc{b}
	e.u8(StateCodecV1)
	e.str(c.Store)
	e.str(c.Key)
	e.u32(len(c.Keys))
	for _, k := range c.Keys {
		e.str(k)
	}
	e.bytes(c.Value)
	e.str(c.IfMatch)
	e.bool(c.IfNoneMatch)
	e.u64(c.TTLMillis)
	e.u32(len(c.Ops))
	for i := range c.Ops {
		c.Ops[i].encode(&e)
	}
	e.str(c.Prefix)
	e.str(c.Cursor)
	e.u64(int64(c.Limit))
	return e.b
}

// DecodeStateCall reads an encoded call of either version (StateVersion
// says which). Byte slices in the result alias b.
func DecodeStateCall(b []byte) (StateCall, error) {
	d := dec{b: b}
	if d.version(StateCodecV1, StateCodecV2) == StateCodecV2 {
		return decodeCallV2(&d)
	}
	var c StateCall
	c.Store, c.Key = d.str(), d.str()
	if n := d.count(4); n > 0 {
		c.Keys = make([]string, n)
		for i := range c.Keys {
			c.Keys[i] = d.str()
		}
	}
	c.Value, c.IfMatch, c.IfNoneMatch, c.TTLMillis = d.bytes(), d.str(), d.bool(), d.u64()
	if n := d.count(4*4 + 9); n > 0 {
		c.Ops = make([]StateOp, n)
		for i := range c.Ops {
			c.Ops[i].decode(&d)
		}
	}
	c.Prefix, c.Cursor, c.Limit = d.str(), d.str(), int(d.u64())
	return c, d.done()
}

// AppendBinary appends the result to b in StateCodecVersion's layout.
func (r *StateResult) AppendBinary(b []byte) []byte {
	return r.AppendBinaryVersion(b, StateCodecVersion)
}

// AppendBinaryVersion appends the result to b in the layout of version (1
// or 2; anything else is 2): the node answers in the version of the call.
func (r *StateResult) AppendBinaryVersion(b []byte, version byte) []byte {
	if version != StateCodecV1 {
		return r.appendV2(b)
	}
	e := enc{b}
	e.u8(StateCodecV1)
	e.bool(r.Found)
	e.bytes(r.Value)
	e.str(r.ETag)
	e.u32(len(r.Items))
	for _, it := range r.Items {
		e.str(it.Key)
		e.bool(it.Found)
		e.bytes(it.Value)
		e.str(it.ETag)
	}
	e.u32(len(r.Keys))
	for _, k := range r.Keys {
		e.str(k)
	}
	e.str(r.Cursor)
	e.bool(r.Error != nil)
	if r.Error != nil {
		e.str(r.Error.Code)
		e.str(r.Error.Message)
	}
	return e.b
}

// DecodeStateResult reads an encoded result of either version. Byte
// slices and strings in the result alias b, which must not change
// afterwards.
func DecodeStateResult(b []byte) (StateResult, error) {
	d := dec{b: b}
	if d.version(StateCodecV1, StateCodecV2) == StateCodecV2 {
		return decodeResultV2(&d)
	}
	var r StateResult
	r.Found, r.Value, r.ETag = d.bool(), d.bytes(), d.view()
	if n := d.count(4 + 1 + 4 + 4); n > 0 {
		r.Items = make([]StateItem, n)
		for i := range r.Items {
			r.Items[i] = StateItem{Key: d.view(), Found: d.bool(), Value: d.bytes(), ETag: d.view()}
		}
	}
	if n := d.count(4); n > 0 {
		r.Keys = make([]string, n)
		for i := range r.Keys {
			r.Keys[i] = d.view()
		}
	}
	r.Cursor = d.view()
	if d.bool() {
		r.Error = &StateError{Code: d.view(), Message: d.view()}
	}
	return r, d.done()
}

// StateVersion returns the version byte of an encoded state payload (0 for
// an empty one); DecodeStateCall checks it.
func StateVersion(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}
