// Command behave is an AWS Lambda function built with the official
// github.com/aws/aws-lambda-go library, unmodified, for hearth's end-to-end
// tests of the process runtime. Its event says what to do.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Event selects a behaviour.
type Event struct {
	Action string `json:"action"`
	// Size is the number of bytes "big" returns, MiB "alloc" takes, or
	// milliseconds "sleep" sleeps.
	Size int `json:"size"`
	// Children is how many processes "fork" leaves behind.
	Children int `json:"children"`
	// Data is carried back by "echo" (large payloads).
	Data string `json:"data,omitempty"`
}

// Info is what "info" returns about the invocation and its environment.
type Info struct {
	RequestID     string            `json:"request_id"`
	FunctionARN   string            `json:"function_arn"`
	FunctionName  string            `json:"function_name"`
	Version       string            `json:"version"`
	MemoryMB      int               `json:"memory_mb"`
	DeadlineInMs  int64             `json:"deadline_in_ms"`
	TraceID       string            `json:"trace_id"`
	ClientContext map[string]string `json:"client_context"`
	Env           map[string]string `json:"env"`
	PID           int               `json:"pid"`
	UID           int               `json:"uid"`
	Hostname      string            `json:"hostname"`
	WriteTaskRoot string            `json:"write_task_root"`
	WriteTmp      string            `json:"write_tmp"`
}

var started = time.Now()

func handle(ctx context.Context, ev Event) (any, error) {
	switch ev.Action {
	case "", "echo":
		return ev, nil
	case "info":
		return info(ctx), nil
	case "error":
		return nil, errors.New("the function failed on purpose")
	case "panic":
		panic("the function panicked on purpose")
	case "hang":
		select {} // ignores its deadline: hearth must kill it
	case "deadline":
		<-ctx.Done() // honours its deadline and reports it
		return nil, fmt.Errorf("gave up: %w", ctx.Err())
	case "big":
		return strings.Repeat("x", ev.Size), nil
	case "log":
		fmt.Println("to stdout")
		fmt.Fprintln(os.Stderr, "to stderr")
		return "logged", nil
	case "fork":
		for range ev.Children {
			if err := exec.Command("sleep", "1000").Start(); err != nil {
				return nil, err
			}
		}
		os.Exit(3)
	case "exit":
		// Exit between invocations: after this answer, before the next.
		go func() { time.Sleep(10 * time.Millisecond); os.Exit(0) }()
		return "bye", nil
	case "alloc":
		var keep [][]byte
		for i := 0; i < ev.Size; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			keep = append(keep, b)
		}
		return len(keep), nil
	case "sleep":
		time.Sleep(time.Duration(ev.Size) * time.Millisecond)
		return "slept", nil
	case "uptime":
		return time.Since(started).String(), nil
	}
	return nil, fmt.Errorf("unknown action %q", ev.Action)
}

func info(ctx context.Context) Info {
	lc, _ := lambdacontext.FromContext(ctx)
	deadline, _ := ctx.Deadline()
	host, _ := os.Hostname()
	out := Info{RequestID: lc.AwsRequestID, FunctionARN: lc.InvokedFunctionArn, FunctionName: lambdacontext.FunctionName,
		Version: lambdacontext.FunctionVersion, MemoryMB: lambdacontext.MemoryLimitInMB,
		DeadlineInMs: time.Until(deadline).Milliseconds(), ClientContext: lc.ClientContext.Custom,
		Env: map[string]string{}, PID: os.Getpid(), UID: os.Getuid(), Hostname: host}
	if v, ok := ctx.Value("x-amzn-trace-id").(string); ok {
		out.TraceID = v
	}
	for _, k := range []string{"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
		"_HANDLER", "LAMBDA_TASK_ROOT", "AWS_REGION", "AWS_LAMBDA_RUNTIME_API", "GREETING"} {
		out.Env[k] = os.Getenv(k)
	}
	out.WriteTaskRoot = tryWrite(os.Getenv("LAMBDA_TASK_ROOT"))
	out.WriteTmp = tryWrite(os.TempDir())
	return out
}

// tryWrite reports whether dir is writable: "ok" or the error.
func tryWrite(dir string) string {
	f, err := os.CreateTemp(dir, "probe")
	if err != nil {
		return err.Error()
	}
	f.Close()
	os.Remove(f.Name())
	return "ok"
}

func main() { lambda.Start(handle) }
