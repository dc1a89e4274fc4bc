// Package lambdaapi serves AWS Lambda's Invoke operation,
// POST /2015-03-31/functions/{name}/invocations, for every hearth function
// (wasm and process alike), so that the official AWS SDKs and CLI invoke
// hearth functions with nothing but an endpoint override.
//
// It follows Lambda's documented behaviour: X-Amz-Invocation-Type
// RequestResponse (200), Event (202) and DryRun (204); X-Amz-Log-Type: Tail
// (the invocation's last 4 KB of log, base64, in X-Amz-Log-Result);
// X-Amz-Function-Error: Unhandled with the error document as payload when
// the function fails (its own error, a crash, a timeout); and errors of the
// service itself as Lambda sends them: the status, the X-Amzn-ErrorType
// header and a {"Type","Message"} body.
//
// Event invocations go to Config.Events, hearth's durable async queue
// (retries, dead letters, destinations), when it is set. Without it they run
// in the background of this node, bounded in number, and are lost if the node
// stops.
package lambdaapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hearth-sh/hearth/internal/fnlog"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// Invoker is what the API needs from the node.
type Invoker interface {
	Get(ctx context.Context, name string) (registry.Function, error)
	Invoke(ctx context.Context, name string, req runtime.Request) (*invoke.Result, error)
}

// LogTail gives a function's most recent log entries, oldest first
// (*fnlog.Book is one).
type LogTail interface {
	Tail(function string, n int) []fnlog.Entry
}

// EventQueue queues async invocations durably (*async.Service is one).
type EventQueue interface {
	Enqueue(ctx context.Context, function string, req runtime.Request, idempotencyKey string) (string, error)
}

// Config configures the API.
type Config struct {
	Invoker Invoker
	// Events takes Event invocations; nil runs them in the background, not
	// durably.
	Events EventQueue
	// Logs serves X-Amz-Log-Type: Tail; nil answers it with no log.
	Logs   LogTail
	Logger *slog.Logger
	// Region and Account appear in function ARNs of error messages
	// (defaults us-east-1 and 000000000000).
	Region, Account string
	// MaxEvents bounds the Event invocations in flight (default 256);
	// beyond it Event invocations are refused with 429.
	MaxEvents int
}

// API serves the Lambda Invoke operation.
//
// # Notes
//
// Call Close when the node stops: it waits for Event invocations in flight.
type API struct {
	cfg    Config
	events chan struct{} // a slot per Event invocation in flight
	wg     sync.WaitGroup
}

// New returns the API.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Account == "" {
		cfg.Account = "000000000000"
	}
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = 256
	}
	return &API{cfg: cfg, events: make(chan struct{}, cfg.MaxEvents)}
}

// Register adds the route to mux. Its signature fits api.Config.Mount.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", a.invoke)
}

// Register is a shorthand: New with inv and logs, registered on mux.
func Register(mux *http.ServeMux, inv Invoker, logs LogTail) *API {
	a := New(Config{Invoker: inv, Logs: logs})
	a.Register(mux)
	return a
}

// Close waits until the Event invocations in flight finish or ctx ends.
func (a *API) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("lambda API: event invocations still running: %w", ctx.Err())
	}
}

// runEvent runs an Event invocation detached from its HTTP request, which
// has already been answered.
func (a *API) runEvent(ctx context.Context, name string, req runtime.Request) {
	defer func() { <-a.events; a.wg.Done() }()
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	res, err := a.cfg.Invoker.Invoke(ctx, name, req)
	switch {
	case err != nil:
		a.cfg.Logger.Warn("lambda event invocation failed", "function", name, "request_id", req.ID, "err", err)
	case res.Response.Error != nil:
		a.cfg.Logger.Info("lambda event invocation: function error", "function", name, "request_id", req.ID,
			"error_type", res.Response.Error.Type, "duration", time.Since(start))
	}
}

// functionFailure maps an invocation failure that Lambda reports as the
// function's unhandled error (200 with X-Amz-Function-Error) to its
// errorType; ok is false for failures of the service itself.
func functionFailure(err error) (errorType string, ok bool) {
	switch {
	case errors.Is(err, runtime.ErrTimeout):
		return "Sandbox.Timedout", true
	case errors.Is(err, runtime.ErrMemoryLimit):
		return "Runtime.OutOfMemory", true
	case errors.Is(err, runtime.ErrResponseTooLarge):
		return "Function.ResponseSizeTooLarge", true
	case errors.Is(err, runtime.ErrInit):
		return "Runtime.InitError", true
	case errors.Is(err, runtime.ErrTrap):
		return "Runtime.ExitError", true
	}
	return "", false
}
