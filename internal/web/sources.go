package web

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hearth-sh/hearth/internal/telemetry"
)

// WorkflowSource feeds the workflows view. The workflow engine's adapter
// implements it; errors are shown on the page, not hidden.
type WorkflowSource interface {
	// Executions returns up to limit executions, newest first.
	Executions(ctx context.Context, limit int) ([]Execution, error)
	// Execution returns one execution with its state machine and how far
	// each state got; an unknown id is an error wrapping ErrNotFound.
	Execution(ctx context.Context, id string) (ExecutionDetail, error)
}

// Execution is one workflow execution as listed.
type Execution struct {
	ID      string    `json:"id"` // what Execution(ctx, id) takes (an ARN)
	Name    string    `json:"name"`
	Machine string    `json:"machine"`
	Status  string    `json:"status"` // RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
	Start   time.Time `json:"start"`
	Stop    time.Time `json:"stop,omitzero"`
	Error   string    `json:"error,omitempty"`
}

// State progress values for ExecutionDetail.States.
const (
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
)

// ExecutionDetail is an execution with what the graph needs.
type ExecutionDetail struct {
	Execution
	// Definition is the Amazon States Language document the execution runs.
	Definition json.RawMessage `json:"definition"`
	// States maps a top-level state's name to its progress (StateRunning,
	// StateSucceeded, StateFailed); states never entered are absent.
	States map[string]string `json:"states"`
}

// TraceSource feeds the traces view; *telemetry.RecentTraces implements it.
type TraceSource interface {
	List(n int) []telemetry.Trace
	Get(traceID string) (telemetry.Trace, bool)
}

// DeadLetterSource feeds the dead-letter queue view.
type DeadLetterSource interface {
	// DeadLetters returns up to limit dead letters, newest first.
	DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
}

// DeadLetter is an asynchronous invocation that ran out of retries.
type DeadLetter struct {
	Function  string `json:"function"`
	RequestID string `json:"request_id"`
	// Condition says why it ended (RetriesExhausted, BadRequest, ...).
	Condition string    `json:"condition,omitempty"`
	Time      time.Time `json:"time"` // when it failed for good
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error"`
}
