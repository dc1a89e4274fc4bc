package workflow

import (
	"encoding/json"
	"time"
)

// EventType is a Step Functions history event type name.
type EventType string

// The history event types, named exactly as AWS Step Functions names them.
const (
	ExecutionStarted   EventType = "ExecutionStarted"
	ExecutionSucceeded EventType = "ExecutionSucceeded"
	ExecutionFailed    EventType = "ExecutionFailed"
	ExecutionAborted   EventType = "ExecutionAborted"
	ExecutionTimedOut  EventType = "ExecutionTimedOut"

	PassStateEntered     EventType = "PassStateEntered"
	PassStateExited      EventType = "PassStateExited"
	TaskStateEntered     EventType = "TaskStateEntered"
	TaskStateExited      EventType = "TaskStateExited"
	ChoiceStateEntered   EventType = "ChoiceStateEntered"
	ChoiceStateExited    EventType = "ChoiceStateExited"
	WaitStateEntered     EventType = "WaitStateEntered"
	WaitStateExited      EventType = "WaitStateExited"
	SucceedStateEntered  EventType = "SucceedStateEntered"
	SucceedStateExited   EventType = "SucceedStateExited"
	FailStateEntered     EventType = "FailStateEntered"
	ParallelStateEntered EventType = "ParallelStateEntered"
	ParallelStateExited  EventType = "ParallelStateExited"
	MapStateEntered      EventType = "MapStateEntered"
	MapStateExited       EventType = "MapStateExited"

	TaskScheduled EventType = "TaskScheduled"
	TaskStarted   EventType = "TaskStarted"
	TaskSucceeded EventType = "TaskSucceeded"
	TaskFailed    EventType = "TaskFailed"
	TaskTimedOut  EventType = "TaskTimedOut"

	LambdaFunctionScheduled EventType = "LambdaFunctionScheduled"
	LambdaFunctionStarted   EventType = "LambdaFunctionStarted"
	LambdaFunctionSucceeded EventType = "LambdaFunctionSucceeded"
	LambdaFunctionFailed    EventType = "LambdaFunctionFailed"
	LambdaFunctionTimedOut  EventType = "LambdaFunctionTimedOut"

	ParallelStateStarted   EventType = "ParallelStateStarted"
	ParallelStateSucceeded EventType = "ParallelStateSucceeded"
	ParallelStateFailed    EventType = "ParallelStateFailed"

	MapStateStarted       EventType = "MapStateStarted"
	MapStateSucceeded     EventType = "MapStateSucceeded"
	MapStateFailed        EventType = "MapStateFailed"
	MapIterationStarted   EventType = "MapIterationStarted"
	MapIterationSucceeded EventType = "MapIterationSucceeded"
	MapIterationFailed    EventType = "MapIterationFailed"
	MapRunStarted         EventType = "MapRunStarted"
	MapRunSucceeded       EventType = "MapRunSucceeded"
	MapRunFailed          EventType = "MapRunFailed"

	EvaluationFailed EventType = "EvaluationFailed"
)

// Event is one history event.
//
// # Notes
//
// Key names the event deterministically inside its execution (the scope it
// ran in, a Parallel branch or Map iteration, and its position there). IDs
// follow the order events were appended, which interleaves concurrent
// branches differently from run to run; Keys do not, which is why replay
// matches on Key.
type Event struct {
	ID         int64     `json:"id"`
	PreviousID int64     `json:"previousEventId,omitempty"`
	Timestamp  time.Time `json:"timestamp"`
	Type       EventType `json:"type"`
	Key        string    `json:"key"`
	// Name is the state's name on state and Map iteration events.
	Name string `json:"name,omitempty"`
	// Index is the iteration on Map iteration events.
	Index *int `json:"index,omitempty"`
	// Input and Output carry state input and output, task parameters and
	// results, as JSON.
	Input  json.RawMessage `json:"input,omitempty"`
	Output json.RawMessage `json:"output,omitempty"`
	// Error and Cause are set on failure events.
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
	// Resource names the task resource on Task and Lambda events.
	Resource string `json:"resource,omitempty"`
	// Vars holds the workflow variables a state assigned, on its exited
	// event, so that replay and describe can see them.
	Vars json.RawMessage `json:"assignedVariables,omitempty"`
	// Trace is the trace context of the execution's first span (W3C
	// traceparent and tracestate, as Executor.Propagator writes them), on
	// ExecutionStarted when the execution is traced: a run resumed after a
	// restart or a long wait continues the same trace from it.
	Trace map[string]string `json:"traceContext,omitempty"`
}
