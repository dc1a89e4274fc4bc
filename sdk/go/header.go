package hearth

import (
	"iter"
	"strings"
	"unsafe"

	"github.com/hearth-sh/hearth/sdk/go/abi"
)

// Header is a request's headers, read-only. It keeps them in their encoded
// form and decodes only what a handler asks for: on the warm path of a
// WebAssembly guest every allocation counts.
type Header struct {
	block []byte // an abi headers block
}

// NewHeader makes a Header from a map, for calling handlers in tests.
func NewHeader(h map[string][]string) Header {
	var b []byte
	for k, vs := range h {
		for _, v := range vs {
			b = abi.AppendHeader(b, k, v)
		}
	}
	return Header{block: b}
}

// Get returns the first value of the header name, matched without regard
// to case, or "".
func (h Header) Get(name string) string {
	for k, v := range h.All() {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Values returns every value of the header name, matched without regard to
// case.
func (h Header) Values(name string) []string {
	var vs []string
	for k, v := range h.All() {
		if strings.EqualFold(k, name) {
			vs = append(vs, v)
		}
	}
	return vs
}

// All yields each header as a name and one value, in the order received;
// a header with several values comes several times.
func (h Header) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for b := h.block; ; {
			name, value, rest, ok := abi.NextHeader(b)
			if !ok || !yield(view(name), view(value)) {
				return
			}
			b = rest
		}
	}
}

// Map returns the headers as a map from name to values.
func (h Header) Map() map[string][]string {
	m := map[string][]string{}
	for k, v := range h.All() {
		m[k] = append(m[k], v)
	}
	return m
}

// view makes a string that shares b's memory. Only used on request bytes,
// which nothing writes after the request is decoded.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
