package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/workflow"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// taskInvoker runs the Task states of the engine's executions: hearth
// functions (by name or Lambda ARN), nested executions
// (arn:aws:states:::states:startExecution[.sync[:2]]) and callback tasks
// (.waitForTaskToken).
type taskInvoker struct{ e *Engine }

// Invoke runs one task attempt.
func (t *taskInvoker) Invoke(ctx context.Context, req workflow.TaskRequest) (any, error) {
	base := strings.TrimSuffix(req.Resource, ".waitForTaskToken")
	nested := strings.HasSuffix(base, ":states:::states:startExecution") ||
		strings.HasSuffix(base, ":states:::states:startExecution.sync") ||
		strings.HasSuffix(base, ":states:::states:startExecution.sync:2")
	if req.TaskToken != "" {
		w, unregister := t.e.register(req)
		defer unregister()
		switch {
		case nested:
			if _, err := t.e.nested(ctx, req); err != nil {
				return nil, err
			}
		case req.Function != "":
			// The function hands the token on (to a person, a queue…); its
			// own result does not complete the task.
			if _, err := t.e.callFunction(ctx, req); err != nil {
				return nil, err
			}
		}
		// A resource hearth cannot call (sqs, sns, an activity…) only
		// waits: whoever holds the token from the state's input completes it.
		return t.e.awaitToken(ctx, req, w)
	}
	if nested {
		return t.e.nested(ctx, req)
	}
	if req.Function == "" {
		return nil, &asl.Error{Name: asl.ErrTaskFailed, Cause: fmt.Sprintf("resource %s is not a hearth function", req.Resource)}
	}
	return t.e.callFunction(ctx, req)
}

// callFunction invokes a hearth function with the task input as a JSON
// body and the attempt's idempotency key in the Idempotency-Key header.
func (e *Engine) callFunction(ctx context.Context, req workflow.TaskRequest) (any, error) {
	if e.opts.Invoker == nil {
		return nil, &asl.Error{Name: asl.ErrTaskFailed, Cause: "no function invoker is configured"}
	}
	body, err := asl.EncodeJSON(req.Input)
	if err != nil {
		return nil, fmt.Errorf("encode task input: %w", err)
	}
	res, err := e.opts.Invoker.Invoke(ctx, req.Function, runtime.Request{
		Method: "POST", Path: "/",
		Headers: map[string][]string{
			"Content-Type":    {"application/json"},
			"Idempotency-Key": {req.IdempotencyKey},
		},
		Body: []byte(body),
	})
	if err != nil {
		return nil, &asl.Error{Name: asl.ErrTaskFailed, Cause: fmt.Sprintf("invoke %s: %v", req.Function, err)}
	}
	if fe := res.Response.Error; fe != nil {
		// The function's error type is what Retry and Catch match.
		return nil, &asl.Error{Name: fe.Type, Cause: fe.Message}
	}
	data := res.Response.Body
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, nil
	}
	v, err := asl.DecodeJSON(data)
	if err != nil {
		// A function may answer with plain text; hand it on as a string.
		return string(data), nil
	}
	return v, nil
}

// nested starts a child execution. The child's name derives from the
// attempt's idempotency key unless the parameters name it, so a parent
// resumed after a crash finds the child it started instead of starting a
// second one.
func (e *Engine) nested(ctx context.Context, req workflow.TaskRequest) (any, error) {
	params, _ := req.Input.(map[string]any)
	machine, _ := params["StateMachineArn"].(string)
	if machine == "" {
		return nil, &asl.Error{Name: asl.ErrTaskFailed, Cause: "startExecution needs a StateMachineArn parameter"}
	}
	name, _ := params["Name"].(string)
	if name == "" {
		sum := sha256.Sum256([]byte(req.IdempotencyKey))
		name = hex.EncodeToString(sum[:16])
	}
	var input json.RawMessage
	switch in := params["Input"].(type) {
	case nil:
	case string:
		// Step Functions accepts the input as a JSON string too.
		input = json.RawMessage(in)
	default:
		s, err := asl.EncodeJSON(in)
		if err != nil {
			return nil, fmt.Errorf("encode child input: %w", err)
		}
		input = json.RawMessage(s)
	}
	child, err := e.Start(ctx, StartInput{Machine: machine, Name: name, Input: input, Parent: req.ExecutionID})
	if err != nil {
		return nil, &asl.Error{Name: asl.ErrTaskFailed, Cause: fmt.Sprintf("start child execution: %v", err)}
	}
	if !strings.Contains(strings.TrimSuffix(req.Resource, ".waitForTaskToken"), ".sync") {
		return map[string]any{"ExecutionArn": child.ARN, "StartDate": child.StartTime.Format(timeLayout)}, nil
	}
	done, err := e.Wait(ctx, child.ARN)
	if err != nil {
		if ctx.Err() != nil {
			// The parent is stopping or timed out: stop the child with it.
			var stop *workflow.StopRequest
			if errors.As(context.Cause(ctx), &stop) {
				_, _ = e.Stop(context.WithoutCancel(ctx), child.ARN, stop.ErrorName, stop.Cause)
			}
		}
		return nil, err
	}
	desc := describeChild(done, strings.HasSuffix(req.Resource, ".sync:2"))
	if done.Status != workflow.StatusSucceeded {
		cause, _ := json.Marshal(jsonValues(desc))
		return nil, &asl.Error{Name: asl.ErrTaskFailed, Cause: string(cause)}
	}
	return desc, nil
}

const timeLayout = "2006-01-02T15:04:05.000Z"

// describeChild is the DescribeExecution shape a .sync task returns; with
// .sync:2 the output is JSON rather than a JSON string.
func describeChild(x *Execution, jsonOutput bool) map[string]any {
	d := map[string]any{
		"ExecutionArn":    x.ARN,
		"StateMachineArn": x.MachineARN,
		"Name":            x.Name,
		"Status":          string(x.Status),
		"StartDate":       x.StartTime.Format(timeLayout),
		"StopDate":        x.StopTime.Format(timeLayout),
		"Input":           string(x.Input),
	}
	if jsonOutput {
		if v, err := asl.DecodeJSON(x.Input); err == nil {
			d["Input"] = v
		}
	}
	if x.Status == workflow.StatusSucceeded {
		d["Output"] = string(x.Output)
		if jsonOutput {
			if v, err := asl.DecodeJSON(x.Output); err == nil {
				d["Output"] = v
			}
		}
	}
	if x.Error != "" {
		d["Error"] = x.Error
	}
	if x.Cause != "" {
		d["Cause"] = x.Cause
	}
	return d
}

// jsonValues turns asl values into values encoding/json writes the same.
func jsonValues(m map[string]any) any {
	s, err := asl.EncodeJSON(m)
	if err != nil {
		return m
	}
	return json.RawMessage(s)
}
