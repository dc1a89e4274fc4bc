package asyncapi

import (
	"net/http"
	"strconv"

	"github.com/hearth-sh/hearth/internal/apierror"
	"github.com/hearth-sh/hearth/internal/async"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// Headers of the invoke endpoint that concern async invocations.
const (
	// HeaderInvocationType "Event" asks for an async invocation (202).
	HeaderInvocationType = "X-Hearth-Invocation-Type"
	// HeaderIdempotencyKey makes an invocation run at most once per key
	// within the function's idempotency window.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderReplayed is "true" on a sync answer replayed for a repeated key.
	HeaderReplayed = "X-Hearth-Idempotent-Replayed"
)

// IsAsync reports whether r asks for an async invocation.
func IsAsync(r *http.Request) bool { return r.Header.Get(HeaderInvocationType) == "Event" }

// ServeAsyncInvoke queues req for function and answers 202 with
// {"id": ...} and a Location of the invocation's record, or an API error.
// The invoke handler calls it when IsAsync(r).
func ServeAsyncInvoke(w http.ResponseWriter, r *http.Request, svc *async.Service, function string, req runtime.Request) {
	id, err := svc.Enqueue(r.Context(), function, req, r.Header.Get(HeaderIdempotencyKey))
	if err != nil {
		apierror.Write(w, StatusOf(err))
		return
	}
	// The hot path of async invokes: the answer is written as is, without
	// a map for encoding/json to walk.
	body := make([]byte, 0, len(id)+10)
	body = append(strconv.AppendQuote(append(body, `{"id":`...), id), "}\n"...)
	h := w.Header()
	vals := []string{"/v1/invocations/" + id, "application/json", strconv.Itoa(len(body))} // one allocation
	h["Location"] = vals[0:1:1]
	h["Content-Type"] = vals[1:2:2]
	h["Content-Length"] = vals[2:3:3]
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(body)
}
