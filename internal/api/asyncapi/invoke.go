package asyncapi

import (
	"encoding/json"
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
	quoted, err := json.Marshal(id)
	if err != nil {
		apierror.Write(w, apierror.New(http.StatusInternalServerError, "internal", "encode invocation id: %v", err))
		return
	}
	body := make([]byte, 0, len(quoted)+9)
	body = append(append(append(body, `{"id":`...), quoted...), "}\n"...)
	h := w.Header()
	h["Location"] = []string{"/v1/invocations/" + id}
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(body)
}
