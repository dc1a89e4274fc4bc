package abi_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/hearth-sh/hearth/sdk/go/abi"
)

func TestRequestRoundTrip(t *testing.T) {
	tests := []abi.Request{
		{},
		{ID: "r1", Method: "POST", Path: "/a/b", Query: "x=1&y", Body: []byte("body")},
		{Method: "GET", Headers: map[string][]string{"Accept": {"a", "b"}, "X-Empty": {""}}},
	}
	for _, want := range tests {
		b := make([]byte, want.Size())
		if n := want.Encode(b); n != len(b) {
			t.Fatalf("Encode wrote %d bytes, Size said %d", n, len(b))
		}
		got, err := abi.DecodeRequest(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Body) == 0 {
			want.Body = got.Body[:0:0]
			if len(got.Body) != 0 {
				t.Fatalf("body %q, want empty", got.Body)
			}
			got.Body = want.Body
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestResponseRoundTrip(t *testing.T) {
	tests := []abi.Response{
		{Status: 200, Body: []byte("ok")},
		{Status: 404, Headers: map[string][]string{"Content-Type": {"text/plain"}}},
		{Status: 500, ErrorType: "HandlerError", ErrorMessage: "it broke"},
	}
	for _, want := range tests {
		b := make([]byte, want.Size())
		want.Encode(b)
		got, err := abi.DecodeResponse(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body, want.Body) {
			t.Fatalf("body %q, want %q", got.Body, want.Body)
		}
		got.Body, want.Body = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
		}
	}
}

// words builds an envelope from little-endian uint32s and raw bytes.
func words(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		case string:
			b = append(b, v...)
		}
	}
	return b
}

func TestDecodeRejectsMalformed(t *testing.T) {
	tests := []struct {
		name     string
		b        []byte
		response bool
	}{
		{"request too short", words(1, 0, 0), false},
		{"request wrong version", words(2, 0, 0, 0, 0, 0, 0), false},
		{"request field past the end", words(1, 5, 0, 0, 0, 0, 0, "abc"), false},
		{"request trailing bytes", words(1, 0, 0, 0, 0, 0, 0, "x"), false},
		{"request header cut short", words(1, 0, 0, 0, 0, 6, 0, 4, "ab"), false},
		{"request header value missing", words(1, 0, 0, 0, 0, 6, 0, 2, "ab"), false},
		{"response too short", words(1, 200), true},
		{"response wrong version", words(0, 200, 0, 0, 0, 0), true},
		{"response status out of range", words(1, 1000, 0, 0, 0, 0), true},
		{"response body past the end", words(1, 200, 0, 9, 0, 0, "short"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.response {
				_, err = abi.DecodeResponse(tt.b)
			} else {
				_, err = abi.DecodeRequest(tt.b)
			}
			if !errors.Is(err, abi.ErrMalformed) {
				t.Fatalf("error %v, want ErrMalformed", err)
			}
		})
	}
}

// FuzzDecodeResponse feeds arbitrary bytes, as a hostile guest could, to the
// host's decoder: it must fail cleanly or produce something that encodes
// back to the same size.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(words(1, 200, 0, 2, 0, 0, "ok"))
	f.Add(words(1, 500, 13, 0, 1, 1, 1, "a", 4, "bcde", "EM"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := abi.DecodeResponse(b)
		if err != nil {
			return
		}
		if r.Size() != len(b) {
			t.Fatalf("decoded response re-encodes to %d bytes, input was %d", r.Size(), len(b))
		}
	})
}

// FuzzDecodeRequest does the same for the guest's decoder.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(words(1, 1, 3, 1, 0, 0, 2, "iGET/hi"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := abi.DecodeRequest(b)
		if err != nil {
			return
		}
		if r.Size() != len(b) {
			t.Fatalf("decoded request re-encodes to %d bytes, input was %d", r.Size(), len(b))
		}
	})
}
