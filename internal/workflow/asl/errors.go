package asl

import (
	"fmt"
	"slices"
)

// The predefined error names of the Amazon States Language.
const (
	ErrAll                   = "States.ALL"
	ErrHeartbeatTimeout      = "States.HeartbeatTimeout"
	ErrTimeout               = "States.Timeout"
	ErrTaskFailed            = "States.TaskFailed"
	ErrPermissions           = "States.Permissions"
	ErrResultPathMatchFailed = "States.ResultPathMatchFailure"
	ErrParameterPathFailure  = "States.ParameterPathFailure"
	ErrBranchFailed          = "States.BranchFailed"
	ErrNoChoiceMatched       = "States.NoChoiceMatched"
	ErrIntrinsicFailure      = "States.IntrinsicFailure"
	ErrExceedToleratedFail   = "States.ExceedToleratedFailureThreshold"
	ErrItemReaderFailed      = "States.ItemReaderFailed"
	ErrResultWriterFailed    = "States.ResultWriterFailed"
	ErrRuntime               = "States.Runtime"
	ErrDataLimitExceeded     = "States.DataLimitExceeded"
	ErrQueryEvaluation       = "States.QueryEvaluationError"
)

// Error is a failure raised while running a state: what Retry and Catch
// match on, and what ends an execution when nothing handles it.
type Error struct {
	// Name is the error name (e.g. "States.Timeout" or a function's own type).
	Name string
	// Cause is the human-readable explanation.
	Cause string
}

// Error returns "Name: Cause".
func (e *Error) Error() string {
	if e.Cause == "" {
		return e.Name
	}
	return e.Name + ": " + e.Cause
}

// Errorf builds an *Error named name with a formatted cause.
func Errorf(name, format string, args ...any) *Error {
	return &Error{Name: name, Cause: fmt.Sprintf(format, args...)}
}

// terminal reports whether an error ends the execution no matter what Retry
// or Catch say: the spec makes States.Runtime and States.DataLimitExceeded
// unrecoverable so that a broken definition never loops.
func terminal(name string) bool {
	return name == ErrRuntime || name == ErrDataLimitExceeded
}

// Matches reports whether an ErrorEquals list catches the error name, with
// the spec's rules: States.ALL matches every error except the terminal
// ones, States.TaskFailed matches every error except States.Timeout (and
// the terminal ones), and a plain name matches itself.
func Matches(errorEquals []string, name string) bool {
	if terminal(name) {
		// Nothing catches a terminal error, not even its own name.
		return false
	}
	if slices.Contains(errorEquals, name) {
		return true
	}
	if slices.Contains(errorEquals, ErrAll) {
		return true
	}
	// The spec: "States.TaskFailed acts as a wildcard that matches any known
	// error name except for States.Timeout" (a heartbeat timeout is a kind
	// of timeout, so it stays out too).
	return slices.Contains(errorEquals, ErrTaskFailed) && name != ErrTimeout && name != ErrHeartbeatTimeout
}
