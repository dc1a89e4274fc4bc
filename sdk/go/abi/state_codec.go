package abi

import (
	"encoding/binary"
	"fmt"
)

// The state payloads are encoded by hand, not as JSON: encoding/json inside a
// Go guest costs about 100 µs per call under wazero's interruption checks,
// this codec about 2 µs (bench/stateguest measures both).
//
// Layout, little-endian: a version byte, then every field in declaration
// order; strings and byte slices are a u32 length and the bytes; slices are
// a u32 count and their elements; bools are one byte; integers are u64.

const stateCodecVersion = 1

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
}

func (d *dec) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("state payload truncated: need %d bytes, have %d: %w", n, len(d.b), ErrMalformed)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
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

func (d *dec) bytes() []byte {
	n := d.u32()
	v := d.take(n)
	if n == 0 {
		return nil
	}
	return v
}

func (d *dec) str() string { return string(d.bytes()) }
func (d *dec) bool() bool  { return d.u8() != 0 }

// count reads a slice length, refusing one that cannot fit the rest of the
// payload (each element takes at least min bytes), so a hostile length
// cannot make the reader allocate.
func (d *dec) count(min int) int {
	n := d.u32()
	if d.err == nil && n*min > len(d.b) {
		d.err = fmt.Errorf("state payload: %d elements cannot fit %d bytes: %w", n, len(d.b), ErrMalformed)
		return 0
	}
	return n
}

func (d *dec) version() {
	if v := d.u8(); d.err == nil && v != stateCodecVersion {
		d.err = fmt.Errorf("state payload version %d, want %d: %w", v, stateCodecVersion, ErrMalformed)
	}
}

func (d *dec) done() error {
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

// AppendBinary appends the encoded call to b.
func (c *StateCall) AppendBinary(b []byte) []byte {
	e := enc{b}
	e.u8(stateCodecVersion)
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

// DecodeStateCall reads an encoded call. Byte slices in the result alias b.
func DecodeStateCall(b []byte) (StateCall, error) {
	d := dec{b: b}
	d.version()
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

// AppendBinary appends the encoded result to b.
func (r *StateResult) AppendBinary(b []byte) []byte {
	e := enc{b}
	e.u8(stateCodecVersion)
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

// DecodeStateResult reads an encoded result. Byte slices in the result
// alias b.
func DecodeStateResult(b []byte) (StateResult, error) {
	d := dec{b: b}
	d.version()
	var r StateResult
	r.Found, r.Value, r.ETag = d.bool(), d.bytes(), d.str()
	if n := d.count(4 + 1 + 4 + 4); n > 0 {
		r.Items = make([]StateItem, n)
		for i := range r.Items {
			r.Items[i] = StateItem{Key: d.str(), Found: d.bool(), Value: d.bytes(), ETag: d.str()}
		}
	}
	if n := d.count(4); n > 0 {
		r.Keys = make([]string, n)
		for i := range r.Keys {
			r.Keys[i] = d.str()
		}
	}
	r.Cursor = d.str()
	if d.bool() {
		r.Error = &StateError{Code: d.str(), Message: d.str()}
	}
	return r, d.done()
}
