// Package registry keeps function specs, their versions and their artifacts
// on the backbone (NATS KV and object store), so that what is deployed
// survives a restart and is visible to every node of a cluster.
package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hearth-sh/hearth/internal/policy"
)

// Config is a function's user-facing configuration. Zero fields take the
// defaults of Defaults.
type Config struct {
	// Runtime is "wasm" (default) or "process".
	Runtime string `json:"runtime,omitempty"`
	// MemoryMB caps an instance's memory.
	MemoryMB int `json:"memory_mb,omitempty"`
	// Timeout bounds one invocation.
	Timeout Duration `json:"timeout,omitempty"`
	// Concurrency is the maximum number of instances on a node.
	Concurrency int `json:"concurrency,omitempty"`
	// MinWarm instances are created at deploy time and kept (provisioned concurrency).
	MinWarm int `json:"min_warm,omitempty"`
	// KeepAlive is how long an idle instance lives.
	KeepAlive Duration `json:"keep_alive,omitempty"`
	// Env is the function's environment.
	Env map[string]string `json:"env,omitempty"`
	// Handler is the entry point, where the runtime needs one.
	Handler string `json:"handler,omitempty"`
	// Policy picks the keep-alive / pre-warm policy: "fixed", "histogram"
	// or "forecast" (internal/policy).
	Policy string `json:"policy,omitempty"`

	// Async invocations (internal/async).

	// Retries is how many times a failed async invocation is retried
	// (nil: 2; 0: never).
	Retries *int `json:"retries,omitempty"`
	// RetryBase and RetryCap shape the exponential backoff with full jitter.
	RetryBase Duration `json:"retry_base,omitempty"`
	RetryCap  Duration `json:"retry_cap,omitempty"`
	// OnSuccess and OnFailure send an async invocation's outcome to a
	// destination: "function:NAME" or "topic:NAME".
	OnSuccess string `json:"on_success,omitempty"`
	OnFailure string `json:"on_failure,omitempty"`
	// IdempotencyWindow is how long an Idempotency-Key is remembered.
	IdempotencyWindow Duration `json:"idempotency_window,omitempty"`
	// Snapshot is "auto" (default) or "off": restore wasm instances from a
	// post-init snapshot (docs/snapshots.md).
	Snapshot string `json:"snapshot,omitempty"`
	// Isolation is "" (instances keep memory across requests) or
	// "per-request" (recycle mode: reset to the snapshot between requests).
	Isolation string `json:"isolation,omitempty"`
}

// Limits hearth applies to every function config.
const (
	MaxMemoryMB    = 4096
	MaxTimeout     = 15 * time.Minute
	MaxConcurrency = 1000
)

// Defaults fills the zero fields of c.
func (c Config) Defaults() Config {
	if c.Runtime == "" {
		c.Runtime = "wasm"
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = 128
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(30 * time.Second)
	}
	if c.Concurrency == 0 {
		c.Concurrency = 10
	}
	if c.Policy == "" {
		// An explicit keep-alive asks for the fixed policy; otherwise the
		// policy that did best in the simulator on held-out data.
		c.Policy = policy.Default
		if c.KeepAlive != 0 {
			c.Policy = "fixed"
		}
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = Duration(10 * time.Minute)
	}
	if c.Retries == nil {
		two := 2
		c.Retries = &two
	}
	if c.RetryBase == 0 {
		c.RetryBase = Duration(time.Second)
	}
	if c.RetryCap == 0 {
		c.RetryCap = Duration(5 * time.Minute)
	}
	if c.IdempotencyWindow == 0 {
		c.IdempotencyWindow = Duration(24 * time.Hour)
	}
	return c
}

// ErrInvalidConfig: a function config breaks a rule.
var ErrInvalidConfig = errors.New("invalid function config")

// Validate reports the first problem with c (after Defaults), phrased as
// what to fix; the error wraps ErrInvalidConfig.
func (c Config) Validate() error {
	if err := c.check(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

func (c Config) check() error {
	switch {
	case c.Runtime != "wasm" && c.Runtime != "process":
		return fmt.Errorf("runtime %q is unknown: use \"wasm\" or \"process\"", c.Runtime)
	case c.MemoryMB < 1 || c.MemoryMB > MaxMemoryMB:
		return fmt.Errorf("memory_mb %d is out of range: use 1 to %d", c.MemoryMB, MaxMemoryMB)
	case c.Timeout <= 0 || time.Duration(c.Timeout) > MaxTimeout:
		return fmt.Errorf("timeout %s is out of range: use more than 0 and at most %s", c.Timeout, MaxTimeout)
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency %d is out of range: use 1 to %d", c.Concurrency, MaxConcurrency)
	case c.MinWarm < 0 || c.MinWarm > c.Concurrency:
		return fmt.Errorf("min_warm %d is out of range: use 0 to concurrency (%d)", c.MinWarm, c.Concurrency)
	case c.KeepAlive < 0:
		return fmt.Errorf("keep_alive %s must not be negative", c.KeepAlive)
	case c.Snapshot != "" && c.Snapshot != "auto" && c.Snapshot != "off":
		return fmt.Errorf("snapshot %q is unknown: use \"auto\" or \"off\"", c.Snapshot)
	case c.Isolation != "" && c.Isolation != "per-request":
		return fmt.Errorf("isolation %q is unknown: use \"per-request\" or leave it unset", c.Isolation)
	case c.Policy != "fixed" && c.Policy != "histogram" && c.Policy != "forecast":
		return fmt.Errorf("policy %q is unknown: use fixed, histogram or forecast", c.Policy)
	case c.Retries != nil && (*c.Retries < 0 || *c.Retries > 100):
		return fmt.Errorf("retries %d is out of range: use 0 to 100", *c.Retries)
	case c.RetryBase < 0 || c.RetryCap < c.RetryBase:
		return fmt.Errorf("retry_base %s and retry_cap %s: use 0 < base ≤ cap", c.RetryBase, c.RetryCap)
	case c.IdempotencyWindow < 0:
		return fmt.Errorf("idempotency_window %s must not be negative", c.IdempotencyWindow)
	}
	for field, dest := range map[string]string{"on_success": c.OnSuccess, "on_failure": c.OnFailure} {
		if err := ValidateDestination(dest); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	for k := range c.Env {
		if !envName.MatchString(k) {
			return fmt.Errorf("env name %q is invalid: use letters, digits and _ and do not start with a digit", k)
		}
	}
	return nil
}

// ValidateDestination checks an async destination: empty (none),
// "function:NAME" or "topic:NAME".
func ValidateDestination(dest string) error {
	if dest == "" {
		return nil
	}
	kind, name, ok := strings.Cut(dest, ":")
	if !ok || (kind != "function" && kind != "topic") {
		return fmt.Errorf("destination %q: use function:NAME or topic:NAME", dest)
	}
	return ValidateName(name)
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Function is one deployed version of a function.
type Function struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	Config  Config `json:"config"`
	// Digest is the hex SHA-256 of the artifact; Size its length in bytes.
	Digest    string    `json:"digest"`
	Size      int64     `json:"size"`
	CreatedAt time.Time `json:"created_at"`
}

// namePattern: names appear in URLs, NATS subjects and KV keys, so they are
// kept to a safe alphabet.
var namePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)

// ErrInvalidName: a function name breaks the naming rule.
var ErrInvalidName = errors.New("invalid function name")

// ValidateName checks a function name.
func ValidateName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("%w %q: use 1 to 64 lower-case letters, digits and '-', starting and ending with a letter or digit", ErrInvalidName, name)
	}
	return nil
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("30s", "10m").
type Duration time.Duration

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string, or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err2 := json.Unmarshal(b, &secs); err2 != nil {
			return fmt.Errorf("duration must be a string such as \"30s\" or a number of seconds: %s", b)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}
