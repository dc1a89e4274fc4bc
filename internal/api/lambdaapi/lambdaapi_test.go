package lambdaapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/hearth-sh/hearth/internal/async"
	"github.com/hearth-sh/hearth/internal/fnlog"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/pool"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// fakeNode answers by function name: "echo" returns the payload, "fail"
// reports a function error, "crash", "slow" and "busy" fail as the runtime
// and pool would. It records what it was asked and logs one line per call.
type fakeNode struct {
	logs *fnlog.Book

	mu    sync.Mutex
	calls []runtime.Request
	done  chan string // request ids of finished invocations
}

func (f *fakeNode) Get(_ context.Context, name string) (registry.Function, error) {
	if err := registry.ValidateName(name); err != nil {
		return registry.Function{}, err
	}
	switch name {
	case "echo", "fail", "crash", "slow", "busy":
		return registry.Function{Name: name, Version: 3}, nil
	}
	return registry.Function{}, fmt.Errorf("%w: %s", registry.ErrNotFound, name)
}

func (f *fakeNode) Invoke(_ context.Context, name string, req runtime.Request) (*invoke.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, req)
	f.mu.Unlock()
	defer func() { f.done <- req.ID }()
	f.logs.Append(fnlog.Entry{Function: name, RequestID: req.ID, Stream: "stdout", Message: "handling " + name})
	res := &invoke.Result{RequestID: req.ID, Version: 3, Cold: true, Phases: runtime.Phases{Init: time.Millisecond, Handler: time.Millisecond}}
	switch name {
	case "fail":
		res.Response = runtime.Response{Error: &runtime.FunctionError{Type: "HandlerError", Message: "bad input"}}
	case "crash":
		return res, fmt.Errorf("%w: exit status 2", runtime.ErrTrap)
	case "slow":
		return res, fmt.Errorf("%w after 1s", runtime.ErrTimeout)
	case "busy":
		return nil, fmt.Errorf("%w: 1 instance busy", pool.ErrThrottled)
	default:
		res.Response = runtime.Response{Status: 200, Body: req.Body}
	}
	return res, nil
}

func setup(t *testing.T) (*fakeNode, *lambda.Client, *API) {
	t.Helper()
	node := &fakeNode{logs: fnlog.New(100), done: make(chan string, 100)}
	api := New(Config{Invoker: node, Logs: node.logs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = api.Close(context.Background()) })
	return node, SDKClient(srv.URL), api
}

// SDKClient is the official AWS SDK's Lambda client aimed at url.
func SDKClient(url string) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "hearth", SecretAccessKey: "hearth"}, nil
		}),
	})
}

func TestInvokeWithTheAWSSDK(t *testing.T) {
	node, c, _ := setup(t)
	ctx := context.Background()
	tests := []struct {
		name          string
		in            lambda.InvokeInput
		wantStatus    int32
		wantFuncError string
		wantPayload   string
	}{
		{"request response", lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"a":1}`)}, 200, "", `{"a":1}`},
		{"full arn with qualifier", lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:000000000000:function:echo:3"), Payload: []byte(`1`)}, 200, "", `1`},
		{"latest", lambda.InvokeInput{FunctionName: aws.String("echo"), Qualifier: aws.String("$LATEST"), Payload: []byte(`2`)}, 200, "", `2`},
		{"function error", lambda.InvokeInput{FunctionName: aws.String("fail")}, 200, "Unhandled", `{"errorMessage":"bad input","errorType":"HandlerError"}`},
		{"crash", lambda.InvokeInput{FunctionName: aws.String("crash")}, 200, "Unhandled", `"errorType":"Runtime.ExitError"`},
		{"timeout", lambda.InvokeInput{FunctionName: aws.String("slow")}, 200, "Unhandled", `"errorType":"Sandbox.Timedout"`},
		{"dry run", lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeDryRun}, 204, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.Invoke(ctx, &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if out.StatusCode != tt.wantStatus || aws.ToString(out.FunctionError) != tt.wantFuncError || !strings.Contains(string(out.Payload), tt.wantPayload) {
				t.Fatalf("got %d %q %s, want %d %q %s", out.StatusCode, aws.ToString(out.FunctionError), out.Payload, tt.wantStatus, tt.wantFuncError, tt.wantPayload)
			}
			if tt.wantStatus == 200 && aws.ToString(out.ExecutedVersion) != "3" {
				t.Fatalf("executed version %q, want 3", aws.ToString(out.ExecutedVersion))
			}
		})
	}
	if n := len(node.calls); n != 6 {
		t.Fatalf("%d invocations reached the node, want 6 (dry runs do not)", n)
	}
}

func TestServiceErrorsWithTheAWSSDK(t *testing.T) {
	_, c, _ := setup(t)
	ctx := context.Background()
	big := make([]byte, 7<<20)
	tests := []struct {
		name string
		in   lambda.InvokeInput
		want any
	}{
		{"unknown function", lambda.InvokeInput{FunctionName: aws.String("nope")}, &types.ResourceNotFoundException{}},
		{"unknown version", lambda.InvokeInput{FunctionName: aws.String("echo"), Qualifier: aws.String("7")}, &types.ResourceNotFoundException{}},
		{"invalid name", lambda.InvokeInput{FunctionName: aws.String("Bad_Name")}, &types.InvalidParameterValueException{}},
		{"not json", lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte("{oops")}, &types.InvalidRequestContentException{}},
		{"too large", lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: big}, &types.RequestTooLargeException{}},
		{"event too large", lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeEvent, Payload: append([]byte(`"`), append(make([]byte, 2<<20), '"')...)}, &types.RequestTooLargeException{}},
		{"throttled", lambda.InvokeInput{FunctionName: aws.String("busy")}, &types.TooManyRequestsException{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Invoke(ctx, &tt.in)
			var ok bool
			switch tt.want.(type) {
			case *types.ResourceNotFoundException:
				var e *types.ResourceNotFoundException
				ok = errors.As(err, &e) && strings.Contains(e.ErrorMessage(), "Function not found")
			case *types.InvalidParameterValueException:
				var e *types.InvalidParameterValueException
				ok = errors.As(err, &e)
			case *types.InvalidRequestContentException:
				var e *types.InvalidRequestContentException
				ok = errors.As(err, &e)
			case *types.RequestTooLargeException:
				var e *types.RequestTooLargeException
				ok = errors.As(err, &e)
			case *types.TooManyRequestsException:
				var e *types.TooManyRequestsException
				ok = errors.As(err, &e) && e.Reason != ""
			}
			if !ok {
				t.Fatalf("err = %v (%T), want %T", err, err, tt.want)
			}
		})
	}
}

func TestLogTailAndEvents(t *testing.T) {
	node, c, api := setup(t)
	ctx := context.Background()
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), LogType: types.LogTypeTail, Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	<-node.done
	tail, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil {
		t.Fatalf("log result is not base64: %v", err)
	}
	for _, want := range []string{"START RequestId: ", "handling echo", "END RequestId: ", "REPORT RequestId: ", "Init Duration"} {
		if !strings.Contains(string(tail), want) {
			t.Fatalf("log tail %q lacks %q", tail, want)
		}
	}

	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"async":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != 202 {
		t.Fatalf("event: status %d, want 202", out.StatusCode)
	}
	<-node.done // the event ran in the background
	if err := api.Close(ctx); err != nil {
		t.Fatal(err)
	}
	node.mu.Lock()
	last := node.calls[len(node.calls)-1]
	node.mu.Unlock()
	if string(last.Body) != `{"async":true}` {
		t.Fatalf("event payload %q", last.Body)
	}
}

func TestParseName(t *testing.T) {
	tests := []struct{ in, name, qualifier string }{
		{"f", "f", ""},
		{"f:3", "f", "3"},
		{"123456789012:function:f", "f", ""},
		{"123456789012:function:f:$LATEST", "f", "$LATEST"},
		{"arn:aws:lambda:eu-west-1:123456789012:function:f", "f", ""},
		{"arn:aws:lambda:eu-west-1:123456789012:function:f:2", "f", "2"},
	}
	for _, tt := range tests {
		if n, q := parseName(tt.in); n != tt.name || q != tt.qualifier {
			t.Errorf("parseName(%q) = %q, %q; want %q, %q", tt.in, n, q, tt.name, tt.qualifier)
		}
	}
}

// queue records what it is asked to enqueue.
type queue struct {
	mu   sync.Mutex
	reqs []runtime.Request
	err  error
}

func (q *queue) Enqueue(_ context.Context, function string, req runtime.Request, _ string) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return "", q.err
	}
	q.reqs = append(q.reqs, req)
	return "queued-" + function, nil
}

func TestEventsGoToTheQueue(t *testing.T) {
	node := &fakeNode{logs: fnlog.New(10), done: make(chan string, 10)}
	q := &queue{}
	api := New(Config{Invoker: node, Events: q})
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := SDKClient(srv.URL)
	ctx := context.Background()
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"q":1}`)})
	if err != nil || out.StatusCode != 202 {
		t.Fatalf("event: %v %v", out, err)
	}
	if len(q.reqs) != 1 || string(q.reqs[0].Body) != `{"q":1}` || len(node.calls) != 0 {
		t.Fatalf("queued %d (%v), invoked %d: want the event queued, not run", len(q.reqs), q.reqs, len(node.calls))
	}
	q.err = fmt.Errorf("%w: 7 MB", async.ErrTooLarge)
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)})
	var tooLarge *types.RequestTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Fatalf("queue refusal: %v, want RequestTooLargeException", err)
	}
}
