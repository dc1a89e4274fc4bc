// Package statetest is the conformance suite every state.Store backend
// passes, in the manner of testing/fstest: a backend's test calls Run with a
// function that opens a fresh, empty store.
//
//	func TestConformance(t *testing.T) {
//		statetest.Run(t, func(t *testing.T) statetest.Harness {
//			return statetest.Harness{Store: state.NewMemory(clk, state.Limits{})}
//		})
//	}
//
// The suite assumes the default state.Limits.
package statetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/state"
)

// Harness is one store under test.
type Harness struct {
	// Store must be empty and not shared with other subtests. Run closes it.
	Store state.Store
	// Clock, when set, is the fake clock the store reads time from; TTL
	// tests then advance it instead of waiting.
	Clock *clock.Fake
	// RealTTL is the TTL the suite uses when Clock is nil (the backend
	// expires keys on its own, in real time). Keep it short: the TTL test
	// waits about this long. Default 1s.
	RealTTL time.Duration
}

// Run runs the whole suite; open is called once per subtest.
func Run(t *testing.T, open func(t *testing.T) Harness) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"GetMissing", testGetMissing},
		{"RoundTrip", testRoundTrip},
		{"ETags", testETags},
		{"IfMatch", testIfMatch},
		{"IfNoneMatch", testIfNoneMatch},
		{"Delete", testDelete},
		{"TTL", testTTL},
		{"Transact", testTransact},
		{"TransactAllOrNothing", testTransactAllOrNothing},
		{"TransactInvalid", testTransactInvalid},
		{"List", testList},
		{"BulkGet", testBulkGet},
		{"BadInput", testBadInput},
		{"ConcurrentIncrements", testConcurrentIncrements},
		{"ConcurrentCreate", testConcurrentCreate},
		{"ConcurrentTransfers", testConcurrentTransfers},
		{"Linearizable", testLinearizable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := open(t)
			t.Cleanup(func() {
				if err := h.Store.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, h)
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustSet sets key and returns the ETag, failing the test on error.
func mustSet(t *testing.T, s state.Store, key, value string, opts state.SetOptions) string {
	t.Helper()
	etag, err := s.Set(ctxFor(t), key, []byte(value), opts)
	if err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
	if etag == "" {
		t.Fatalf("Set(%q) returned an empty ETag", key)
	}
	return etag
}

// wantValue checks that key holds value.
func wantValue(t *testing.T, s state.Store, key, value string) state.Entry {
	t.Helper()
	e, err := s.Get(ctxFor(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v, want %q", key, err, value)
	}
	if string(e.Value) != value {
		t.Fatalf("Get(%q) = %q, want %q", key, e.Value, value)
	}
	return e
}

// wantMissing checks that key does not exist.
func wantMissing(t *testing.T, s state.Store, key string) {
	t.Helper()
	e, err := s.Get(ctxFor(t), key)
	if !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, e.Value, err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

func testGetMissing(t *testing.T, h Harness) {
	wantMissing(t, h.Store, "nope")
}

func testRoundTrip(t *testing.T, h Harness) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	large := bytes.Repeat([]byte("0123456789abcdef"), state.DefaultMaxValueBytes/16)
	tests := []struct {
		name  string
		key   string
		value []byte
	}{
		{"plain", "k", []byte("v")},
		{"empty value", "empty", nil},
		{"binary", "bin", binary},
		{"1 MiB", "large", large},
		{"unicode key", "ключ/日本/😀", []byte("u")},
		{"dots", "a.b..c.", []byte("d")},
		{"leading dot", ".hidden", []byte("d")},
		{"escape-like", "=41=zz%20", []byte("e")},
		{"wildcards", "orders.*.>", []byte("w")},
		{"spaces and punctuation", "a b/c:d|e'f\"g", []byte("p")},
		{"longest key", strings.Repeat("é", state.DefaultMaxKeyBytes/2), []byte("l")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			etag, err := h.Store.Set(ctxFor(t), tc.key, tc.value, state.SetOptions{})
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			e, err := h.Store.Get(ctxFor(t), tc.key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !bytes.Equal(e.Value, tc.value) {
				t.Fatalf("Get returned %d bytes, want the %d written", len(e.Value), len(tc.value))
			}
			if e.ETag != etag {
				t.Fatalf("Get ETag %q, Set returned %q", e.ETag, etag)
			}
		})
	}
	page, err := h.Store.List(ctxFor(t), "", "", 100)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(page.Keys) != len(tests) {
		t.Fatalf("List found %d keys %q, want %d", len(page.Keys), page.Keys, len(tests))
	}
}

func testETags(t *testing.T, h Harness) {
	s := h.Store
	seen := map[string]bool{}
	etag := mustSet(t, s, "k", "1", state.SetOptions{})
	seen[etag] = true
	for i, v := range []string{"2", "2", "3"} {
		etag = mustSet(t, s, "k", v, state.SetOptions{})
		if seen[etag] {
			t.Fatalf("write %d reused ETag %q", i+2, etag)
		}
		seen[etag] = true
	}
	// A deleted and re-created key must not get an old ETag back, or a
	// stale IfMatch from before the delete would succeed (ABA).
	if err := s.Delete(ctxFor(t), "k", state.DeleteOptions{}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	etag = mustSet(t, s, "k", "1", state.SetOptions{})
	if seen[etag] {
		t.Fatalf("re-created key reused ETag %q", etag)
	}
}

func testIfMatch(t *testing.T, h Harness) {
	s := h.Store
	old := mustSet(t, s, "k", "v1", state.SetOptions{})
	cur := mustSet(t, s, "k", "v2", state.SetOptions{IfMatch: old})
	if cur == old {
		t.Fatalf("conditional write kept ETag %q", cur)
	}
	_, err := s.Set(ctxFor(t), "k", []byte("v3"), state.SetOptions{IfMatch: old})
	wantErr(t, "Set with stale IfMatch", err, state.ErrETagMismatch)
	var cerr *state.ConditionError
	if !errors.As(err, &cerr) || cerr.Key != "k" || cerr.Op != -1 {
		t.Fatalf("stale IfMatch error %#v, want *ConditionError for key k, op -1", err)
	}
	wantValue(t, s, "k", "v2")

	_, err = s.Set(ctxFor(t), "missing", []byte("x"), state.SetOptions{IfMatch: cur})
	wantErr(t, "Set IfMatch on a missing key", err, state.ErrETagMismatch)
	wantMissing(t, s, "missing")

	for _, bad := range []string{"\"" + cur + "\"", "abc", "-1", "0", " 1"} {
		_, err = s.Set(ctxFor(t), "k", []byte("x"), state.SetOptions{IfMatch: bad})
		wantErr(t, "Set with malformed ETag "+bad, err, state.ErrInvalidETag)
	}
	wantValue(t, s, "k", "v2")
}

func testIfNoneMatch(t *testing.T, h Harness) {
	s := h.Store
	first := mustSet(t, s, "k", "first", state.SetOptions{IfNoneMatch: true})
	_, err := s.Set(ctxFor(t), "k", []byte("second"), state.SetOptions{IfNoneMatch: true})
	wantErr(t, "second create", err, state.ErrKeyExists)
	e := wantValue(t, s, "k", "first")
	if e.ETag != first {
		t.Fatalf("ETag changed to %q after a failed create", e.ETag)
	}
	if err := s.Delete(ctxFor(t), "k", state.DeleteOptions{}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustSet(t, s, "k", "again", state.SetOptions{IfNoneMatch: true})
	wantValue(t, s, "k", "again")
}

func testDelete(t *testing.T, h Harness) {
	s := h.Store
	if err := s.Delete(ctxFor(t), "never", state.DeleteOptions{}); err != nil {
		t.Fatalf("Delete of a missing key: %v, want nil", err)
	}
	old := mustSet(t, s, "k", "v1", state.SetOptions{})
	cur := mustSet(t, s, "k", "v2", state.SetOptions{})
	err := s.Delete(ctxFor(t), "k", state.DeleteOptions{IfMatch: old})
	wantErr(t, "Delete with stale IfMatch", err, state.ErrETagMismatch)
	wantValue(t, s, "k", "v2")
	if err := s.Delete(ctxFor(t), "k", state.DeleteOptions{IfMatch: cur}); err != nil {
		t.Fatalf("Delete with current IfMatch: %v", err)
	}
	wantMissing(t, s, "k")
	err = s.Delete(ctxFor(t), "k", state.DeleteOptions{IfMatch: cur})
	wantErr(t, "Delete IfMatch of a deleted key", err, state.ErrETagMismatch)
	err = s.Delete(ctxFor(t), "k", state.DeleteOptions{IfMatch: "nope"})
	wantErr(t, "Delete with malformed ETag", err, state.ErrInvalidETag)
}
