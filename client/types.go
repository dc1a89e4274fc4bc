package client

import (
	"encoding/json"
	"fmt"
	"time"
)

// FunctionConfig is a function's configuration. Zero fields take the node's
// defaults (runtime wasm, 128 MB, 30 s timeout, concurrency 10, keep-alive
// 10 min, no min-warm).
type FunctionConfig struct {
	Runtime     string            `json:"runtime,omitempty"`
	MemoryMB    int               `json:"memory_mb,omitempty"`
	Timeout     Duration          `json:"timeout,omitempty"`
	Concurrency int               `json:"concurrency,omitempty"`
	MinWarm     int               `json:"min_warm,omitempty"`
	KeepAlive   Duration          `json:"keep_alive,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Handler     string            `json:"handler,omitempty"`
	// Snapshot is "auto" (default) or "off"; Isolation "per-request" resets
	// the instance to its snapshot between requests.
	Snapshot  string `json:"snapshot,omitempty"`
	Isolation string `json:"isolation,omitempty"`
	// Policy is the keep-alive / pre-warm policy: fixed, histogram or forecast.
	Policy string `json:"policy,omitempty"`
	// Retries of a failed async invocation (nil: the node's default, 2).
	Retries           *int     `json:"retries,omitempty"`
	RetryBase         Duration `json:"retry_base,omitempty"`
	RetryCap          Duration `json:"retry_cap,omitempty"`
	OnSuccess         string   `json:"on_success,omitempty"`
	OnFailure         string   `json:"on_failure,omitempty"`
	IdempotencyWindow Duration `json:"idempotency_window,omitempty"`
}

// Function is one deployed version of a function.
type Function struct {
	Name      string         `json:"name"`
	Version   int64          `json:"version"`
	Config    FunctionConfig `json:"config"`
	Digest    string         `json:"digest"`
	Size      int64          `json:"size"`
	CreatedAt time.Time      `json:"created_at"`
	// Snapshot describes a wasm function's snapshot: mode (restore, off,
	// fallback), reason, bytes, capture time, and restored vs initialised
	// cold starts.
	Snapshot map[string]any `json:"snapshot,omitempty"`
}

// LogEntry is one line of a function's log.
type LogEntry struct {
	Time      time.Time `json:"time"`
	Function  string    `json:"function"`
	Version   int64     `json:"version,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	TraceID   string    `json:"trace_id,omitempty"`
	// Stream is "stdout", "stderr" or "hearth" (hearth's line per invocation).
	Stream  string `json:"stream"`
	Message string `json:"message"`
}

// Phase is one timed part of a cold start.
type Phase struct {
	Name     string
	Duration time.Duration
}

// InvokeResult is the outcome of a synchronous invocation.
type InvokeResult struct {
	// Status is the HTTP status the node answered with.
	Status int
	// Body is the function's response (or, with FunctionError set, its error
	// as {"errorType","errorMessage"}).
	Body      []byte
	RequestID string
	// TraceID is the invocation's trace id (W3C, 32 hex digits) when the
	// node traced it: GET /v1/traces/{id} shows its spans.
	TraceID string
	Version int64
	Cold    bool
	// Phases are the cold-start phases (or just "handler" when warm), in order.
	Phases []Phase
	// FunctionError is the type of error the function reported, if any
	// ("HandlerError", "BadRequest", ...).
	FunctionError string
}

// Duration is a time.Duration written in JSON as a string such as "30s".
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}
