// Package apierror is the one error type of hearth's HTTP API. Every handler
// reports failures through it, so a client always sees
// {"error":{"code":"...","message":"..."}} with a fitting HTTP status.
package apierror

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error is an API error: an HTTP status, a stable machine-readable code and a
// message that tells the caller what to fix.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New returns an Error with a formatted message.
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Common constructors, one per status the API uses.

// BadRequest is a 400: the request is malformed.
func BadRequest(format string, args ...any) *Error {
	return New(http.StatusBadRequest, "bad_request", format, args...)
}

// NotFound is a 404: the named thing does not exist.
func NotFound(format string, args ...any) *Error {
	return New(http.StatusNotFound, "not_found", format, args...)
}

// Conflict is a 409: a precondition on current state failed.
func Conflict(format string, args ...any) *Error {
	return New(http.StatusConflict, "conflict", format, args...)
}

// TooLarge is a 413: the payload is over a limit.
func TooLarge(format string, args ...any) *Error {
	return New(http.StatusRequestEntityTooLarge, "payload_too_large", format, args...)
}

// Unprocessable is a 422: well-formed but unusable (e.g. an invalid module).
func Unprocessable(format string, args ...any) *Error {
	return New(http.StatusUnprocessableEntity, "unprocessable", format, args...)
}

// Internal is a 500.
func Internal(format string, args ...any) *Error {
	return New(http.StatusInternalServerError, "internal", format, args...)
}

// Write sends err as the JSON error body. Errors that are not *Error (after
// errors.As) become a 500 with the error's text.
func Write(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = Internal("%v", err)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]*Error{"error": e})
}
