package async

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hearth-sh/hearth/internal/runtime"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 26, 5, 0, 0, 123456789, time.UTC)
	end := at.Add(time.Second)
	cases := []struct {
		name string
		env  envelope
		v2   bool // travels in headers
	}{
		{"minimal", envelope{ID: "a1", Function: "f", EnqueuedAt: at}, true},
		{"api invoke", envelope{ID: "a2", Function: "f", Source: "api", IdempotencyKey: "order-7", EnqueuedAt: at,
			Request: runtime.Request{Method: "POST", Path: "/", Body: []byte(`{"x":1}`),
				Headers: map[string][]string{"Content-Type": {"application/json"}}}}, true},
		{"binary body, query, many header values", envelope{ID: "a3", Function: "f", Source: "schedule:nightly", EnqueuedAt: at,
			Request: runtime.Request{Method: "GET", Path: "/p/q", Query: "a=1&b=%20", Body: []byte{0, 1, 0xff, '\n', '\r'},
				Headers: map[string][]string{"Accept": {"a", "b"}, "X-Empty": {""}}}}, true},
		{"redrive with earlier attempts", envelope{ID: "a4", Function: "f", Source: "redrive", EnqueuedAt: at,
			Previous: []Attempt{{Number: 1, Node: "n1", StartedAt: at, FinishedAt: &end, Outcome: "error", Error: "line one\nline \"two\""}}}, true},
		{"zoned time", envelope{ID: "a5", Function: "f", EnqueuedAt: at.In(time.FixedZone("x", 3600))}, true},
		{"a line break in a value falls back to JSON", envelope{ID: "a6", Function: "f", IdempotencyKey: "k\r\nInjected: yes", EnqueuedAt: at}, false},
		{"a colon in a header name falls back to JSON", envelope{ID: "a7", Function: "f", EnqueuedAt: at,
			Request: runtime.Request{Headers: map[string][]string{"Bad:Name": {"v"}}}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := nats.NewMsg(invokeSubject(tc.env.Function, "x"))
			msg.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
			if err := encodeEnvelope(tc.env, msg); err != nil {
				t.Fatal(err)
			}
			if got := msg.Header.Get(hdrEnvelope) == "2"; got != tc.v2 {
				t.Fatalf("in headers = %v, want %v", got, tc.v2)
			}
			if msg.Header.Get("traceparent") == "" {
				t.Fatal("the trace context header was dropped")
			}
			// Through the wire format, as a worker receives it.
			h, data := wire(t, msg)
			got, err := decodeEnvelope(h, data, msg.Subject, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.env
			if tc.v2 {
				want.Request.ID = want.ID // version 1 carries what it was given
			}
			if !got.EnqueuedAt.Equal(want.EnqueuedAt) {
				t.Fatalf("enqueued at %v, want %v", got.EnqueuedAt, want.EnqueuedAt)
			}
			got.EnqueuedAt, want.EnqueuedAt = time.Time{}, time.Time{}
			normalize(&got)
			normalize(&want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// normalize makes envelopes comparable: empty and nil mean the same.
func normalize(e *envelope) {
	if len(e.Request.Body) == 0 {
		e.Request.Body = nil
	}
	if len(e.Request.Headers) == 0 {
		e.Request.Headers = nil
	}
	for i := range e.Previous {
		a := &e.Previous[i]
		a.StartedAt = a.StartedAt.UTC()
		if a.FinishedAt != nil {
			f := a.FinishedAt.UTC()
			a.FinishedAt = &f
		}
	}
}

// wire encodes msg's headers as NATS sends them and parses them back.
func wire(t *testing.T, msg *nats.Msg) (nats.Header, []byte) {
	t.Helper()
	var b strings.Builder
	b.WriteString("NATS/1.0\r\n")
	for k, vs := range msg.Header {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	h, err := nats.DecodeHeadersMsg([]byte(b.String()))
	if err != nil {
		t.Fatalf("headers do not parse: %v\n%q", err, b.String())
	}
	return h, append([]byte(nil), msg.Data...)
}

func TestDecodeEnvelopeErrors(t *testing.T) {
	v1, err := json.Marshal(envelope{ID: "old", Function: "f", Source: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if env, err := decodeEnvelope(nats.Header{}, v1, "", 0); err != nil || env.ID != "old" || env.Source != "api" {
		t.Fatalf("version 1 = %+v, %v", env, err)
	}
	cases := []struct {
		name string
		h    nats.Header
		data []byte
		want string
	}{
		{"not JSON", nats.Header{}, []byte("{"), "decode queued invocation"},
		{"no id", nats.Header{hdrEnvelope: {"2"}, hdrFunction: {"f"}}, nil, "Hearth-Id"},
		{"no function", nats.Header{hdrEnvelope: {"2"}, hdrID: {"i"}}, nil, "a function in the subject"}, // and a subject not of a queue
		{"bad time", nats.Header{hdrEnvelope: {"2"}, hdrID: {"i"}, hdrFunction: {"f"}, hdrEnqueuedAt: {"yesterday"}}, nil, hdrEnqueuedAt},
		{"bad previous", nats.Header{hdrEnvelope: {"2"}, hdrID: {"i"}, hdrFunction: {"f"},
			hdrEnqueuedAt: {"2026-01-01T00:00:00Z"}, hdrPrevious: {"[{"}}, nil, hdrPrevious},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeEnvelope(tc.h, tc.data, "hearth.elsewhere", 0); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one that names %q", err, tc.want)
			}
		})
	}
}

// TestSeqID: an invocation queued on its function's shared subject gets
// its id from its nonce and its sequence, and only such ids parse.
func TestSeqID(t *testing.T) {
	at := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	msg := nats.NewMsg(invokeSubject("f", seqSubjectToken))
	if err := encodeEnvelope(envelope{Function: "f", EnqueuedAt: at, nonce: "0123456789abcdef"}, msg); err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get(hdrID) != "" {
		t.Fatalf("an id header %q for an invocation whose id is not made yet", msg.Header.Get(hdrID))
	}
	h, data := wire(t, msg)
	env, err := decodeEnvelope(h, data, msg.Subject, 42)
	if err != nil {
		t.Fatal(err)
	}
	if env.ID != "0123456789abcdef-42" || env.Request.ID != env.ID {
		t.Fatalf("id %q, request id %q; want 0123456789abcdef-42 for both", env.ID, env.Request.ID)
	}
	cases := []struct {
		id    string
		nonce string
		seq   uint64
		ok    bool
	}{
		{"0123456789abcdef-42", "0123456789abcdef", 42, true},
		{seqID(newNonce(), 18446744073709551615), "", 18446744073709551615, true},
		{"0123456789abcdef-0", "", 0, false},
		{"0123456789abcdef-", "", 0, false},
		{"0123456789abcdef-4-2", "", 0, false},
		{"0123456789ABCDEF-42", "", 0, false},
		{"0123456789abcde-42", "", 0, false},
		{"7d3c5e0f9a1b4c2d8e6f7a9b0c1d2e3f", "", 0, false}, // a random id
		{"7d3c5e0f9a1b4c2d8e6f7a9b0c1d2e3f-ok", "", 0, false},
	}
	for _, tc := range cases {
		nonce, seq, ok := parseSeqID(tc.id)
		if ok != tc.ok || (ok && seq != tc.seq) || (ok && tc.nonce != "" && nonce != tc.nonce) {
			t.Errorf("parseSeqID(%q) = %q, %d, %v", tc.id, nonce, seq, ok)
		}
	}
}
