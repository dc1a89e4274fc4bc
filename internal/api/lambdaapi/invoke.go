package lambdaapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/hearth-sh/hearth/internal/async"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/pool"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// Lambda's payload limits: 6 MB synchronous, 1 MB asynchronous.
const (
	maxSyncPayload  = invoke.MaxRequestBytes
	maxEventPayload = 1 << 20
	// maxLogTail is how much log X-Amz-Log-Type: Tail returns.
	maxLogTail = 4096
)

// Headers of the Invoke operation.
const (
	hdrInvocationType  = "X-Amz-Invocation-Type"
	hdrLogType         = "X-Amz-Log-Type"
	hdrLogResult       = "X-Amz-Log-Result"
	hdrFunctionError   = "X-Amz-Function-Error"
	hdrExecutedVersion = "X-Amz-Executed-Version"
	hdrClientContext   = "X-Amz-Client-Context"
	hdrRequestID       = "X-Amzn-Requestid"
	hdrErrorType       = "X-Amzn-Errortype"
	hdrTraceID         = "X-Amzn-Trace-Id"
)

// serviceError is an error of the service, as Lambda sends it.
type serviceError struct {
	status int
	code   string // X-Amzn-ErrorType
	Type   string `json:"Type"` // "User" or "Service"
	Msg    string `json:"Message"`
	Reason string `json:"Reason,omitempty"`
}

func userError(status int, code, format string, args ...any) *serviceError {
	return &serviceError{status: status, code: code, Type: "User", Msg: fmt.Sprintf(format, args...)}
}

func writeServiceError(w http.ResponseWriter, e *serviceError) {
	h := w.Header()
	h.Set(hdrErrorType, e.code)
	h.Set("Content-Type", "application/json")
	if e.status == http.StatusTooManyRequests {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(e)
}

func (a *API) arn(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", a.cfg.Region, a.cfg.Account, name)
}

// parseName accepts what Lambda accepts as FunctionName: a name, a partial
// ARN ("ACCOUNT:function:NAME"), a full ARN, each optionally with a
// ":QUALIFIER" suffix, or "NAME:QUALIFIER".
func parseName(s string) (name, qualifier string) {
	parts := strings.Split(s, ":")
	switch {
	case len(parts) >= 7 && parts[0] == "arn":
		name = parts[6]
		if len(parts) > 7 {
			qualifier = parts[7]
		}
	case len(parts) >= 3 && parts[1] == "function":
		name = parts[2]
		if len(parts) > 3 {
			qualifier = parts[3]
		}
	case len(parts) == 2:
		name, qualifier = parts[0], parts[1]
	default:
		name = s
	}
	return name, qualifier
}

func (a *API) invoke(w http.ResponseWriter, r *http.Request) {
	name, qualifier := parseName(r.PathValue("name"))
	if q := r.URL.Query().Get("Qualifier"); q != "" {
		qualifier = q
	}
	typ := r.Header.Get(hdrInvocationType)
	if typ == "" {
		typ = "RequestResponse"
	}
	limit := int64(maxSyncPayload)
	switch typ {
	case "RequestResponse", "DryRun":
	case "Event":
		limit = maxEventPayload
	default:
		writeServiceError(w, userError(http.StatusBadRequest, "InvalidParameterValueException",
			"X-Amz-Invocation-Type %q: use RequestResponse, Event or DryRun", typ))
		return
	}
	logType := r.Header.Get(hdrLogType)
	if logType != "" && logType != "None" && logType != "Tail" {
		writeServiceError(w, userError(http.StatusBadRequest, "InvalidParameterValueException", "X-Amz-Log-Type %q: use None or Tail", logType))
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeServiceError(w, userError(http.StatusBadRequest, "InvalidRequestContentException", "reading the request payload: %v", err))
		return
	}
	if int64(len(payload)) > limit {
		writeServiceError(w, userError(http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			"Request must be smaller than %d bytes for the %s invocation type", limit, typ))
		return
	}
	if len(payload) > 0 && !json.Valid(payload) {
		writeServiceError(w, userError(http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json: the payload must be a JSON document"))
		return
	}
	fn, err := a.cfg.Invoker.Get(r.Context(), name)
	if err != nil {
		writeServiceError(w, a.serviceErrorOf(err, name))
		return
	}
	if qualifier != "" && qualifier != "$LATEST" && qualifier != strconv.FormatInt(fn.Version, 10) {
		writeServiceError(w, userError(http.StatusNotFound, "ResourceNotFoundException",
			"Function not found: %s:%s (hearth serves only the current version, %d, or $LATEST)", a.arn(name), qualifier, fn.Version))
		return
	}
	if typ == "DryRun" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	req := runtime.Request{ID: invoke.NewRequestID(), Method: http.MethodPost, Path: "/", Body: payload,
		Headers: map[string][]string{"Content-Type": {"application/json"}}}
	for _, h := range []string{hdrClientContext, hdrTraceID} {
		if v := r.Header.Get(h); v != "" {
			req.Headers[h] = []string{v}
		}
	}
	w.Header().Set(hdrRequestID, req.ID)
	if typ == "Event" && a.cfg.Events != nil {
		// Lambda's async invocations carry no idempotency key; the request
		// id is the queued invocation's id.
		id, err := a.cfg.Events.Enqueue(r.Context(), name, req, "")
		if err != nil {
			writeServiceError(w, a.serviceErrorOf(err, name))
			return
		}
		w.Header().Set(hdrRequestID, id)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if typ == "Event" {
		select {
		case a.events <- struct{}{}:
		default:
			e := userError(http.StatusTooManyRequests, "TooManyRequestsException", "Rate exceeded: %d event invocations are in flight", a.cfg.MaxEvents)
			e.Reason = "ConcurrentInvocationLimitExceeded"
			writeServiceError(w, e)
			return
		}
		a.wg.Add(1)
		go a.runEvent(r.Context(), name, req)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	res, err := a.cfg.Invoker.Invoke(r.Context(), name, req)
	a.writeResult(w, name, req.ID, logType == "Tail", res, err)
}

// writeResult answers a RequestResponse invocation.
func (a *API) writeResult(w http.ResponseWriter, name, requestID string, tail bool, res *invoke.Result, err error) {
	h := w.Header()
	if res != nil {
		h.Set(hdrExecutedVersion, strconv.FormatInt(res.Version, 10))
		if tail && a.cfg.Logs != nil {
			h.Set(hdrLogResult, a.logTail(name, res))
		}
	}
	var payload []byte
	switch {
	case err != nil:
		errType, isFunction := functionFailure(err)
		if !isFunction {
			writeServiceError(w, a.serviceErrorOf(err, name))
			return
		}
		payload, _ = json.Marshal(map[string]string{"errorType": errType,
			"errorMessage": fmt.Sprintf("RequestId: %s Error: %v", requestID, err)})
		h.Set(hdrFunctionError, "Unhandled")
	case res.Response.Error != nil:
		payload = errorDocument(res.Response)
		h.Set(hdrFunctionError, "Unhandled")
	default:
		payload = res.Response.Body
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(payload)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(payload)
}

// errorDocument is a function error as Lambda returns it: the process
// runtime hands over the document the function posted; other runtimes get
// one made from their error.
func errorDocument(resp runtime.Response) []byte {
	var doc struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(resp.Body, &doc) == nil && doc.ErrorType != "" {
		return resp.Body
	}
	b, _ := json.Marshal(map[string]string{"errorType": resp.Error.Type, "errorMessage": resp.Error.Message})
	return b
}

// serviceErrorOf maps a failure of the service (not of the function) to
// Lambda's error for it.
func (a *API) serviceErrorOf(err error, name string) *serviceError {
	switch {
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, invoke.ErrNotFound):
		return userError(http.StatusNotFound, "ResourceNotFoundException", "Function not found: %s", a.arn(name))
	case errors.Is(err, async.ErrTooLarge):
		return userError(http.StatusRequestEntityTooLarge, "RequestTooLargeException", "%v", err)
	case errors.Is(err, registry.ErrInvalidName), errors.Is(err, async.ErrInvalid):
		return userError(http.StatusBadRequest, "InvalidParameterValueException", "%v", err)
	case errors.Is(err, pool.ErrThrottled):
		e := userError(http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded: %v", err)
		e.Reason = "ReservedFunctionConcurrentInvocationLimitExceeded"
		return e
	case errors.Is(err, pool.ErrClosed):
		return &serviceError{status: http.StatusServiceUnavailable, code: "ServiceException", Type: "Service", Msg: err.Error()}
	}
	return &serviceError{status: http.StatusInternalServerError, code: "ServiceException", Type: "Service", Msg: err.Error()}
}

// logTail is the invocation's log as Lambda shows it (START, the
// function's lines, END, REPORT), its last 4 KB, base64.
func (a *API) logTail(name string, res *invoke.Result) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "START RequestId: %s Version: %d\n", res.RequestID, res.Version)
	for _, e := range a.cfg.Logs.Tail(name, 1000) {
		if e.RequestID == res.RequestID && e.Stream != "hearth" {
			b.WriteString(e.Message)
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "END RequestId: %s\n", res.RequestID)
	fmt.Fprintf(&b, "REPORT RequestId: %s\tDuration: %.2f ms", res.RequestID, float64(res.Phases.Handler.Microseconds())/1000)
	if res.Cold {
		init := res.Phases.Provision + res.Phases.Runtime + res.Phases.Code + res.Phases.Init
		fmt.Fprintf(&b, "\tInit Duration: %.2f ms", float64(init.Microseconds())/1000)
	}
	b.WriteByte('\n')
	out := b.Bytes()
	if len(out) > maxLogTail {
		out = out[len(out)-maxLogTail:]
	}
	return base64.StdEncoding.EncodeToString(out)
}
