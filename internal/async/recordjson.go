package async

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// A record is written once or twice per async invocation, and
// encoding/json's reflection (with time.Time.MarshalJSON for each time)
// cost several µs of that invocation's CPU. appendJSON writes the same
// bytes by hand.
//
// Invariant: appendJSON's output is byte for byte what json.Marshal writes
// for the same value, so records written either way read back the same and
// the two can be mixed in one bucket. recordjson_test.go checks it on a
// table and a fuzz target; a field added to Record, Attempt, Result or
// runtime.FunctionError must be added here too, or those tests fail
// (TestRecordJSONFieldsCovered lists the fields it knows).

// appendJSON appends r's JSON encoding to b and returns the extended slice.
// Its output is byte-identical to json.Marshal(r): same field names and
// omitempty rules, map keys sorted, strings escaped as encoding/json
// escapes them (HTML characters included), times as time.Time.MarshalJSON
// writes them.
//
// # Notes
//
// It fails exactly where json.Marshal fails: on a time that RFC 3339 cannot
// hold (a year outside [0,9999] or a zone offset of 24 hours or more).
// With b nil it allocates once, sized from r; a caller that reuses b must
// not reuse it while a publish may still read it.
func (r *Record) appendJSON(b []byte) ([]byte, error) {
	b = slices.Grow(b, r.jsonSizeHint())
	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"function":`...)
	b = appendJSONString(b, r.Function)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, r.Status)
	if r.Source != "" {
		b = append(b, `,"source":`...)
		b = appendJSONString(b, r.Source)
	}
	b = append(b, `,"attempts":`...)
	if r.Attempts == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Attempts {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = r.Attempts[i].appendJSON(b); err != nil {
				return nil, fmt.Errorf("attempt %d: %w", r.Attempts[i].Number, err)
			}
		}
		b = append(b, ']')
	}
	if r.Result != nil {
		b = append(b, `,"result":`...)
		b = r.Result.appendJSON(b)
	}
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, r.Error)
	}
	var err error
	b = append(b, `,"created_at":`...)
	if b, err = appendJSONTime(b, r.CreatedAt); err != nil {
		return nil, fmt.Errorf("created_at: %w", err)
	}
	b = append(b, `,"updated_at":`...)
	if b, err = appendJSONTime(b, r.UpdatedAt); err != nil {
		return nil, fmt.Errorf("updated_at: %w", err)
	}
	if r.NextAttemptAt != nil {
		b = append(b, `,"next_attempt_at":`...)
		if b, err = appendJSONTime(b, *r.NextAttemptAt); err != nil {
			return nil, fmt.Errorf("next_attempt_at: %w", err)
		}
	}
	return append(b, '}'), nil
}

// jsonSizeHint is about the length of r's encoding when nothing in it
// needs escaping, so that appendJSON(nil) allocates once in the usual case;
// a longer encoding only costs append's regrowth.
func (r *Record) jsonSizeHint() int {
	// Field names, punctuation and two times (35 bytes each at most) take
	// under 160 bytes; an attempt's fixed part (with two times) under 150.
	n := 160 + len(r.ID) + len(r.Function) + len(r.Status) + len(r.Source) + len(r.Error)
	for i := range r.Attempts {
		a := &r.Attempts[i]
		n += 150 + len(a.Node) + len(a.Outcome) + len(a.Error)
	}
	if res := r.Result; res != nil {
		n += 120 + base64.StdEncoding.EncodedLen(len(res.Body)) + len(res.RequestID)
		for k, vs := range res.Headers {
			n += len(k) + 6
			for _, v := range vs {
				n += len(v) + 3
			}
		}
		if fe := res.FunctionError; fe != nil {
			n += 30 + len(fe.Type) + len(fe.Message)
		}
	}
	return n
}

// appendJSON appends a's JSON encoding, as json.Marshal writes it.
func (a *Attempt) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"number":`...)
	b = strconv.AppendInt(b, int64(a.Number), 10)
	if a.Node != "" {
		b = append(b, `,"node":`...)
		b = appendJSONString(b, a.Node)
	}
	var err error
	b = append(b, `,"started_at":`...)
	if b, err = appendJSONTime(b, a.StartedAt); err != nil {
		return nil, fmt.Errorf("started_at: %w", err)
	}
	if a.FinishedAt != nil {
		b = append(b, `,"finished_at":`...)
		if b, err = appendJSONTime(b, *a.FinishedAt); err != nil {
			return nil, fmt.Errorf("finished_at: %w", err)
		}
	}
	if a.Outcome != "" {
		b = append(b, `,"outcome":`...)
		b = appendJSONString(b, a.Outcome)
	}
	if a.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, a.Error)
	}
	return append(b, '}'), nil
}

// appendJSON appends r's JSON encoding, as json.Marshal writes it.
func (r *Result) appendJSON(b []byte) []byte {
	b = append(b, `{"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	if len(r.Headers) > 0 {
		b = append(b, `,"headers":`...)
		b = appendJSONHeaders(b, r.Headers)
	}
	if len(r.Body) > 0 {
		b = append(b, `,"body":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.Body)
		b = append(b, '"')
	}
	if fe := r.FunctionError; fe != nil {
		// runtime.FunctionError has no MarshalJSON and no omitempty tags.
		b = append(b, `,"function_error":{"type":`...)
		b = appendJSONString(b, fe.Type)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, fe.Message)
		b = append(b, '}')
	}
	if r.RequestID != "" {
		b = append(b, `,"request_id":`...)
		b = appendJSONString(b, r.RequestID)
	}
	if r.Version != 0 {
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, r.Version, 10)
	}
	return append(b, '}')
}

// appendJSONHeaders appends h as a JSON object with its keys sorted, as
// encoding/json sorts map keys.
func appendJSONHeaders(b []byte, h map[string][]string) []byte {
	// Responses rarely carry more than a few headers; keys that fit the
	// array stay on the stack.
	var arr [16]string
	keys := arr[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		vs := h[k]
		if vs == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		for j, v := range vs {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, v)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSONTime appends t as time.Time.MarshalJSON writes it: RFC 3339
// with nanoseconds (trailing zeros dropped), quoted.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	// The checks time.Time.MarshalJSON makes: not every time.Time is valid
	// RFC 3339, and json.Marshal refuses those that are not.
	switch {
	case b[n0+len("9999")] != '-':
		return nil, fmt.Errorf("time %s: year outside of range [0,9999]", b[n0:])
	case b[len(b)-1] != 'Z':
		zone := b[len(b)-len("Z07:00"):]
		hours := 10*int(zone[1]-'0') + int(zone[2]-'0')
		if isDigit(zone[0]) || hours >= 24 {
			return nil, fmt.Errorf("time %s: timezone hour outside of range [0,23]", b[n0:])
		}
	}
	return append(b, '"'), nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

const hexDigits = "0123456789abcdef"

// The ASCII bytes encoding/json writes as is (with HTML escaping on, its
// default), as bit sets: bytes 0-63 in jsonSafeLow, 64-127 in jsonSafeHigh.
// Everything from space up, except " & < > and \.
const (
	jsonSafeLow  uint64 = 0xffffffff00000000 &^ (1<<'"' | 1<<'&' | 1<<'<' | 1<<'>')
	jsonSafeHigh uint64 = ^uint64(0) &^ (1 << ('\\' - 64))
)

// jsonSafe reports whether encoding/json writes the ASCII byte c as is.
func jsonSafe(c byte) bool {
	if c < 64 {
		return jsonSafeLow>>c&1 != 0
	}
	return jsonSafeHigh>>(c&63)&1 != 0
}

// appendJSONString appends s as a JSON string, escaped exactly as
// encoding/json escapes it: `"` and `\` with a backslash; \b \f \n \r \t by
// name; other control characters, <, > and & as \u00XX; U+2028 and U+2029
// as \u2028 and \u2029 (they end a line in JavaScript); and each byte of
// invalid UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe(c) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
