package hearth

import "strings"

// TraceParent returns the invocation's W3C trace context as the node passes
// it ("00-<trace id>-<span id>-<flags>"), for a function to put on the
// requests it makes so that they join the invocation's trace; "" when the
// node sent none.
func (r Request) TraceParent() string {
	return r.Headers.Get("Traceparent")
}

// TraceID returns the invocation's trace id (32 hex digits): the id the
// node returns in X-Hearth-Trace-Id, writes in its log line for the
// invocation and serves at GET /v1/traces/{id}. It is "" when the
// invocation carries no well-formed trace context.
func (r Request) TraceID() string {
	parts := strings.Split(r.TraceParent(), "-")
	if len(parts) != 4 || len(parts[1]) != 32 || strings.Trim(parts[1], "0") == "" {
		return ""
	}
	for _, c := range parts[1] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return ""
		}
	}
	return parts[1]
}
