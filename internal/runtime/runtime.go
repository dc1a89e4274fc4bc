// Package runtime defines what the pool needs from a function runtime: a
// Runtime turns an artifact into a Template, a Template spawns Instances (a
// cold start, timed by phase), and an Instance serves one invocation at a time.
//
// Implementations live in subpackages (wasm, process); consumers depend only on
// these interfaces.
package runtime

import (
	"context"
	"errors"
	"time"
)

// Kind names a runtime: "wasm" or "process".
type Kind string

// The runtimes hearth knows.
const (
	KindWasm    Kind = "wasm"
	KindProcess Kind = "process"
)

// Stream says which output stream a log line came from.
type Stream string

// The streams a function writes to.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// LogFunc receives a function's output one line at a time (without the
// trailing newline). requestID is empty for output written outside an
// invocation (during init). It must be safe for concurrent use and must not
// keep line after it returns.
type LogFunc func(stream Stream, requestID string, line []byte)

// Spec is what a runtime needs to know about one function version.
type Spec struct {
	Name    string
	Version int64
	// MemoryBytes caps an instance's memory (wasm linear memory, process RSS).
	MemoryBytes int64
	// Timeout bounds one invocation; the pool also sets it as the context deadline.
	Timeout time.Duration
	// Env is handed to the guest as its environment.
	Env map[string]string
	// MaxResponseBytes caps the response an instance may return.
	MaxResponseBytes int64
	// Handler names the entry point where a runtime needs one (process runtime).
	Handler string
	// Log receives the guest's stdout and stderr. Nil discards them.
	Log LogFunc
	// Snapshot is "auto" (or empty: restore instances from a snapshot taken
	// at Prepare where the runtime can) or "off".
	Snapshot string
	// Isolation "per-request" resets an instance to its snapshot before
	// every invocation but its first.
	Isolation string
}

// Artifact is a function's code.
type Artifact struct {
	// Digest is the hex SHA-256 of Bytes; it keys compile caches and snapshots.
	Digest string
	Bytes  []byte
}

// Request is one invocation as a runtime sees it: an HTTP-shaped event.
type Request struct {
	ID      string
	Method  string
	Path    string
	Query   string
	Headers map[string][]string
	Body    []byte
}

// Response is what a function returned. A function that reports an error of
// its own (a handled error) still returns a Response, with Error set; the
// instance stays usable.
type Response struct {
	Status  int
	Headers map[string][]string
	Body    []byte
	Error   *FunctionError
}

// FunctionError is an error a function reported about its own work.
type FunctionError struct {
	// Type classifies the error, e.g. "HandlerError" or "BadRequest"; a
	// BadRequest error tells async callers not to retry.
	Type    string `json:"type"`
	Message string `json:"message"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Phases times a cold start. Handler is filled in by the caller that times
// the first invocation; the others by Template.Spawn (Code by Prepare where
// the compiled code was not cached).
type Phases struct {
	Provision time.Duration // instance memory and sandbox
	Runtime   time.Duration // runtime start (module instantiation, process start)
	Code      time.Duration // fetch and compile, or a cache hit
	Init      time.Duration // the function's own bootstrap, or a snapshot restore
	Handler   time.Duration // the first invocation
	// Restored is set when Init timed a snapshot restore instead of the
	// function's own init (reported as the "restore" phase).
	Restored bool
}

// Runtime prepares artifacts.
type Runtime interface {
	// Prepare validates and compiles art for spec. Errors wrap ErrInvalidArtifact
	// when the artifact itself is at fault.
	Prepare(ctx context.Context, spec Spec, art Artifact) (Template, error)
}

// Template is a prepared function version from which instances are made.
type Template interface {
	// Spawn makes a new instance: a cold start.
	Spawn(ctx context.Context) (Instance, Phases, error)
	// Close releases the template. Instances already spawned stay valid until
	// they are closed.
	Close(ctx context.Context) error
}

// Instance is one execution environment. It serves one invocation at a time.
//
// # Notes
//
// If Invoke returns a non-nil error the instance is broken (trap, timeout,
// crash, limit exceeded) and the caller must Close it and never reuse it.
// A function's own handled errors come back in Response.Error with a nil
// error.
type Instance interface {
	Invoke(ctx context.Context, req Request) (Response, error)
	Close(ctx context.Context) error
}

// Errors a runtime reports; wrap them with context. The API maps each to one
// HTTP status.
var (
	// ErrInvalidArtifact: the code is not a valid module for this runtime
	// (bad wasm, wrong imports, missing handler export).
	ErrInvalidArtifact = errors.New("invalid artifact")
	// ErrTrap: the guest trapped, panicked or exited abnormally.
	ErrTrap = errors.New("function crashed")
	// ErrTimeout: the invocation ran past its deadline and was interrupted.
	ErrTimeout = errors.New("function timed out")
	// ErrMemoryLimit: the guest tried to grow past its memory limit.
	ErrMemoryLimit = errors.New("function exceeded its memory limit")
	// ErrResponseTooLarge: the guest returned more than MaxResponseBytes.
	ErrResponseTooLarge = errors.New("function response too large")
	// ErrInit: the function's bootstrap failed.
	ErrInit = errors.New("function init failed")
)
