// Package sfnapi serves the AWS Step Functions API (the AWS JSON 1.0
// protocol: POST / with "X-Amz-Target: AWSStepFunctions.<Operation>")
// over the workflow engine, so that the AWS SDKs and the AWS CLI work
// against a hearth node with its URL as the endpoint override.
//
// # Notes
//
// Requests are not signature-checked: the node's own token guards the
// listener. Pagination tokens are offsets into the sorted result.
package sfnapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hearth-sh/hearth/internal/workflow/engine"
)

// maxBody bounds a request: a 1 MiB definition, JSON-escaped, fits.
const maxBody = 4 << 20

// TargetPrefix starts the X-Amz-Target header of every Step Functions
// operation; the node routes requests that carry it here.
const TargetPrefix = "AWSStepFunctions."

// handler serves the operations.
type handler struct {
	eng *engine.Engine
	ops map[string]func(ctx context.Context, body []byte) (any, error)
}

// New returns the Step Functions-compatible handler for POST /.
func New(eng *engine.Engine) http.Handler {
	h := &handler{eng: eng}
	h.ops = map[string]func(context.Context, []byte) (any, error){
		"CreateStateMachine":   h.createStateMachine,
		"UpdateStateMachine":   h.updateStateMachine,
		"DescribeStateMachine": h.describeStateMachine,
		"ListStateMachines":    h.listStateMachines,
		"DeleteStateMachine":   h.deleteStateMachine,
		"StartExecution":       h.startExecution,
		"StartSyncExecution":   h.startSyncExecution,
		"DescribeExecution":    h.describeExecution,
		"ListExecutions":       h.listExecutions,
		"GetExecutionHistory":  h.getExecutionHistory,
		"StopExecution":        h.stopExecution,
		"SendTaskSuccess":      h.sendTaskSuccess,
		"SendTaskFailure":      h.sendTaskFailure,
		"SendTaskHeartbeat":    h.sendTaskHeartbeat,
	}
	return h
}

// ServeHTTP dispatches on X-Amz-Target.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, TargetPrefix)
	fn := h.ops[op]
	if r.Method != http.MethodPost || !ok || fn == nil {
		writeError(w, &awsError{status: http.StatusBadRequest, Type: "UnknownOperationException",
			Message: fmt.Sprintf("operation %q is not supported", target)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, validation("read request body: %v", err))
		return
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	out, err := fn(r.Context(), body)
	if err != nil {
		writeError(w, toAWS(err))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	// The status is sent: an encoding error can only truncate the body.
	_ = enc.Encode(out)
}

// awsError is an error in the AWS JSON protocol's shape.
type awsError struct {
	status  int
	Type    string `json:"__type"`
	Message string `json:"message"`
}

func (e *awsError) Error() string { return e.Type + ": " + e.Message }

func validation(format string, args ...any) *awsError {
	return &awsError{status: http.StatusBadRequest, Type: "ValidationException", Message: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *awsError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(e)
}

// toAWS maps the engine's errors to Step Functions' error names.
func toAWS(err error) *awsError {
	var ae *awsError
	if errors.As(err, &ae) {
		return ae
	}
	for _, m := range []struct {
		err  error
		name string
	}{
		{engine.ErrMachineNotFound, "StateMachineDoesNotExist"},
		{engine.ErrMachineExists, "StateMachineAlreadyExists"},
		{engine.ErrInvalidDefinition, "InvalidDefinition"},
		{engine.ErrInvalidName, "InvalidName"},
		{engine.ErrInvalidInput, "InvalidExecutionInput"},
		{engine.ErrExecutionNotFound, "ExecutionDoesNotExist"},
		{engine.ErrExecutionExists, "ExecutionAlreadyExists"},
		{engine.ErrTaskNotFound, "TaskDoesNotExist"},
		{engine.ErrInvalidToken, "InvalidToken"},
	} {
		if errors.Is(err, m.err) {
			return &awsError{status: http.StatusBadRequest, Type: m.name, Message: err.Error()}
		}
	}
	if errors.Is(err, engine.ErrClosed) {
		return &awsError{status: http.StatusServiceUnavailable, Type: "ServiceUnavailable", Message: err.Error()}
	}
	return &awsError{status: http.StatusInternalServerError, Type: "InternalFailure", Message: err.Error()}
}

// decode reads an operation's input.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return validation("the request is not the operation's JSON input: %v", err)
	}
	return nil
}
