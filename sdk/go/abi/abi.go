// Package abi encodes and decodes the envelopes that carry one invocation
// across the hearth WebAssembly boundary: the request the host writes into
// guest memory and the response the guest hands back. docs/abi.md describes
// the same layout byte by byte for guests written in other languages; this
// package is its reference implementation, shared by the Go SDK (guest side)
// and by hearth itself (host side).
//
// The layout is a fixed header of little-endian uint32 lengths followed by
// the fields back to back, so that a guest needs no parser library and the
// host can encode straight into guest memory without reflection.
//
// Request:
//
//	u32 version (1) | u32 len(id) | u32 len(method) | u32 len(path)
//	u32 len(query) | u32 len(headers) | u32 len(body)
//	id | method | path | query | headers | body
//
// Response:
//
//	u32 version (1) | u32 status | u32 len(headers) | u32 len(body)
//	u32 len(error type) | u32 len(error message)
//	headers | body | error type | error message
//
// A headers block is zero or more entries, each u32 len(name) | name |
// u32 len(value) | value; a header with several values repeats its name.
package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the envelope layout version written first in every envelope.
const Version = 1

const (
	// RequestHeaderSize is the size of a request's fixed header.
	RequestHeaderSize = 7 * 4
	// ResponseHeaderSize is the size of a response's fixed header.
	ResponseHeaderSize = 6 * 4
)

// ErrMalformed reports an envelope that does not follow the layout.
var ErrMalformed = errors.New("malformed envelope")

// Request is one invocation as the guest sees it.
type Request struct {
	ID      string
	Method  string
	Path    string
	Query   string
	Headers map[string][]string
	Body    []byte
}

// Response is what the guest returns. ErrorType is empty unless the
// function reports an error of its own.
type Response struct {
	Status       int
	Headers      map[string][]string
	Body         []byte
	ErrorType    string
	ErrorMessage string
}

// HeadersSize is the encoded size of a headers block.
func HeadersSize(h map[string][]string) int {
	n := 0
	for k, vs := range h {
		n += len(vs) * (8 + len(k))
		for _, v := range vs {
			n += len(v)
		}
	}
	return n
}

// Size is the encoded size of r.
func (r *Request) Size() int {
	return RequestHeaderSize + len(r.ID) + len(r.Method) + len(r.Path) + len(r.Query) +
		HeadersSize(r.Headers) + len(r.Body)
}

// Encode writes r into dst, which must hold at least r.Size() bytes, and
// returns the number of bytes written.
func (r *Request) Encode(dst []byte) int {
	le := binary.LittleEndian
	hs := HeadersSize(r.Headers)
	le.PutUint32(dst[0:], Version)
	le.PutUint32(dst[4:], uint32(len(r.ID)))
	le.PutUint32(dst[8:], uint32(len(r.Method)))
	le.PutUint32(dst[12:], uint32(len(r.Path)))
	le.PutUint32(dst[16:], uint32(len(r.Query)))
	le.PutUint32(dst[20:], uint32(hs))
	le.PutUint32(dst[24:], uint32(len(r.Body)))
	n := RequestHeaderSize
	n += copy(dst[n:], r.ID)
	n += copy(dst[n:], r.Method)
	n += copy(dst[n:], r.Path)
	n += copy(dst[n:], r.Query)
	n += putHeaders(dst[n:], r.Headers)
	n += copy(dst[n:], r.Body)
	return n
}

// DecodeRequest parses a request envelope. Strings are copies; Body aliases b.
func DecodeRequest(b []byte) (Request, error) {
	f, err := SplitRequest(b)
	if err != nil {
		return Request{}, err
	}
	h, err := DecodeHeaders(f.Headers)
	if err != nil {
		return Request{}, fmt.Errorf("request: %w", err)
	}
	return Request{ID: string(f.ID), Method: string(f.Method), Path: string(f.Path), Query: string(f.Query),
		Headers: h, Body: f.Body}, nil
}

// RequestFields are the fields of a request envelope, still encoded:
// slices of the envelope, Headers a headers block.
type RequestFields struct {
	ID, Method, Path, Query, Headers, Body []byte
}

// SplitRequest checks a request envelope, headers block included, and
// returns its fields without copying or allocating: a guest that reads
// only what it needs pays only for that.
func SplitRequest(b []byte) (RequestFields, error) {
	lens, rest, err := fixed(b, RequestHeaderSize)
	if err != nil {
		return RequestFields{}, fmt.Errorf("request: %w", err)
	}
	f, err := split6(rest, lens)
	if err != nil {
		return RequestFields{}, fmt.Errorf("request: %w", err)
	}
	for h := f[4]; len(h) > 0; {
		var err error
		if _, h, err = lenPrefixed(h); err == nil {
			_, h, err = lenPrefixed(h)
		}
		if err != nil {
			return RequestFields{}, fmt.Errorf("request: headers: %w", err)
		}
	}
	return RequestFields{ID: f[0], Method: f[1], Path: f[2], Query: f[3], Headers: f[4], Body: f[5]}, nil
}

// NextHeader returns the first entry of a checked headers block and the
// rest of the block; ok is false at its end.
func NextHeader(block []byte) (name, value, rest []byte, ok bool) {
	name, rest, err := lenPrefixed(block)
	if err != nil {
		return nil, nil, nil, false
	}
	value, rest, err = lenPrefixed(rest)
	if err != nil {
		return nil, nil, nil, false
	}
	return name, value, rest, true
}

// AppendHeader appends one entry to a headers block.
func AppendHeader(block []byte, name, value string) []byte {
	block = binary.LittleEndian.AppendUint32(block, uint32(len(name)))
	block = append(block, name...)
	block = binary.LittleEndian.AppendUint32(block, uint32(len(value)))
	return append(block, value...)
}

// Size is the encoded size of r.
func (r *Response) Size() int {
	return ResponseHeaderSize + HeadersSize(r.Headers) + len(r.Body) + len(r.ErrorType) + len(r.ErrorMessage)
}

// Encode writes r into dst, which must hold at least r.Size() bytes, and
// returns the number of bytes written.
func (r *Response) Encode(dst []byte) int {
	le := binary.LittleEndian
	le.PutUint32(dst[0:], Version)
	le.PutUint32(dst[4:], uint32(r.Status))
	le.PutUint32(dst[8:], uint32(HeadersSize(r.Headers)))
	le.PutUint32(dst[12:], uint32(len(r.Body)))
	le.PutUint32(dst[16:], uint32(len(r.ErrorType)))
	le.PutUint32(dst[20:], uint32(len(r.ErrorMessage)))
	n := ResponseHeaderSize
	n += putHeaders(dst[n:], r.Headers)
	n += copy(dst[n:], r.Body)
	n += copy(dst[n:], r.ErrorType)
	n += copy(dst[n:], r.ErrorMessage)
	return n
}

// DecodeResponse parses a response envelope. Strings are copies; Body
// aliases b, so a caller that keeps it past b's lifetime must copy it.
func DecodeResponse(b []byte) (Response, error) {
	if len(b) < ResponseHeaderSize {
		return Response{}, fmt.Errorf("response: %d bytes, shorter than the %d-byte header: %w", len(b), ResponseHeaderSize, ErrMalformed)
	}
	le := binary.LittleEndian
	if v := le.Uint32(b); v != Version {
		return Response{}, fmt.Errorf("response: version %d, want %d: %w", v, Version, ErrMalformed)
	}
	status := le.Uint32(b[4:])
	var lens [6]uint32
	lens[0] = le.Uint32(b[8:])
	lens[1] = le.Uint32(b[12:])
	lens[2] = le.Uint32(b[16:])
	lens[3] = le.Uint32(b[20:])
	f, err := split6(b[ResponseHeaderSize:], lens)
	if err != nil {
		return Response{}, fmt.Errorf("response: %w", err)
	}
	h, err := DecodeHeaders(f[0])
	if err != nil {
		return Response{}, fmt.Errorf("response: %w", err)
	}
	if status > 999 {
		return Response{}, fmt.Errorf("response: status %d out of range: %w", status, ErrMalformed)
	}
	return Response{Status: int(status), Headers: h, Body: f[1], ErrorType: string(f[2]), ErrorMessage: string(f[3])}, nil
}

// DecodeHeaders parses a headers block; it returns nil for an empty block.
func DecodeHeaders(b []byte) (map[string][]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	h := make(map[string][]string, 4)
	for len(b) > 0 {
		name, rest, err := lenPrefixed(b)
		if err != nil {
			return nil, fmt.Errorf("header name: %w", err)
		}
		value, rest, err := lenPrefixed(rest)
		if err != nil {
			return nil, fmt.Errorf("header %q value: %w", name, err)
		}
		k := string(name)
		h[k] = append(h[k], string(value))
		b = rest
	}
	return h, nil
}

func putHeaders(dst []byte, h map[string][]string) int {
	le := binary.LittleEndian
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			le.PutUint32(dst[n:], uint32(len(k)))
			n += 4
			n += copy(dst[n:], k)
			le.PutUint32(dst[n:], uint32(len(v)))
			n += 4
			n += copy(dst[n:], v)
		}
	}
	return n
}

// fixed checks the version word of a request header and returns its six lengths.
func fixed(b []byte, size int) ([6]uint32, []byte, error) {
	var lens [6]uint32
	if len(b) < size {
		return lens, nil, fmt.Errorf("%d bytes, shorter than the %d-byte header: %w", len(b), size, ErrMalformed)
	}
	le := binary.LittleEndian
	if v := le.Uint32(b); v != Version {
		return lens, nil, fmt.Errorf("version %d, want %d: %w", v, Version, ErrMalformed)
	}
	for i := range lens {
		lens[i] = le.Uint32(b[4+4*i:])
	}
	return lens, b[size:], nil
}

// split6 cuts b into consecutive fields of the given lengths; unused
// trailing lengths must be zero.
func split6(b []byte, lens [6]uint32) ([6][]byte, error) {
	var f [6][]byte
	for i, n := range lens {
		if uint64(n) > uint64(len(b)) {
			return f, fmt.Errorf("field %d of %d bytes runs past the end (%d left): %w", i, n, len(b), ErrMalformed)
		}
		f[i], b = b[:n:n], b[n:]
	}
	if len(b) != 0 {
		return f, fmt.Errorf("%d trailing bytes: %w", len(b), ErrMalformed)
	}
	return f, nil
}

func lenPrefixed(b []byte) ([]byte, []byte, error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("length cut short: %w", ErrMalformed)
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b)) {
		return nil, nil, fmt.Errorf("%d bytes announced, %d left: %w", n, len(b), ErrMalformed)
	}
	return b[:n:n], b[n:], nil
}
