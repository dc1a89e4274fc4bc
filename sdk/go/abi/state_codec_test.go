package abi

import (
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
	for _, c := range calls {
		got, err := DecodeStateCall(c.AppendBinary(nil))
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("call round trip:\n got %+v %v\nwant %+v", got, err, c)
		}
	}
	results := []StateResult{
		{},
		{Found: true, Value: []byte("v"), ETag: "3"},
		{Items: []StateItem{{Key: "a", Found: true, Value: []byte{9}, ETag: "1"}, {Key: "b"}}},
		{Keys: []string{"x", "y"}, Cursor: "y"},
		{Error: &StateError{Code: StateErrETagMismatch, Message: "changed"}},
	}
	for _, r := range results {
		got, err := DecodeStateResult(r.AppendBinary(nil))
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("result round trip:\n got %+v %v\nwant %+v", got, err, r)
		}
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
	}
	for name, b := range tests {
		if _, err := DecodeStateCall(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzDecodeStateCall(f *testing.F) {
	f.Add((&StateCall{Store: "s", Key: "k", Ops: []StateOp{{Op: "set", Key: "a"}}}).AppendBinary(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeStateCall(b)
		if err != nil {
			return
		}
		again, err := DecodeStateCall(c.AppendBinary(nil))
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("re-encoding a decoded call changed it: %+v vs %+v (%v)", again, c, err)
		}
	})
}
