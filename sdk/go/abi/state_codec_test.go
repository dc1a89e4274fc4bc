package abi

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestStateCodecRoundTrip(t *testing.T) {
	calls := []StateCall{
		{},
		{Store: "default", Key: "k"},
		{Store: "s", Key: "ключ/1", Value: []byte{0, 1, 2, 255}, IfMatch: "42", IfNoneMatch: true, TTLMillis: 1500},
		{Store: "s", Keys: []string{"a", "", "c"}},
		{Store: "s", Ops: []StateOp{{Op: "set", Key: "a", Value: []byte("v"), IfMatch: "7", TTLMillis: 9}, {Op: "delete", Key: "b", IfNoneMatch: true}}},
		{Store: "s", Prefix: "p/", Cursor: "p/9", Limit: 100},
	}
	for _, v := range []byte{StateCodecV1, StateCodecV2} {
		for _, c := range calls {
			b := c.AppendBinaryVersion(nil, v)
			if StateVersion(b) != v {
				t.Fatalf("v%d call starts with version %d", v, StateVersion(b))
			}
			got, err := DecodeStateCall(b)
			if err != nil || !reflect.DeepEqual(got, c) {
				t.Fatalf("v%d call round trip:\n got %+v %v\nwant %+v", v, got, err, c)
			}
		}
	}
	results := []StateResult{
		{},
		{Found: true, Value: []byte("v"), ETag: "3"},
		{Items: []StateItem{{Key: "a", Found: true, Value: []byte{9}, ETag: "1"}, {Key: "b"}}},
		{Keys: []string{"x", "y"}, Cursor: "y"},
		{Error: &StateError{Code: StateErrETagMismatch, Message: "changed"}},
	}
	for _, v := range []byte{StateCodecV1, StateCodecV2} {
		for _, r := range results {
			b := r.AppendBinaryVersion(nil, v)
			if StateVersion(b) != v {
				t.Fatalf("v%d result starts with version %d", v, StateVersion(b))
			}
			got, err := DecodeStateResult(b)
			if err != nil || !reflect.DeepEqual(got, r) {
				t.Fatalf("v%d result round trip:\n got %+v %v\nwant %+v", v, got, err, r)
			}
		}
	}
}

// TestStateCodecV2Sizes: a Get and its answer carry nothing but what they
// need, and the encoders allocate their buffer once (sized up front).
func TestStateCodecV2Sizes(t *testing.T) {
	get := StateCall{Store: "orders", Key: "o/1"}
	if b := get.AppendBinary(nil); len(b) != 2+4+6+4+3 {
		t.Errorf("v2 get call: %d bytes, want %d", len(b), 2+4+6+4+3)
	}
	ans := StateResult{Found: true, Value: []byte("value"), ETag: "17"}
	if b := ans.AppendBinary(nil); len(b) != 2+4+5+4+2 {
		t.Errorf("v2 get answer: %d bytes, want %d", len(b), 2+4+5+4+2)
	}
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	full := StateCall{Store: "s", Key: "k", Keys: []string{"a", "bc"}, Value: []byte("v"), IfMatch: "1", IfNoneMatch: true,
		TTLMillis: 5, Ops: []StateOp{{Op: "set", Key: "a", Value: []byte("v"), IfMatch: "2"}}, Prefix: "p", Cursor: "c", Limit: 3}
	res := StateResult{Found: true, Value: []byte("v"), ETag: "1", Items: []StateItem{{Key: "a", Found: true, Value: []byte("v"), ETag: "1"}},
		Keys: []string{"x"}, Cursor: "x", Error: &StateError{Code: "c", Message: "m"}}
	encoders := map[string]func(){
		"get call":    func() { _ = get.AppendBinary(nil) },
		"get answer":  func() { _ = ans.AppendBinary(nil) },
		"full call":   func() { _ = full.AppendBinary(nil) },
		"full result": func() { _ = res.AppendBinary(nil) },
	}
	for name, f := range encoders {
		if n := testing.AllocsPerRun(10, f); n != 1 {
			t.Errorf("%s: %v allocations, want 1 (the size computed up front is short)", name, n)
		}
	}
	// Decoding a Get's answer allocates nothing: value and ETag alias it.
	answer := ans.AppendBinary(nil)
	if n := testing.AllocsPerRun(10, func() { _, _ = DecodeStateResult(answer) }); n != 0 {
		t.Errorf("decoding a get answer: %v allocations, want 0", n)
	}
	// Encoding into a buffer with room allocates nothing (the SDK reuses one).
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(10, func() { _ = get.AppendBinary(buf) }); n != 0 {
		t.Errorf("encoding a get into a buffer with room: %v allocations, want 0", n)
	}
}

func TestStateCodecRejectsMalformed(t *testing.T) {
	good := (&StateCall{Store: "s", Key: "k", Keys: []string{"a"}}).AppendBinary(nil)
	tests := map[string][]byte{
		"empty":         nil,
		"wrong version": append([]byte{9}, good[1:]...),
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte{}, good...), 0),
		"huge count":    {1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f},
		"v2 huge count": {2, callKeys, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f},
		"v2 bad flags":  {2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0},
		"v2 truncated":  {2, callValue, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 'a'},
	}
	for name, b := range tests {
		if _, err := DecodeStateCall(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzDecodeStateCall(f *testing.F) {
	c := StateCall{Store: "s", Key: "k", Ops: []StateOp{{Op: "set", Key: "a"}}, TTLMillis: 3, IfNoneMatch: true}
	f.Add(c.AppendBinaryVersion(nil, StateCodecV1))
	f.Add(c.AppendBinaryVersion(nil, StateCodecV2))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeStateCall(b)
		if err != nil {
			return
		}
		again, err := DecodeStateCall(c.AppendBinaryVersion(nil, StateVersion(b)))
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("re-encoding a decoded call changed it: %+v vs %+v (%v)", again, c, err)
		}
	})
}

// TestStateFastPaths: the SDK's Get and Set encoders write exactly what the
// general encoder writes, and DecodeEntryResult reads what DecodeStateResult
// reads, or declines.
func TestStateFastPaths(t *testing.T) {
	if got, want := AppendGetCall([]byte("x"), "orders", "o/1"), (&StateCall{Store: "orders", Key: "o/1"}).AppendBinary([]byte("x")); !bytes.Equal(got, want) {
		t.Errorf("AppendGetCall = %x, want %x", got, want)
	}
	sets := []StateCall{
		{Store: "s", Key: "k"},
		{Store: "s", Key: "k", Value: []byte("v")},
		{Store: "s", Key: "ключ", Value: []byte{0, 255}, IfMatch: "42", TTLMillis: 1500},
		{Store: "s", Key: "k", Value: []byte("v"), IfNoneMatch: true, TTLMillis: -1},
	}
	for _, c := range sets {
		got := AppendSetCall(nil, c.Store, c.Key, c.Value, c.IfMatch, c.IfNoneMatch, c.TTLMillis)
		if want := c.AppendBinary(nil); !bytes.Equal(got, want) {
			t.Errorf("AppendSetCall(%+v) = %x, want %x", c, got, want)
		}
	}
	tests := []struct {
		name   string
		answer []byte
		ok     bool
	}{
		{"found", (&StateResult{Found: true, Value: []byte("v"), ETag: "3"}).AppendBinary(nil), true},
		{"found, empty value", (&StateResult{Found: true, ETag: "3"}).AppendBinary(nil), true},
		{"not found", (&StateResult{}).AppendBinary(nil), true},
		{"set's etag", (&StateResult{ETag: "9"}).AppendBinary(nil), true},
		{"error", (&StateResult{Error: &StateError{Code: StateErrETagMismatch, Message: "m"}}).AppendBinary(nil), false},
		{"version 1", (&StateResult{Found: true, Value: []byte("v"), ETag: "3"}).AppendBinaryVersion(nil, StateCodecV1), false},
		{"truncated value", []byte{2, resValue, 5, 0, 0, 0, 'a'}, false},
		{"truncated etag", []byte{2, resETag, 1, 0}, false},
		{"trailing", []byte{2, 0, 0}, false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		value, etag, found, ok := DecodeEntryResult(tt.answer)
		if ok != tt.ok {
			t.Errorf("%s: ok = %v, want %v", tt.name, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		want, err := DecodeStateResult(tt.answer)
		if err != nil || !reflect.DeepEqual(want, StateResult{Found: found, Value: value, ETag: etag}) {
			t.Errorf("%s: fast path read %v %q %q, general %+v %v", tt.name, found, value, etag, want, err)
		}
	}
	answer := tests[0].answer
	if raceEnabled {
		return // allocation counts differ under the race detector
	}
	if n := testing.AllocsPerRun(10, func() { _, _, _, _ = DecodeEntryResult(answer) }); n != 0 {
		t.Errorf("DecodeEntryResult: %v allocations, want 0", n)
	}
}
