// Package hearth is the guest SDK for writing hearth functions in Go.
//
// A function is a Go main package that registers one handler from init and
// is built as a WebAssembly reactor:
//
//	package main
//
//	import hearth "github.com/hearth-sh/hearth/sdk/go"
//
//	type greeting struct{ Name string `json:"name"` }
//
//	func init() {
//		hearth.Handle(func(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
//			var in greeting
//			if err := req.DecodeJSON(&in); err != nil {
//				return hearth.Response{}, err // already a BadRequest
//			}
//			return hearth.JSON(map[string]string{"message": "hello, " + in.Name})
//		})
//	}
//
//	func main() {}
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fn.wasm .
//
// or let `hearth deploy NAME ./dir` do it.
//
// # Notes
//
// A reactor (-buildmode=c-shared) never runs main: the Go runtime and package
// init functions run once when an instance starts, and hearth then calls the
// registered handler once per invocation, one at a time, in the same
// instance. Register the handler from init; main must exist but stays empty.
// Memory kept in package variables survives from one invocation to the next
// on the same instance (use it for caches, never for per-request data).
//
// Outside GOOS=wasip1 the package compiles so that handlers can be unit
// tested on the host by calling them directly; host calls (Context.Log,
// HostCall) are then unavailable.
package hearth

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Request is one invocation: the body sent to the function and, for the
// HTTP trigger, the shape of the HTTP request.
type Request struct {
	// ID identifies the invocation; it tags the function's log lines.
	ID     string
	Method string
	// Path is the part of the URL after /fn/NAME, starting with "/".
	Path string
	// Query is the raw query string, without "?".
	Query   string
	Headers Header
	// Body belongs to the handler: it may keep or change it.
	Body []byte
}

// DecodeJSON unmarshals the body into v. A body that is not valid JSON for
// v gives a BadRequest error, so a handler can return it as is.
func (r Request) DecodeJSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return BadRequest(fmt.Errorf("request body is not the JSON this function expects: %w", err))
	}
	return nil
}

// Response is what a handler returns. A zero Status means 200.
type Response struct {
	Status  int
	Headers map[string][]string
	Body    []byte
}

// Text returns a 200 response with a plain-text body.
func Text(s string) Response {
	return Response{Status: 200, Headers: map[string][]string{"Content-Type": {"text/plain; charset=utf-8"}}, Body: []byte(s)}
}

// JSON returns a 200 response whose body is v marshalled as JSON.
func JSON(v any) (Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Response{}, fmt.Errorf("encode response as JSON: %w", err)
	}
	return Response{Status: 200, Headers: map[string][]string{"Content-Type": {"application/json"}}, Body: b}, nil
}

// Error is an error a function reports about its own work. Type classifies
// it for the caller ("HandlerError" for any plain error a handler returns,
// "BadRequest" for input the function refuses, which callers must not
// retry); return an *Error to choose another type.
type Error struct {
	Type    string
	Message string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// The error types hearth gives a meaning to.
const (
	// TypeHandlerError is the type of any plain error a handler returns.
	TypeHandlerError = "HandlerError"
	// TypeBadRequest marks input the function refuses; callers do not retry it.
	TypeBadRequest = "BadRequest"
)

// BadRequest marks err as the caller's fault: the invocation fails with
// error type "BadRequest" (HTTP 400 through the HTTP trigger) and
// asynchronous invocations are not retried.
func BadRequest(err error) error {
	return &Error{Type: TypeBadRequest, Message: err.Error(), Err: err}
}

// HandlerFunc handles one invocation. A returned error becomes the
// invocation's function error (the Response is then ignored); the instance
// stays alive. A panic, by contrast, crashes the instance.
type HandlerFunc func(ctx Context, req Request) (Response, error)

// Context carries what a handler may need about its invocation besides the
// request itself.
type Context struct {
	requestID string
}

// RequestID returns the invocation's id.
func (c Context) RequestID() string { return c.requestID }

// Level is a log level, with the values of log/slog's levels.
type Level int32

// The log levels.
const (
	LevelDebug Level = -4
	LevelInfo  Level = 0
	LevelWarn  Level = 4
	LevelError Level = 8
)

// String names the level as log/slog does.
func (l Level) String() string {
	switch {
	case l < LevelInfo:
		return "DEBUG"
	case l < LevelWarn:
		return "INFO"
	case l < LevelError:
		return "WARN"
	default:
		return "ERROR"
	}
}

// Log writes one line to the function's log (`hearth logs NAME`), tagged
// with the level and this invocation's id. Writing to stdout or stderr
// works too; Log adds the level.
func (c Context) Log(level Level, msg string) { hostLog(level, msg) }

// Logf formats and logs a line at LevelInfo.
func (c Context) Logf(format string, args ...any) { hostLog(LevelInfo, fmt.Sprintf(format, args...)) }

// ErrHostCall wraps errors reported by a host capability.
var ErrHostCall = errors.New("host call failed")

// HostCall invokes the host capability op (for example "state.get") with
// input and returns its output. It is the low-level door through which
// hearth's capabilities reach a guest; typed helpers are built on it.
// Errors wrap ErrHostCall and carry the host's message.
func HostCall(op string, input []byte) ([]byte, error) { return hostCall(op, input) }

// encodeError turns a handler's error into the function error it reports.
func encodeError(err error) (typ, msg string) {
	var he *Error
	if errors.As(err, &he) && he.Type != "" {
		return he.Type, he.Message
	}
	return TypeHandlerError, err.Error()
}
