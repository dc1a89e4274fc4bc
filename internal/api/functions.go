package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-sh/hearth/internal/api/asyncapi"
	"github.com/hearth-sh/hearth/internal/apierror"
	"github.com/hearth-sh/hearth/internal/fnlog"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request) {
	fns, err := s.cfg.Functions.List(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	if fns == nil {
		fns = []registry.Function{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"functions": fns})
}

func (s *Server) getFunction(w http.ResponseWriter, r *http.Request) {
	fn, err := s.cfg.Functions.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	var snap any
	if s.cfg.Snapshot != nil {
		snap, _ = s.cfg.Snapshot(fn.Name)
	}
	writeJSON(w, http.StatusOK, struct {
		registry.Function
		Snapshot any `json:"snapshot,omitempty"`
	}{fn, snap})
}

func (s *Server) deleteFunction(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Functions.Delete(r.Context(), r.PathValue("name")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

const deployUsage = "send multipart/form-data with a part 'artifact' (the .wasm module or bundle) and an optional part 'config' (JSON function config)"

// deployFunction reads a multipart upload: part "config" (JSON) and part
// "artifact" (the code), and deploys a new version.
func (s *Server) deployFunction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := registry.ValidateName(name); err != nil {
		writeError(w, err)
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		writeError(w, apierror.New(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type %q: %s", r.Header.Get("Content-Type"), deployUsage))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxArtifactBytes+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, apierror.BadRequest("%v: %s", err, deployUsage))
		return
	}
	var cfg registry.Config
	var artifact []byte
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeError(w, bodyError(err, "upload", s.cfg.MaxArtifactBytes))
			return
		}
		switch part.FormName() {
		case "config":
			dec := json.NewDecoder(part)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&cfg); err != nil {
				writeError(w, bodyError(err, "config", s.cfg.MaxArtifactBytes))
				return
			}
		case "artifact":
			artifact, err = io.ReadAll(io.LimitReader(part, s.cfg.MaxArtifactBytes+1))
			if err != nil {
				writeError(w, bodyError(err, "artifact", s.cfg.MaxArtifactBytes))
				return
			}
			if int64(len(artifact)) > s.cfg.MaxArtifactBytes {
				writeError(w, apierror.TooLarge("artifact is larger than the %d-byte limit", s.cfg.MaxArtifactBytes))
				return
			}
		default:
			writeError(w, apierror.BadRequest("unknown part %q: %s", part.FormName(), deployUsage))
			return
		}
	}
	if len(artifact) == 0 {
		writeError(w, apierror.BadRequest("no artifact: %s", deployUsage))
		return
	}
	fn, err := s.cfg.Functions.Deploy(r.Context(), name, cfg, artifact)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, fn)
}

// bodyError turns a failure to read a request body into a precise API error.
func bodyError(err error, what string, limit int64) *apierror.Error {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return apierror.TooLarge("%s is larger than the %d-byte limit", what, limit)
	case errors.As(err, &syntax):
		return apierror.BadRequest("%s is not valid JSON: %v (at byte %d)", what, err, syntax.Offset)
	case errors.As(err, &typ):
		return apierror.BadRequest("%s: field %q must be a %s, not a JSON %s", what, typ.Field, typ.Type, typ.Value)
	default:
		return apierror.BadRequest("%s: %v", what, err)
	}
}

// presizedPayload is the largest stated body length readPayload
// allocates up front.
const presizedPayload = 64 << 10

// readPayload reads an invocation body within the payload limit.
func readPayload(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, invoke.MaxRequestBytes)
	if n := r.ContentLength; n >= 0 && n <= presizedPayload {
		// A small body of a stated length is read into a buffer of that
		// length (io.ReadAll starts at 512 bytes and grows by copying);
		// the server ends the body there. A large one is not trusted with
		// an allocation before its bytes arrive.
		b := make([]byte, n)
		if _, err := io.ReadFull(body, b); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, apierror.BadRequest("request payload ended after fewer bytes than its Content-Length of %d", n)
			}
			return nil, bodyError(err, "request payload", invoke.MaxRequestBytes)
		}
		return b, nil
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, bodyError(err, "request payload", invoke.MaxRequestBytes)
	}
	return b, nil
}

// guestHeaders copies the request headers a function may see: the node's
// own credentials never reach a guest.
func (s *Server) guestHeaders(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		if k == "Authorization" && s.cfg.Token != "" {
			continue
		}
		out[k] = v
	}
	return out
}

func (s *Server) invokeFunction(w http.ResponseWriter, r *http.Request) {
	payload, err := readPayload(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	// Like Lambda's Invoke, the payload is the event: the function gets the
	// body and its content type, not the caller's other headers (the HTTP
	// trigger hands over the whole request).
	req := runtime.Request{Method: http.MethodPost, Path: "/", Body: payload}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Headers = map[string][]string{"Content-Type": {ct}}
	}
	name := r.PathValue("name")
	if s.cfg.Async != nil && asyncapi.IsAsync(r) {
		asyncapi.ServeAsyncInvoke(w, r, s.cfg.Async, name, req)
		return
	}
	res, err := s.invokeOnce(r, name, req, w)
	writeInvokeHeaders(w, res)
	if err != nil {
		writeError(w, err)
		return
	}
	resp := res.Response
	if resp.Error != nil {
		w.Header().Set("X-Hearth-Function-Error", resp.Error.Type)
		writeJSON(w, http.StatusOK, map[string]string{"errorType": resp.Error.Type, "errorMessage": resp.Error.Message})
		return
	}
	ct := "application/json"
	if v := resp.Headers["Content-Type"]; len(v) > 0 {
		ct = v[0]
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(resp.Body)
}

// invokeOnce runs a synchronous invocation, at most once per Idempotency-Key
// within the function's window when the request carries one: a repeat gets
// the first result, marked with X-Hearth-Idempotent-Replayed.
func (s *Server) invokeOnce(r *http.Request, name string, req runtime.Request, w http.ResponseWriter) (*invoke.Result, error) {
	key := r.Header.Get(asyncapi.HeaderIdempotencyKey)
	if key == "" || s.cfg.Async == nil {
		return s.cfg.Functions.Invoke(r.Context(), name, req)
	}
	res, replayed, err := s.cfg.Async.Idempotent(r.Context(), name, key, func(ctx context.Context) (*invoke.Result, error) {
		return s.cfg.Functions.Invoke(ctx, name, req)
	})
	if replayed {
		w.Header().Set(asyncapi.HeaderReplayed, "true")
	}
	return res, err
}

// httpTrigger hands a whole HTTP request to the function and answers with
// the function's status, headers and body.
func (s *Server) httpTrigger(w http.ResponseWriter, r *http.Request) {
	payload, err := readPayload(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	req := runtime.Request{Method: r.Method, Path: "/" + r.PathValue("path"), Query: r.URL.RawQuery,
		Headers: s.guestHeaders(r.Header), Body: payload}
	res, err := s.invokeOnce(r, r.PathValue("name"), req, w)
	writeInvokeHeaders(w, res)
	if err != nil {
		writeError(w, err)
		return
	}
	resp := res.Response
	if resp.Error != nil {
		w.Header().Set("X-Hearth-Function-Error", resp.Error.Type)
		status := http.StatusInternalServerError
		if resp.Error.Type == "BadRequest" {
			status = http.StatusBadRequest
		}
		apierror.Write(w, apierror.New(status, "function_error", "%s", resp.Error.Error()))
		return
	}
	for k, v := range resp.Headers {
		w.Header()[http.CanonicalHeaderKey(k)] = v
	}
	status := resp.Status
	if status < 100 || status > 999 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(resp.Body)
}

// phaseOrder is the order of the cold-start phases in Server-Timing.
var phaseOrder = [...]string{"provision", "runtime", "code", "init", "restore", "handler"}

// writeInvokeHeaders reports how an invocation ran: its request id, the
// version that served it, cold or warm, and the phase times.
func writeInvokeHeaders(w http.ResponseWriter, res *invoke.Result) {
	if res == nil {
		return
	}
	h := w.Header()
	h.Set("X-Hearth-Request-Id", res.RequestID)
	h.Set("X-Hearth-Version", strconv.FormatInt(res.Version, 10))
	h.Set("X-Hearth-Cold", strconv.FormatBool(res.Cold))
	h.Set("Server-Timing", ServerTiming(res))
	if res.TraceID != "" {
		h.Set("X-Hearth-Trace-Id", res.TraceID)
	}
}

// ServerTiming formats an invocation's phases as a Server-Timing header
// value: every phase for a cold start, only the handler when warm.
func ServerTiming(res *invoke.Result) string {
	phases := invoke.PhaseMap(res.Phases)
	var b strings.Builder
	for _, name := range phaseOrder {
		d, ok := phases[name]
		if !ok || (!res.Cold && name != "handler") {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s;dur=%.3f", name, float64(d)/float64(time.Millisecond))
	}
	return b.String()
}

func (s *Server) functionLogs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := s.cfg.Functions.Get(r.Context(), name); err != nil {
		writeError(w, err)
		return
	}
	tail := 100
	if v := r.URL.Query().Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, apierror.BadRequest("tail %q must be a non-negative integer", v))
			return
		}
		tail = n
	}
	entries := s.cfg.Logs.Tail(name, tail)
	if r.URL.Query().Get("follow") != "true" {
		if entries == nil {
			entries = []fnlog.Entry{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
		return
	}
	// Follow: newline-delimited JSON, flushed per entry, until the client goes.
	follow := s.cfg.Logs.Follow(r.Context(), name)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	for _, e := range entries {
		_ = enc.Encode(e)
	}
	if flusher != nil {
		flusher.Flush()
	}
	for {
		select {
		case <-s.closing:
			return
		case e, ok := <-follow:
			if !ok {
				return
			}
			if err := enc.Encode(e); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}
