package async

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// envelope is one queued invocation, as stored in the work-queue stream.
type envelope struct {
	ID             string          `json:"id"`
	Function       string          `json:"function"`
	Request        runtime.Request `json:"request"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	Source         string          `json:"source,omitempty"`
	EnqueuedAt     time.Time       `json:"enqueued_at"`
	// Previous holds the attempts of earlier runs (a redriven dead letter).
	Previous []Attempt `json:"previous,omitempty"`
	// nonce, for an invocation whose id is made of its place in the
	// stream (see seqID), is the id's random half.
	nonce string
}

// Most invocations (those queued with no id or idempotency key of their
// own) share one subject per function, hearth.async.invoke.<fn>.q, and
// their id is made once the message is stored: a random nonce and the
// message's sequence in the stream. A queued invocation's record is then
// read by sequence (checked against the nonce), and the server keeps no
// per-subject state per invocation: a subject per invocation cost it a
// subject-index entry to add, match and remove for every one, and its
// collector the scanning of an index as large as the backlog.
// Invocations with an id of their own (a destination's, a redrive's, one
// claimed by an idempotency key before it is queued) keep a subject each.
const seqSubjectToken = "q"

// seqID is the id of an invocation queued on its function's shared
// subject: nonce, "-", and its sequence in the stream.
func seqID(nonce string, seq uint64) string {
	return nonce + "-" + strconv.FormatUint(seq, 10)
}

// parseSeqID splits an id that seqID made; ok is false for other ids.
func parseSeqID(id string) (nonce string, seq uint64, ok bool) {
	nonce, digits, found := strings.Cut(id, "-")
	if !found || len(nonce) != 16 || strings.Contains(digits, "-") {
		return "", 0, false
	}
	for _, c := range nonce {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", 0, false
		}
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || seq == 0 {
		return "", 0, false
	}
	return nonce, seq, true
}

// A queued invocation's message carries its envelope in headers and the
// request body as the message data, as is (version 2). Version 1, a JSON
// envelope as the data, is what nodes wrote before; it is still read, and
// still written for the rare envelope whose fields a header cannot hold.
// Headers cost a fraction of encoding/json's reflection both ways, and the
// body is not base64-encoded.
const (
	hdrEnvelope       = "Hearth-Envelope" // "2"
	hdrID             = "Hearth-Id"
	hdrNonce          = "Hearth-Nonce"       // instead of Hearth-Id: see seqID
	hdrFunction       = "Hearth-Function"    // read, no longer written: the subject names it
	hdrSource         = "Hearth-Source"      // absent: "api"
	hdrEnqueuedAt     = "Hearth-Enqueued-At" // RFC 3339, nanoseconds
	hdrIdempotencyKey = "Hearth-Idempotency-Key"
	hdrMethod         = "Hearth-Method" // absent: POST
	hdrPath           = "Hearth-Path"   // absent: "/"
	hdrQuery          = "Hearth-Query"
	hdrPrevious       = "Hearth-Previous" // JSON array of Attempt
	// hdrRequestPrefix precedes each header of the request itself.
	hdrRequestPrefix = "Hearth-Req-"
)

// encodeEnvelope sets msg's data and headers (whose other entries, the
// trace context, it keeps) to env.
func encodeEnvelope(env envelope, msg *nats.Msg) error {
	if !headerSafe(env) {
		b, err := json.Marshal(env)
		if err != nil {
			return fmt.Errorf("encode invocation %s: %w", env.ID, err)
		}
		msg.Data = b
		return nil
	}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	h := msg.Header
	// The three values every envelope has share one allocation.
	always := []string{"2", env.nonce, env.EnqueuedAt.Format(time.RFC3339Nano)}
	h[hdrEnvelope] = always[0:1:1]
	if env.nonce != "" {
		h[hdrNonce] = always[1:2:2]
	} else {
		always[1] = env.ID
		h[hdrID] = always[1:2:2]
	}
	h[hdrEnqueuedAt] = always[2:3:3]
	set := func(k, v string) {
		if v != "" {
			h[k] = []string{v}
		}
	}
	// Each header is allocated again by every reader: the common values
	// are left out.
	unlessDefault := func(k, v, def string) {
		if v != def {
			h[k] = []string{v}
		}
	}
	unlessDefault(hdrSource, env.Source, "api")
	unlessDefault(hdrMethod, env.Request.Method, http.MethodPost)
	unlessDefault(hdrPath, env.Request.Path, "/")
	set(hdrIdempotencyKey, env.IdempotencyKey)
	set(hdrQuery, env.Request.Query)
	if len(env.Previous) > 0 {
		b, err := json.Marshal(env.Previous)
		if err != nil {
			return fmt.Errorf("encode invocation %s: %w", env.ID, err)
		}
		h[hdrPrevious] = []string{string(b)}
	}
	for k, vs := range env.Request.Headers {
		h[hdrRequestPrefix+k] = vs
	}
	msg.Data = env.Request.Body
	return nil
}

// headerSafe says whether every field of env can travel as a header
// value: NATS headers end at a line break, and keys end at a colon.
func headerSafe(env envelope) bool {
	ok := func(v string) bool { return !strings.ContainsAny(v, "\r\n") }
	if !ok(env.ID) || !ok(env.Function) || !ok(env.Source) || !ok(env.IdempotencyKey) ||
		!ok(env.Request.Method) || !ok(env.Request.Path) || !ok(env.Request.Query) {
		return false
	}
	for k, vs := range env.Request.Headers {
		if k == "" || strings.ContainsAny(k, "\r\n: \t") {
			return false
		}
		for _, v := range vs {
			if !ok(v) {
				return false
			}
		}
	}
	return true
}

// decodeEnvelope reads a queued invocation's message, of either version;
// subject and seq are where it is in the stream.
func decodeEnvelope(h nats.Header, data []byte, subject string, seq uint64) (envelope, error) {
	if h.Get(hdrEnvelope) != "2" {
		var env envelope
		if err := json.Unmarshal(data, &env); err != nil {
			return envelope{}, fmt.Errorf("decode queued invocation: %w", err)
		}
		return env, nil
	}
	env := envelope{ID: h.Get(hdrID), Function: h.Get(hdrFunction), Source: orDefault(h, hdrSource, "api"),
		IdempotencyKey: h.Get(hdrIdempotencyKey)}
	if env.Function == "" {
		// hearth.async.invoke.<fn>.<id or q>; function names have no dots.
		if rest, ok := strings.CutPrefix(subject, invokeSubjectPrefix); ok {
			env.Function, _, _ = strings.Cut(rest, ".")
		}
	}
	if nonce := h.Get(hdrNonce); env.ID == "" && nonce != "" {
		env.ID, env.nonce = seqID(nonce, seq), nonce
	}
	if env.ID == "" || env.Function == "" {
		return envelope{}, fmt.Errorf("decode queued invocation on %q: the %s (or %s) header and a function in the subject are required", subject, hdrID, hdrNonce)
	}
	t, err := time.Parse(time.RFC3339Nano, h.Get(hdrEnqueuedAt))
	if err != nil {
		return envelope{}, fmt.Errorf("decode queued invocation %s: %s: %w", env.ID, hdrEnqueuedAt, err)
	}
	env.EnqueuedAt = t
	if p := h.Get(hdrPrevious); p != "" {
		if err := json.Unmarshal([]byte(p), &env.Previous); err != nil {
			return envelope{}, fmt.Errorf("decode queued invocation %s: %s: %w", env.ID, hdrPrevious, err)
		}
	}
	env.Request = runtime.Request{ID: env.ID, Method: orDefault(h, hdrMethod, http.MethodPost), Path: orDefault(h, hdrPath, "/"),
		Query: h.Get(hdrQuery), Body: data}
	for k, vs := range h {
		if name, ok := strings.CutPrefix(k, hdrRequestPrefix); ok {
			if env.Request.Headers == nil {
				env.Request.Headers = make(map[string][]string, 2)
			}
			env.Request.Headers[name] = vs
		}
	}
	return env, nil
}

// orDefault is h's value for key, or def when h has none (an empty value
// is a value).
func orDefault(h nats.Header, key, def string) string {
	if vs, ok := h[key]; ok && len(vs) > 0 {
		return vs[0]
	}
	return def
}
