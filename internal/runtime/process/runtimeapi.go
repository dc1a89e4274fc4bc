package process

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// The Lambda Runtime API, as the guest sees it at $AWS_LAMBDA_RUNTIME_API.
const (
	apiPrefix = "/2018-06-01/runtime"

	hdrRequestID       = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadline        = "Lambda-Runtime-Deadline-Ms"
	hdrFunctionARN     = "Lambda-Runtime-Invoked-Function-Arn"
	hdrTraceID         = "Lambda-Runtime-Trace-Id"
	hdrClientContext   = "Lambda-Runtime-Client-Context"
	hdrCognitoIdentity = "Lambda-Runtime-Cognito-Identity"
	hdrErrorType       = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody   = "Lambda-Runtime-Function-Error-Body"

	// maxErrorBytes bounds an error document a guest posts.
	maxErrorBytes = 1 << 20
)

// Request headers through which callers hand a guest its invocation
// context (the Lambda-compatible invoke API sets them).
const (
	// HeaderClientContext carries base64 JSON, as Lambda's Invoke takes it.
	HeaderClientContext = "X-Amz-Client-Context"
	// HeaderCognitoIdentity carries the identity JSON as is.
	HeaderCognitoIdentity = "X-Amz-Cognito-Identity"
	// HeaderTraceID carries an X-Ray trace header to pass on.
	HeaderTraceID = "X-Amzn-Trace-Id"
)

// ErrorDocument is the error a Lambda function reports: the body of POST
// /invocation/{id}/error and of Lambda's Invoke answer for a function error.
type ErrorDocument struct {
	ErrorMessage string          `json:"errorMessage"`
	ErrorType    string          `json:"errorType"`
	StackTrace   json.RawMessage `json:"stackTrace,omitempty"`
}

func (p *proc) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"/invocation/next", p.handleNext)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/response", p.handleResponse)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/error", p.handleError)
	mux.HandleFunc("POST "+apiPrefix+"/init/error", p.handleInitError)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "InvalidRoute", fmt.Sprintf("%s %s is not part of the Lambda Runtime API", r.Method, r.URL.Path))
	})
	return mux
}

func apiError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorDocument{ErrorType: typ, ErrorMessage: msg})
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

// handleNext long-polls for the next event. The first call marks the end
// of the cold start. A call while the guest holds an invocation it never
// answered fails that invocation.
func (p *proc) handleNext(w http.ResponseWriter, r *http.Request) {
	p.readyOnce.Do(func() {
		p.readyAt = p.t.rt.clock.Now()
		close(p.ready)
	})
	if inv := p.take(""); inv != nil {
		inv.done <- outcome{err: fmt.Errorf("%w: the runtime asked for the next event without answering request %s", runtime.ErrTrap, inv.req.ID)}
	}
	var inv *invocation
	select {
	case inv = <-p.next:
	case <-r.Context().Done():
		return
	}
	p.mu.Lock()
	p.cur, p.served = inv, true
	p.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(hdrRequestID, inv.req.ID)
	h.Set(hdrDeadline, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set(hdrFunctionARN, p.t.arn)
	h.Set(hdrTraceID, traceID(inv.req))
	if cc := clientContext(inv.req); cc != "" {
		h.Set(hdrClientContext, cc)
	}
	if id := header(inv.req, HeaderCognitoIdentity); id != "" {
		h.Set(hdrCognitoIdentity, id)
	}
	h.Set("Content-Length", strconv.Itoa(len(inv.req.Body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.req.Body)
}

// take removes and returns the invocation the guest holds, if its id is id
// (any id when id is empty).
func (p *proc) take(id string) *invocation {
	p.mu.Lock()
	defer p.mu.Unlock()
	inv := p.cur
	if inv == nil || (id != "" && inv.req.ID != id) {
		return nil
	}
	p.cur = nil
	return inv
}

func (p *proc) handleResponse(w http.ResponseWriter, r *http.Request) {
	inv := p.take(r.PathValue("id"))
	if inv == nil {
		apiError(w, http.StatusBadRequest, "InvalidRequestID", fmt.Sprintf("request %s is not in progress", r.PathValue("id")))
		return
	}
	limit := p.t.spec.MaxResponseBytes
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		inv.done <- outcome{err: fmt.Errorf("%w: reading the response of request %s: %v", runtime.ErrTrap, inv.req.ID, err)}
		apiError(w, http.StatusBadRequest, "InvalidResponse", err.Error())
		return
	}
	if int64(len(body)) > limit {
		inv.done <- outcome{err: fmt.Errorf("%w: more than %d bytes", runtime.ErrResponseTooLarge, limit)}
		apiError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("the response is larger than the %d-byte limit", limit))
		return
	}
	// A streamed response that failed half-way reports its error in the
	// trailers (aws-lambda-go does this when its io.Reader fails).
	if typ := r.Trailer.Get(hdrErrorType); typ != "" {
		doc := ErrorDocument{ErrorType: typ, ErrorMessage: "the function failed while streaming its response"}
		if b, err := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerErrorBody)); err == nil {
			_ = json.Unmarshal(b, &doc)
		}
		inv.done <- outcome{resp: errorResponse(doc)}
		accepted(w)
		return
	}
	inv.done <- outcome{resp: runtime.Response{Status: http.StatusOK, Body: body}}
	accepted(w)
}

func (p *proc) handleError(w http.ResponseWriter, r *http.Request) {
	inv := p.take(r.PathValue("id"))
	if inv == nil {
		apiError(w, http.StatusBadRequest, "InvalidRequestID", fmt.Sprintf("request %s is not in progress", r.PathValue("id")))
		return
	}
	inv.done <- outcome{resp: errorResponse(readErrorDocument(r))}
	accepted(w)
}

func (p *proc) handleInitError(w http.ResponseWriter, r *http.Request) {
	select {
	case <-p.ready:
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "init/error after the first invocation/next")
		return
	default:
	}
	doc := readErrorDocument(r)
	select {
	case p.initErr <- &runtime.FunctionError{Type: doc.ErrorType, Message: doc.ErrorMessage}:
	default: // the first report wins
	}
	accepted(w)
}

// readErrorDocument reads the error a guest posts, tolerating what is not
// the documented JSON: its text becomes the message.
func readErrorDocument(r *http.Request) ErrorDocument {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxErrorBytes))
	var doc ErrorDocument
	if err := json.Unmarshal(body, &doc); err != nil {
		doc = ErrorDocument{ErrorMessage: strings.TrimSpace(string(body))}
	}
	if doc.ErrorType == "" {
		doc.ErrorType = r.Header.Get(hdrErrorType)
	}
	if doc.ErrorType == "" {
		doc.ErrorType = "Unhandled"
	}
	return doc
}

// errorResponse is a function error as the pool sees it: Error for the
// native API, and the whole document as Body for the Lambda-compatible
// API, which returns it as the payload.
func errorResponse(doc ErrorDocument) runtime.Response {
	body, _ := json.Marshal(doc)
	return runtime.Response{Status: http.StatusOK, Body: body,
		Error: &runtime.FunctionError{Type: doc.ErrorType, Message: doc.ErrorMessage}}
}

func header(req runtime.Request, name string) string {
	if v := req.Headers[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// clientContext decodes the caller's base64 client context into the JSON
// the runtime expects.
func clientContext(req runtime.Request) string {
	v := header(req, HeaderClientContext)
	if v == "" {
		return ""
	}
	if b, err := base64.StdEncoding.DecodeString(v); err == nil && json.Valid(b) {
		return string(b)
	}
	if json.Valid([]byte(v)) {
		return v
	}
	return ""
}

// traceID is the X-Ray trace header the guest gets in
// Lambda-Runtime-Trace-Id (aws-lambda-go and the other runtime clients put
// it in _X_AMZN_TRACE_ID): the caller's X-Amzn-Trace-Id as is; else the
// invocation's W3C trace context, mapped the way X-Ray and OpenTelemetry
// map them (the 32-hex trace id split 8+24 after the version "1", the
// span id as Parent, the sampled flag), so a function's own X-Ray or OTel
// spans join hearth's trace; else one made from the request id, so that
// every invocation has a well-formed header.
func traceID(req runtime.Request) string {
	if v := header(req, HeaderTraceID); v != "" {
		return v
	}
	if tid, sid, sampled, ok := parseTraceparent(header(req, "Traceparent")); ok {
		return xrayHeader(tid, sid, sampled)
	}
	id := strings.ReplaceAll(req.ID, "-", "")
	for len(id) < 40 {
		id += "0"
	}
	return xrayHeader(id[:32], id[24:40], false)
}

func xrayHeader(traceID, parent string, sampled bool) string {
	s := "0"
	if sampled {
		s = "1"
	}
	return "Root=1-" + traceID[:8] + "-" + traceID[8:32] + ";Parent=" + parent + ";Sampled=" + s
}

// parseTraceparent reads a W3C traceparent (version 00:
// "00-<32 hex>-<16 hex>-<2 hex flags>"); ok is false for anything else,
// including the all-zero ids the spec calls invalid.
func parseTraceparent(v string) (traceID, spanID string, sampled, ok bool) {
	parts := strings.Split(v, "-")
	if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return "", "", false, false
	}
	for _, p := range parts[1:] {
		if !isLowerHex(p) {
			return "", "", false, false
		}
	}
	if strings.Trim(parts[1], "0") == "" || strings.Trim(parts[2], "0") == "" {
		return "", "", false, false
	}
	flags, err := strconv.ParseUint(parts[3], 16, 8)
	if err != nil {
		return "", "", false, false
	}
	return parts[1], parts[2], flags&1 == 1, true
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
