package abi

import (
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"
)

// Version 2 of the state payloads: a version byte, a byte of flags saying
// which fields follow, then the store and key (calls) and only the fields
// whose flag is set, in the order of the flags below, each in version 1's
// encoding. A Get is then the store and key alone, and its answer the
// value and ETag alone. The encoders size the buffer first and allocate once:
// in a Go guest under wazero's interruption checks every allocation and
// call counts (docs/bench-state.md).

// Flags of a version 2 call.
const (
	callKeys        = 1 << iota // u32 count, then each key
	callValue                   // bytes
	callIfMatch                 // string
	callIfNoneMatch             // no bytes: the flag is the value
	callTTL                     // u64 milliseconds
	callOps                     // u32 count, then each op (StateOp's layout)
	callList                    // prefix, cursor, u64 limit
	callAllFlags    = callList<<1 - 1
)

// Flags of a version 2 result.
const (
	resFound    = 1 << iota // no bytes: the flag is the value
	resValue                // bytes
	resETag                 // string
	resItems                // u32 count, then key, found byte, value, etag
	resKeys                 // u32 count, then each key
	resCursor               // string
	resError                // code, message
	resAllFlags = resError<<1 - 1
)

func (o *StateOp) size() int {
	return 4 + len(o.Op) + 4 + len(o.Key) + 4 + len(o.Value) + 4 + len(o.IfMatch) + 1 + 8
}

func (c *StateCall) appendV2(b []byte) []byte {
	var flags byte
	size := 2 + 4 + len(c.Store) + 4 + len(c.Key)
	if len(c.Keys) > 0 {
		flags |= callKeys
		size += 4 + 4*len(c.Keys)
		for _, k := range c.Keys {
			size += len(k)
		}
	}
	if len(c.Value) > 0 {
		flags |= callValue
		size += 4 + len(c.Value)
	}
	if c.IfMatch != "" {
		flags |= callIfMatch
		size += 4 + len(c.IfMatch)
	}
	if c.IfNoneMatch {
		flags |= callIfNoneMatch
	}
	if c.TTLMillis != 0 {
		flags |= callTTL
		size += 8
	}
	if len(c.Ops) > 0 {
		flags |= callOps
		size += 4
		for i := range c.Ops {
			size += c.Ops[i].size()
		}
	}
	if c.Prefix != "" || c.Cursor != "" || c.Limit != 0 {
		flags |= callList
		size += 4 + len(c.Prefix) + 4 + len(c.Cursor) + 8
	}
	e := enc{slices.Grow(b, size)}
	e.u8(StateCodecV2)
	e.u8(flags)
	e.str(c.Store)
	e.str(c.Key)
	if flags&callKeys != 0 {
		e.u32(len(c.Keys))
		for _, k := range c.Keys {
			e.str(k)
		}
	}
	if flags&callValue != 0 {
		e.bytes(c.Value)
	}
	if flags&callIfMatch != 0 {
		e.str(c.IfMatch)
	}
	if flags&callTTL != 0 {
		e.u64(c.TTLMillis)
	}
	if flags&callOps != 0 {
		e.u32(len(c.Ops))
		for i := range c.Ops {
			c.Ops[i].encode(&e)
		}
	}
	if flags&callList != 0 {
		e.str(c.Prefix)
		e.str(c.Cursor)
		e.u64(int64(c.Limit))
	}
	return e.b
}

// decodeCallV2 reads the rest of a version 2 call after its version byte.
func decodeCallV2(d *dec) (StateCall, error) {
	flags := d.u8()
	if flags&^callAllFlags != 0 {
		d.fail(fmt.Errorf("state call: unknown flags %#x: %w", flags&^callAllFlags, ErrMalformed))
	}
	var c StateCall
	c.Store, c.Key = d.str(), d.str()
	if flags&callKeys != 0 {
		if n := d.count(4); n > 0 {
			c.Keys = make([]string, n)
			for i := range c.Keys {
				c.Keys[i] = d.str()
			}
		}
	}
	if flags&callValue != 0 {
		c.Value = d.bytes()
	}
	if flags&callIfMatch != 0 {
		c.IfMatch = d.str()
	}
	c.IfNoneMatch = flags&callIfNoneMatch != 0
	if flags&callTTL != 0 {
		c.TTLMillis = d.u64()
	}
	if flags&callOps != 0 {
		if n := d.count(4*4 + 9); n > 0 {
			c.Ops = make([]StateOp, n)
			for i := range c.Ops {
				c.Ops[i].decode(d)
			}
		}
	}
	if flags&callList != 0 {
		c.Prefix, c.Cursor, c.Limit = d.str(), d.str(), int(d.u64())
	}
	return c, d.done()
}

func (r *StateResult) appendV2(b []byte) []byte {
	var flags byte
	size := 2
	if r.Found {
		flags |= resFound
	}
	if len(r.Value) > 0 {
		flags |= resValue
		size += 4 + len(r.Value)
	}
	if r.ETag != "" {
		flags |= resETag
		size += 4 + len(r.ETag)
	}
	if len(r.Items) > 0 {
		flags |= resItems
		size += 4
		for _, it := range r.Items {
			size += 4 + len(it.Key) + 1 + 4 + len(it.Value) + 4 + len(it.ETag)
		}
	}
	if len(r.Keys) > 0 {
		flags |= resKeys
		size += 4 + 4*len(r.Keys)
		for _, k := range r.Keys {
			size += len(k)
		}
	}
	if r.Cursor != "" {
		flags |= resCursor
		size += 4 + len(r.Cursor)
	}
	if r.Error != nil {
		flags |= resError
		size += 4 + len(r.Error.Code) + 4 + len(r.Error.Message)
	}
	e := enc{slices.Grow(b, size)}
	e.u8(StateCodecV2)
	e.u8(flags)
	if flags&resValue != 0 {
		e.bytes(r.Value)
	}
	if flags&resETag != 0 {
		e.str(r.ETag)
	}
	if flags&resItems != 0 {
		e.u32(len(r.Items))
		for _, it := range r.Items {
			e.str(it.Key)
			e.bool(it.Found)
			e.bytes(it.Value)
			e.str(it.ETag)
		}
	}
	if flags&resKeys != 0 {
		e.u32(len(r.Keys))
		for _, k := range r.Keys {
			e.str(k)
		}
	}
	if flags&resCursor != 0 {
		e.str(r.Cursor)
	}
	if flags&resError != 0 {
		e.str(r.Error.Code)
		e.str(r.Error.Message)
	}
	return e.b
}

// decodeResultV2 reads the rest of a version 2 result after its version
// byte.
func decodeResultV2(d *dec) (StateResult, error) {
	flags := d.u8()
	if flags&^resAllFlags != 0 {
		d.fail(fmt.Errorf("state result: unknown flags %#x: %w", flags&^resAllFlags, ErrMalformed))
	}
	var r StateResult
	r.Found = flags&resFound != 0
	if flags&resValue != 0 {
		r.Value = d.bytes()
	}
	if flags&resETag != 0 {
		r.ETag = d.view()
	}
	if flags&resItems != 0 {
		if n := d.count(4 + 1 + 4 + 4); n > 0 {
			r.Items = make([]StateItem, n)
			for i := range r.Items {
				r.Items[i] = StateItem{Key: d.view(), Found: d.bool(), Value: d.bytes(), ETag: d.view()}
			}
		}
	}
	if flags&resKeys != 0 {
		if n := d.count(4); n > 0 {
			r.Keys = make([]string, n)
			for i := range r.Keys {
				r.Keys[i] = d.view()
			}
		}
	}
	if flags&resCursor != 0 {
		r.Cursor = d.view()
	}
	if flags&resError != 0 {
		r.Error = &StateError{Code: d.view(), Message: d.view()}
	}
	return r, d.done()
}

// AppendGetCall appends a version 2 state.get call: the same bytes as
// StateCall{Store: store, Key: key}.AppendBinary(b), written without the
// general encoder (and the StateCall) for the SDK's most frequent call.
func AppendGetCall(b []byte, store, key string) []byte {
	b = slices.Grow(b, 2+4+len(store)+4+len(key))
	b = append(b, StateCodecV2, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(store)))
	b = append(b, store...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(key)))
	return append(b, key...)
}

// AppendSetCall appends a version 2 state.set call: the same bytes as
// StateCall{Store, Key, Value, IfMatch, IfNoneMatch, TTLMillis}.AppendBinary(b).
func AppendSetCall(b []byte, store, key string, value []byte, ifMatch string, ifNoneMatch bool, ttlMillis int64) []byte {
	var flags byte
	size := 2 + 4 + len(store) + 4 + len(key)
	if len(value) > 0 {
		flags |= callValue
		size += 4 + len(value)
	}
	if ifMatch != "" {
		flags |= callIfMatch
		size += 4 + len(ifMatch)
	}
	if ifNoneMatch {
		flags |= callIfNoneMatch
	}
	if ttlMillis != 0 {
		flags |= callTTL
		size += 8
	}
	b = slices.Grow(b, size)
	b = append(b, StateCodecV2, flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(store)))
	b = append(b, store...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(key)))
	b = append(b, key...)
	if flags&callValue != 0 {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(value)))
		b = append(b, value...)
	}
	if flags&callIfMatch != 0 {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(ifMatch)))
		b = append(b, ifMatch...)
	}
	if flags&callTTL != 0 {
		b = binary.LittleEndian.AppendUint64(b, uint64(ttlMillis))
	}
	return b
}

// DecodeEntryResult reads the answer of a get or set when it is a version
// 2 result with nothing but found, value and ETag, in one function: the
// SDK's fast path. ok is false for any other answer (an error, version 1, a
// malformed one): read those with DecodeStateResult. value and etag alias b.
func DecodeEntryResult(b []byte) (value []byte, etag string, found, ok bool) {
	if len(b) < 2 || b[0] != StateCodecV2 || b[1]&^(resFound|resValue|resETag) != 0 {
		return nil, "", false, false
	}
	flags := b[1]
	b = b[2:]
	if flags&resValue != 0 {
		if len(b) < 4 {
			return nil, "", false, false
		}
		n := uint64(binary.LittleEndian.Uint32(b))
		if n > uint64(len(b)-4) {
			return nil, "", false, false
		}
		value, b = b[4:4+n:4+n], b[4+n:]
	}
	if flags&resETag != 0 {
		if len(b) < 4 {
			return nil, "", false, false
		}
		n := uint64(binary.LittleEndian.Uint32(b))
		if n > uint64(len(b)-4) {
			return nil, "", false, false
		}
		etag = unsafe.String(unsafe.SliceData(b[4:]), n)
		b = b[4+n:]
	}
	if len(value) == 0 {
		value = nil
	}
	return value, etag, flags&resFound != 0, len(b) == 0
}
