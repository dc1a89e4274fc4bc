package statetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/state"
)

func testTTL(t *testing.T, h Harness) {
	s := h.Store
	ttl := 10 * time.Second
	if h.Clock == nil {
		ttl = h.RealTTL
		if ttl <= 0 {
			ttl = time.Second
		}
	}
	written := time.Now()
	etagA := mustSet(t, s, "a", "expires", state.SetOptions{TTL: ttl})
	if h.Clock == nil {
		// With a real TTL the key must be there at least until the TTL has
		// passed since before the write; a slow machine may take longer
		// than that to get here, and then there is nothing to check.
		_, err := s.Get(ctxFor(t), "a")
		if err != nil && time.Since(written) < ttl {
			t.Fatalf("Get(a) %v after writing it with TTL %v: %v", time.Since(written), ttl, err)
		}
	}
	mustSet(t, s, "b", "expires", state.SetOptions{TTL: ttl})
	mustSet(t, s, "b", "permanent", state.SetOptions{}) // a plain Set clears the TTL
	mustSet(t, s, "c", "created", state.SetOptions{IfNoneMatch: true, TTL: ttl})
	d := mustSet(t, s, "d", "v1", state.SetOptions{})
	mustSet(t, s, "d", "v2", state.SetOptions{IfMatch: d, TTL: ttl})
	if err := s.Transact(ctxFor(t), []state.Op{{Kind: state.OpSet, Key: "e", Value: []byte("tx"), TTL: ttl}}); err != nil {
		t.Fatalf("Transact with TTL: %v", err)
	}
	if h.Clock != nil {
		wantValue(t, s, "a", "expires")
		h.Clock.Advance(ttl - time.Second)
		wantValue(t, s, "a", "expires")
		h.Clock.Advance(2 * time.Second)
	} else {
		waitGone(t, h, "a", 20*ttl+10*time.Second)
	}
	for _, k := range []string{"a", "c", "d", "e"} {
		waitGone(t, h, k, 10*time.Second)
	}
	wantValue(t, s, "b", "permanent")
	page, err := s.List(ctxFor(t), "", "", 10)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if fmt.Sprint(page.Keys) != "[b]" {
		t.Fatalf("List after expiry = %q, want [b]", page.Keys)
	}
	_, err = s.Set(ctxFor(t), "a", []byte("x"), state.SetOptions{IfMatch: etagA})
	wantErr(t, "IfMatch on an expired key", err, state.ErrETagMismatch)
	mustSet(t, s, "a", "reborn", state.SetOptions{IfNoneMatch: true})
	wantValue(t, s, "a", "reborn")
}

// waitGone waits until key has expired. With a fake clock the key must be
// gone already; with a real server-side TTL it polls, since expiry is the
// server's to schedule (and the suite cannot drive the server's clock).
func waitGone(t *testing.T, h Harness, key string, within time.Duration) {
	t.Helper()
	if h.Clock != nil {
		wantMissing(t, h.Store, key)
		return
	}
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := h.Store.Get(ctxFor(t), key)
		if errors.Is(err, state.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("Get(%q) while waiting for expiry: %v", key, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %q did not expire within %v", key, within)
		}
		<-tick.C
	}
}

func testTransact(t *testing.T, h Harness) {
	s := h.Store
	ea := mustSet(t, s, "a", "1", state.SetOptions{})
	eb := mustSet(t, s, "b", "2", state.SetOptions{})
	err := s.Transact(ctxFor(t), []state.Op{
		{Kind: state.OpSet, Key: "a", Value: []byte("10"), IfMatch: ea},
		{Kind: state.OpDelete, Key: "b", IfMatch: eb},
		{Kind: state.OpSet, Key: "c", Value: []byte("3"), IfNoneMatch: true},
		{Kind: state.OpSet, Key: "d", Value: []byte("4")},
		{Kind: state.OpDelete, Key: "never-existed"},
	})
	if err != nil {
		t.Fatalf("Transact: %v", err)
	}
	if e := wantValue(t, s, "a", "10"); e.ETag == ea {
		t.Fatalf("ETag of a did not change in the transaction")
	}
	wantMissing(t, s, "b")
	wantValue(t, s, "c", "3")
	wantValue(t, s, "d", "4")
	wantMissing(t, s, "never-existed")
}

func testTransactAllOrNothing(t *testing.T, h Harness) {
	s := h.Store
	ex := mustSet(t, s, "x", "1", state.SetOptions{})
	mustSet(t, s, "y", "1", state.SetOptions{})
	stale := mustSet(t, s, "z", "1", state.SetOptions{})
	ez := mustSet(t, s, "z", "2", state.SetOptions{})

	tests := []struct {
		name  string
		third state.Op
		want  error
	}{
		{"stale IfMatch", state.Op{Kind: state.OpSet, Key: "z", Value: []byte("3"), IfMatch: stale}, state.ErrETagMismatch},
		{"create of existing key", state.Op{Kind: state.OpSet, Key: "z", Value: []byte("3"), IfNoneMatch: true}, state.ErrKeyExists},
		{"delete with stale IfMatch", state.Op{Kind: state.OpDelete, Key: "z", IfMatch: stale}, state.ErrETagMismatch},
		{"IfMatch on missing key", state.Op{Kind: state.OpSet, Key: "w", Value: []byte("3"), IfMatch: ez}, state.ErrETagMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Transact(ctxFor(t), []state.Op{
				{Kind: state.OpSet, Key: "x", Value: []byte("changed"), IfMatch: ex},
				{Kind: state.OpSet, Key: "y", Value: []byte("changed")},
				tc.third,
				{Kind: state.OpDelete, Key: "y2"},
			})
			wantErr(t, "Transact", err, tc.want)
			var cerr *state.ConditionError
			if !errors.As(err, &cerr) || cerr.Op != 2 || cerr.Key != tc.third.Key {
				t.Fatalf("Transact error %v, want a *ConditionError for op 2 (key %q)", err, tc.third.Key)
			}
			if e := wantValue(t, s, "x", "1"); e.ETag != ex {
				t.Fatalf("x's ETag changed to %q although the transaction failed", e.ETag)
			}
			wantValue(t, s, "y", "1")
			wantValue(t, s, "z", "2")
			wantMissing(t, s, "w")
		})
	}
}

func testTransactInvalid(t *testing.T, h Harness) {
	s := h.Store
	set := func(key string) state.Op { return state.Op{Kind: state.OpSet, Key: key, Value: []byte("v")} }
	var tooMany []state.Op
	for i := 0; i <= state.DefaultMaxTxOps; i++ {
		tooMany = append(tooMany, set(fmt.Sprintf("k%d", i)))
	}
	tests := []struct {
		name string
		ops  []state.Op
		want error
	}{
		{"empty", nil, state.ErrInvalidArgument},
		{"duplicate key", []state.Op{set("a"), set("a")}, state.ErrInvalidArgument},
		{"too many ops", tooMany, state.ErrTooLarge},
		{"bad key", []state.Op{set("a"), set("")}, state.ErrInvalidKey},
		{"value too large", []state.Op{{Kind: state.OpSet, Key: "a", Value: make([]byte, state.DefaultMaxValueBytes+1)}}, state.ErrTooLarge},
		{"malformed ETag", []state.Op{{Kind: state.OpDelete, Key: "a", IfMatch: "x"}}, state.ErrInvalidETag},
		{"unknown kind", []state.Op{{Kind: 99, Key: "a"}}, state.ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "Transact", s.Transact(ctxFor(t), tc.ops), tc.want)
			wantMissing(t, s, "a")
		})
	}
}

func testList(t *testing.T, h Harness) {
	s := h.Store
	var want []string
	for i := 0; i < 25; i++ {
		k := fmt.Sprintf("p/%02d", i)
		want = append(want, k)
		mustSet(t, s, k, "v", state.SetOptions{})
	}
	for _, k := range []string{"q/1", "p", "o/1", "pé", "p0"} {
		mustSet(t, s, k, "v", state.SetOptions{})
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("listing did not end after %d pages: %q", pages, got)
		}
		page, err := s.List(ctxFor(t), "p/", cursor, 10)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(page.Keys) > 10 {
			t.Fatalf("page of %d keys, limit 10", len(page.Keys))
		}
		got = append(got, page.Keys...)
		if page.Cursor == "" {
			break
		}
		cursor = page.Cursor
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("paged List(p/) = %q, want %q", got, want)
	}
	page, err := s.List(ctxFor(t), "p", "", 0)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	// Byte order: "p" < "p/.." < "p0" < "pé".
	if n := len(page.Keys); n != 28 || page.Keys[0] != "p" || page.Keys[26] != "p0" || page.Keys[27] != "pé" {
		t.Fatalf("List(p) = %q, want p, p/00..p/24, p0, pé", page.Keys)
	}
	_, err = s.List(ctxFor(t), "", "", -1)
	wantErr(t, "List with negative limit", err, state.ErrInvalidArgument)

	// Characters that are patterns in some backend (SQL LIKE, Redis lex
	// ranges, NATS subjects) are plain characters in a prefix.
	for _, k := range []string{"100%/a", "100x/b", "a_b", "axb", "[x", "(x", "*x", ">x", `a\b`} {
		mustSet(t, s, k, "v", state.SetOptions{})
	}
	for prefix, want := range map[string]string{"100%": "100%/a", "a_": "a_b", "[": "[x", "(": "(x", "*": "*x", ">": ">x", `a\`: `a\b`} {
		page, err := s.List(ctxFor(t), prefix, "", 10)
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		if strings.Join(page.Keys, ",") != want {
			t.Fatalf("List(%q) = %q, want [%s]", prefix, page.Keys, want)
		}
	}
}

func testBulkGet(t *testing.T, h Harness) {
	s := h.Store
	ea := mustSet(t, s, "a", "1", state.SetOptions{})
	ec := mustSet(t, s, "c", "3", state.SetOptions{})
	items, err := s.BulkGet(ctxFor(t), []string{"c", "b", "a"})
	if err != nil {
		t.Fatalf("BulkGet: %v", err)
	}
	got := fmt.Sprintf("%v", items)
	want := []state.Item{
		{Key: "c", Found: true, Entry: state.Entry{Value: []byte("3"), ETag: ec}},
		{Key: "b"},
		{Key: "a", Found: true, Entry: state.Entry{Value: []byte("1"), ETag: ea}},
	}
	if len(items) != 3 {
		t.Fatalf("BulkGet = %s, want %v", got, want)
	}
	for i := range want {
		g, w := items[i], want[i]
		if g.Key != w.Key || g.Found != w.Found || string(g.Value) != string(w.Value) || g.ETag != w.ETag {
			t.Fatalf("BulkGet item %d = %+v, want %+v", i, g, w)
		}
	}
	_, err = s.BulkGet(ctxFor(t), []string{"a", ""})
	wantErr(t, "BulkGet with an empty key", err, state.ErrInvalidKey)
}

func testBadInput(t *testing.T, h Harness) {
	s := h.Store
	badKeys := []string{"", strings.Repeat("k", state.DefaultMaxKeyBytes+1), "a\nb", "nul\x00", "bad\xffutf8", "del\x7f"}
	for _, k := range badKeys {
		_, err := s.Get(ctxFor(t), k)
		wantErr(t, fmt.Sprintf("Get(%q)", k), err, state.ErrInvalidKey)
		_, err = s.Set(ctxFor(t), k, []byte("v"), state.SetOptions{})
		wantErr(t, fmt.Sprintf("Set(%q)", k), err, state.ErrInvalidKey)
		err = s.Delete(ctxFor(t), k, state.DeleteOptions{})
		wantErr(t, fmt.Sprintf("Delete(%q)", k), err, state.ErrInvalidKey)
	}
	_, err := s.Set(ctxFor(t), "big", make([]byte, state.DefaultMaxValueBytes+1), state.SetOptions{})
	wantErr(t, "Set of an oversized value", err, state.ErrTooLarge)
	wantMissing(t, s, "big")
	_, err = s.Set(ctxFor(t), "k", []byte("v"), state.SetOptions{TTL: -time.Second})
	wantErr(t, "Set with a negative TTL", err, state.ErrInvalidArgument)
	_, err = s.Set(ctxFor(t), "k", []byte("v"), state.SetOptions{IfMatch: "1", IfNoneMatch: true})
	wantErr(t, "Set with IfMatch and IfNoneMatch", err, state.ErrInvalidArgument)
	wantMissing(t, s, "k")
}
