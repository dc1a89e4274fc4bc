package async

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// checkRecordJSON asserts that rec.appendJSON writes what json.Marshal
// writes, or fails where it fails, and reports whether they failed.
func checkRecordJSON(t *testing.T, rec *Record) (failed bool) {
	t.Helper()
	want, wantErr := json.Marshal(rec)
	got, err := rec.appendJSON(nil)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("appendJSON error = %v, json.Marshal error = %v", err, wantErr)
	}
	if wantErr != nil {
		return true
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appendJSON differs from json.Marshal\n got: %s\nwant: %s", got, want)
	}
	// Appending keeps what b held.
	prefixed, err := rec.appendJSON([]byte("prefix"))
	if err != nil {
		t.Fatalf("appendJSON after a prefix: %v", err)
	}
	if !bytes.Equal(prefixed, append([]byte("prefix"), want...)) {
		t.Fatalf("appendJSON after a prefix wrote %s", prefixed)
	}
	return false
}

func TestRecordJSON(t *testing.T) {
	utc := time.Date(2026, 11, 26, 5, 13, 18, 123456789, time.UTC)
	wholeSecond := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	trailingZeros := time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC)
	india := time.Date(2026, 11, 26, 10, 43, 18, 5, time.FixedZone("IST", 5*3600+30*60))
	west := time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", -(9*3600+45*60)))
	// An offset with seconds: RFC 3339 cannot hold them and both
	// encoders drop them alike.
	lmt := time.Date(1890, 3, 1, 0, 0, 0, 0, time.FixedZone("LMT", 3600+7))
	later := utc.Add(1500 * time.Millisecond)
	awkward := "quote \" backslash \\ newline \n cr \r tab \t bell \a bs \b ff \f nul \x00 unit \x1f " +
		"html <script>&amp;</script> unicode é 世界 🎉 separators \u2028 \u2029 invalid \xff\xfe end \xe2\x82"

	tests := []struct {
		name string
		rec  Record
	}{
		{"empty", Record{}},
		{"queued nil attempts", Record{ID: "a1", Function: "hello", Status: StatusQueued,
			Source: "api", CreatedAt: utc, UpdatedAt: utc}},
		{"queued empty attempts", Record{ID: "a1", Function: "hello", Status: StatusQueued,
			Attempts: []Attempt{}, CreatedAt: utc, UpdatedAt: utc}},
		{"running", Record{ID: "a2", Function: "hello", Status: StatusRunning, Source: "topic:orders",
			Attempts:  []Attempt{{Number: 1, Node: "n1", StartedAt: utc}},
			CreatedAt: utc, UpdatedAt: utc}},
		{"succeeded", Record{ID: "a3", Function: "hello", Status: StatusSucceeded, Source: "schedule:nightly",
			Attempts: []Attempt{{Number: 1, Node: "n1", StartedAt: utc, FinishedAt: &later, Outcome: "success"}},
			Result: &Result{Status: 200,
				Headers: map[string][]string{
					"Content-Type": {"text/plain"},
					"X-Multi":      {"one", "two", ""},
					"A-First":      {"a"},
					"X-Nil":        nil,
					"X-Empty":      {},
					"x-lower":      {"<&>"},
					"Ünïcode":      {"世界"},
				},
				Body:      []byte{0, 1, 2, 0xff, 0xfe, 'h', 'i', '\n'},
				RequestID: "req-1", Version: 7},
			CreatedAt: utc, UpdatedAt: later}},
		{"body needing padding", Record{ID: "a4", Status: StatusSucceeded,
			Result: &Result{Status: 204, Body: []byte("ab")}, CreatedAt: utc, UpdatedAt: utc}},
		{"empty result", Record{ID: "a5", Result: &Result{}, CreatedAt: utc, UpdatedAt: utc}},
		{"empty headers and body omitted", Record{ID: "a6",
			Result:    &Result{Status: 200, Headers: map[string][]string{}, Body: []byte{}},
			CreatedAt: utc, UpdatedAt: utc}},
		{"negative status and version", Record{ID: "a7",
			Result:    &Result{Status: -1, Version: -9223372036854775808},
			CreatedAt: utc, UpdatedAt: utc}},
		{"failed", Record{ID: "a8", Function: "fn\"name", Status: StatusFailed, Source: "redrive",
			Attempts: []Attempt{
				{Number: 1, Node: "n1", StartedAt: utc, FinishedAt: &later, Outcome: "error", Error: awkward},
				{Number: 2, Node: "n2", StartedAt: later, FinishedAt: &later, Outcome: "timeout", Error: "deadline exceeded"},
				{Number: -3, StartedAt: later, Outcome: "interrupted"},
			},
			Result: &Result{Status: 500, FunctionError: &runtime.FunctionError{Type: "HandlerError", Message: awkward}},
			Error:  awkward, CreatedAt: utc, UpdatedAt: later}},
		{"function error with empty fields", Record{ID: "a9",
			Result:    &Result{Status: 400, FunctionError: &runtime.FunctionError{}},
			CreatedAt: utc, UpdatedAt: utc}},
		{"retrying", Record{ID: "a10", Function: "hello", Status: StatusRetrying,
			Attempts:      []Attempt{{Number: 1, StartedAt: utc, FinishedAt: &later, Outcome: "crash", Error: "exit 2"}},
			NextAttemptAt: &later, CreatedAt: utc, UpdatedAt: later}},
		{"non-UTC zones", Record{ID: "a11", Status: StatusRetrying,
			Attempts:      []Attempt{{Number: 1, StartedAt: india, FinishedAt: &west}},
			NextAttemptAt: &lmt, CreatedAt: india, UpdatedAt: west}},
		{"nanosecond trimming", Record{ID: "a12", CreatedAt: wholeSecond, UpdatedAt: trailingZeros,
			NextAttemptAt: &wholeSecond}},
		{"zero times set", Record{ID: "a13", Attempts: []Attempt{{FinishedAt: &time.Time{}}},
			NextAttemptAt: &time.Time{}}},
		{"year bounds", Record{ID: "a14", CreatedAt: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
			UpdatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", 23*3600+59*60))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if checkRecordJSON(t, &tt.rec) {
				t.Fatal("both encoders refused a valid record")
			}
		})
	}
}

// TestRecordJSONRefusesWhatMarshalRefuses: times RFC 3339 cannot hold.
func TestRecordJSONRefusesWhatMarshalRefuses(t *testing.T) {
	utc := time.Date(2026, 11, 26, 5, 13, 18, 123456789, time.UTC)
	tests := []struct {
		name string
		rec  Record
	}{
		{"year after 9999", Record{ID: "e1", CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"negative year", Record{ID: "e2", UpdatedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"zone of 24 hours", Record{ID: "e3", Attempts: []Attempt{{StartedAt: utc.In(time.FixedZone("", 24*3600))}}}},
		{"zone of 100 hours", Record{ID: "e4", NextAttemptAt: ptrTime(utc.In(time.FixedZone("", -100*3600)))}},
		{"bad finished_at", Record{ID: "e5", Attempts: []Attempt{{FinishedAt: ptrTime(time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC))}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !checkRecordJSON(t, &tt.rec) {
				t.Fatal("both encoders accepted the record")
			}
		})
	}
	// The error names the field at fault.
	rec := Record{ID: "x", Attempts: []Attempt{{Number: 4, FinishedAt: ptrTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}}}
	_, err := rec.appendJSON(nil)
	if err == nil || !strings.Contains(err.Error(), "attempt 4: finished_at") {
		t.Fatalf("appendJSON error = %v, want one naming attempt 4's finished_at", err)
	}
}

// TestRecordJSONFieldsCovered fails when a field is added to a type that
// appendJSON encodes by hand: the encoder must learn it, then this list.
func TestRecordJSONFieldsCovered(t *testing.T) {
	known := map[reflect.Type][]string{
		reflect.TypeFor[Record](): {"ID id", "Function function", "Status status", "Source source,omitempty",
			"Attempts attempts", "Result result,omitempty", "Error error,omitempty", "CreatedAt created_at",
			"UpdatedAt updated_at", "NextAttemptAt next_attempt_at,omitempty"},
		reflect.TypeFor[Attempt](): {"Number number", "Node node,omitempty", "StartedAt started_at",
			"FinishedAt finished_at,omitempty", "Outcome outcome,omitempty", "Error error,omitempty"},
		reflect.TypeFor[Result](): {"Status status", "Headers headers,omitempty", "Body body,omitempty",
			"FunctionError function_error,omitempty", "RequestID request_id,omitempty", "Version version,omitempty"},
		reflect.TypeFor[runtime.FunctionError](): {"Type type", "Message message"},
	}
	marshaler := reflect.TypeFor[json.Marshaler]()
	for typ, want := range known {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name+" "+f.Tag.Get("json"))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s fields changed; update recordjson.go, then this list\n got: %q\nwant: %q", typ, got, want)
		}
		if typ.Implements(marshaler) || reflect.PointerTo(typ).Implements(marshaler) {
			t.Errorf("%s now has a MarshalJSON method; recordjson.go must call it", typ)
		}
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

func FuzzRecordJSON(f *testing.F) {
	f.Add("id-1", "hello", "boom \"x\"\n<&>", "Content-Type", "text/plain", []byte("hi"), 200, int64(3), int64(1764134000123456789), 0)
	f.Add("", "", "\xff\u2028é", "", "", []byte{}, 0, int64(0), int64(0), -330)
	f.Add("\x00\x1f", "世界", "", "K\xfe", "v\x7f", []byte{0xff, 0}, -1, int64(-1), int64(-1e18), 1440)
	f.Fuzz(func(t *testing.T, id, fn, msg, hdrKey, hdrVal string, body []byte, status int, version, unixNano int64, offsetMin int) {
		// offsetMin ranges past ±24 h so that the zone checks are fuzzed too.
		zone := time.FixedZone(msg, (offsetMin%(200*60))*60)
		at := time.Unix(0, unixNano).In(zone)
		finished := at.Add(time.Duration(version))
		rec := Record{ID: id, Function: fn, Status: msg, Source: hdrVal, Error: msg,
			Attempts: []Attempt{
				{Number: status, Node: hdrKey, StartedAt: at, FinishedAt: &finished, Outcome: fn, Error: msg},
				{Number: 2, StartedAt: finished},
			},
			Result: &Result{Status: status, Body: body, RequestID: id, Version: version,
				Headers:       map[string][]string{hdrKey: {hdrVal, msg}, hdrVal: {hdrKey}, msg: nil},
				FunctionError: &runtime.FunctionError{Type: hdrKey, Message: msg}},
			CreatedAt: at, UpdatedAt: finished.UTC(), NextAttemptAt: &finished}
		checkRecordJSON(t, &rec)
	})
}

// BenchmarkRecordJSON compares appendJSON with json.Marshal on a typical
// succeeded record. "append/new" is what saveRecord pays with appendJSON(nil);
// "append/reuse" shows the cost left when a caller reuses its buffer.
func BenchmarkRecordJSON(b *testing.B) {
	started := time.Date(2026, 11, 26, 5, 13, 18, 123456789, time.UTC)
	finished := started.Add(1234567 * time.Nanosecond)
	rec := &Record{ID: "0193f2a4c8e97b1d9a2f6c3e5d7b8a90", Function: "hello", Status: StatusSucceeded, Source: "api",
		Attempts: []Attempt{{Number: 1, Node: "node-1", StartedAt: started, FinishedAt: &finished, Outcome: "success"}},
		Result: &Result{Status: 200, Headers: map[string][]string{"Content-Type": {"text/plain"}},
			Body: []byte("hello, world\n"), RequestID: "0193f2a4c8e97b1d9a2f6c3e5d7b8a90-1", Version: 3},
		CreatedAt: started.Add(-time.Millisecond), UpdatedAt: finished}
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append/new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rec.appendJSON(nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append/reuse", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = rec.appendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestRecordJSONStringEscapes compares appendJSONString with json.Marshal
// on every byte value and on the UTF-8 sequences encoding/json treats
// specially.
func TestRecordJSONStringEscapes(t *testing.T) {
	inputs := []string{"", "plain", "\u2028", "\u2029", "\u2027\u202a", "\ufffd", "\U0001f389",
		"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "é\xff", "\xf0\x9f\x8e"}
	for c := range 256 {
		inputs = append(inputs, "a"+string([]byte{byte(c)})+"b")
	}
	for _, s := range inputs {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("json.Marshal(%q): %v", s, err)
		}
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendJSONString(%q) = %s, json.Marshal writes %s", s, got, want)
		}
	}
}
