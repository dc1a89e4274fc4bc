package workflow

import (
	"context"
	"strings"
	"time"
)

// TaskRequest is one Task invocation as the engine asks for it.
type TaskRequest struct {
	ExecutionID string
	StateName   string
	// Resource is the Task's Resource field as written.
	Resource string
	// Function is the hearth function the resource names (see FunctionName);
	// empty for resources that are not functions.
	Function string
	// Input is the task's effective input (Parameters or Arguments applied).
	Input any
	// IdempotencyKey is the same every time this attempt is run, also when a
	// restarted engine runs an attempt that was in flight again: invocations
	// are at-least-once, and the key lets the callee deduplicate.
	IdempotencyKey string
	// Attempt counts from 0 for the first try.
	Attempt int
	// TaskToken is set for .waitForTaskToken resources; the invoker then
	// returns only once the token has been completed.
	TaskToken string
	// Timeout and Heartbeat are the state's TimeoutSeconds and
	// HeartbeatSeconds (0: none). The context passed with the request
	// already carries the timeout as a deadline.
	Timeout, Heartbeat time.Duration
	// Beat records a heartbeat (SendTaskHeartbeat) for a callback task with
	// HeartbeatSeconds: when none arrives for that long, the request's
	// context is cancelled and the task fails with States.HeartbeatTimeout.
	// It is nil for other tasks.
	Beat func()
}

// Invoker runs Task states. A function's own failure is returned as an
// *asl.Error whose Name is the function's error type (what Retry and Catch
// match); any other error fails the task with States.TaskFailed.
type Invoker interface {
	Invoke(ctx context.Context, req TaskRequest) (any, error)
}

// InvokerFunc adapts a function to the Invoker interface.
type InvokerFunc func(ctx context.Context, req TaskRequest) (any, error)

// Invoke calls f.
func (f InvokerFunc) Invoke(ctx context.Context, req TaskRequest) (any, error) { return f(ctx, req) }

// FunctionName maps a Task resource to a hearth function name: a Lambda
// function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])
// names function NAME, so that existing definitions run unchanged; a
// resource that is not an ARN is a function name itself. The optimized
// Lambda integration (arn:aws:states:::lambda:invoke) takes the name from
// its FunctionName parameter, which the engine resolves at run time.
func FunctionName(resource string) (string, bool) {
	if !strings.HasPrefix(resource, "arn:") {
		if resource == "" {
			return "", false
		}
		return resource, true
	}
	parts := strings.Split(resource, ":")
	if len(parts) >= 7 && parts[2] == "lambda" && parts[5] == "function" {
		return parts[6], true
	}
	return "", false
}

// isLambdaARN reports whether resource is a plain Lambda function ARN, for
// which Step Functions records LambdaFunction* events instead of Task*.
func isLambdaARN(resource string) bool {
	return strings.HasPrefix(resource, "arn:") && strings.Contains(resource, ":lambda:") && strings.Contains(resource, ":function:")
}

// isLambdaInvoke reports whether resource is the optimized Lambda integration.
func isLambdaInvoke(resource string) bool {
	return strings.HasPrefix(resource, "arn:") && strings.HasSuffix(strings.TrimSuffix(strings.TrimSuffix(resource, ".waitForTaskToken"), ".sync"), ":states:::lambda:invoke")
}
