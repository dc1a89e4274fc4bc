package sfnapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/hearth-sh/hearth/internal/api/sfnapi"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/workflow/engine/enginetest"
)

// noHostPrefix keeps the SDK from sending StartSyncExecution to
// "sync-" + host, which is how AWS splits its endpoints; a hearth node is
// one host.
func noHostPrefix(o *sfn.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("hearthNoHostPrefix",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
			}), middleware.Before)
	})
}

// newClient returns the official AWS SDK client pointed at the handler.
func newClient(t *testing.T) *sfn.Client {
	fns := &enginetest.Functions{}
	fns.Set("greet", func(_ context.Context, body []byte) (any, *runtime.FunctionError) {
		var in struct{ Name string }
		if err := json.Unmarshal(body, &in); err != nil || in.Name == "" {
			return nil, &runtime.FunctionError{Type: "NoName", Message: "who?"}
		}
		return map[string]string{"greeting": "hello " + in.Name}, nil
	})
	srv := httptest.NewServer(sfnapi.New(enginetest.Start(t, fns)))
	t.Cleanup(srv.Close)
	return sfn.New(sfn.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "hearth", SecretAccessKey: "hearth"}, nil
		}),
		RetryMaxAttempts: 1,
	})
}

const greetDef = `{"StartAt":"Greet","States":{
	"Greet":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:greet",
		"Catch":[{"ErrorEquals":["NoName"],"Next":"Anon"}],"End":true},
	"Anon":{"Type":"Fail","Error":"Anonymous","Cause":"no name given"}}}`

func TestStepFunctionsSDK(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	created, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String("greeter"), Definition: aws.String(greetDef), RoleArn: aws.String("arn:aws:iam::123456789012:role/x"),
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := created.StateMachineArn
	desc, err := c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: arn})
	if err != nil || *desc.Name != "greeter" || desc.Type != types.StateMachineTypeStandard || *desc.Definition != greetDef {
		t.Fatalf("describe machine: %+v %v", desc, err)
	}
	list, err := c.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil || len(list.StateMachines) != 1 {
		t.Fatalf("list machines: %+v %v", list, err)
	}

	started, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: arn, Name: aws.String("ann"), Input: aws.String(`{"Name":"Ann"}`)})
	if err != nil {
		t.Fatal(err)
	}
	var x *sfn.DescribeExecutionOutput
	deadline := time.Now().Add(30 * time.Second)
	for x == nil || x.Status == types.ExecutionStatusRunning {
		if time.Now().After(deadline) {
			t.Fatal("the execution did not finish")
		}
		if x, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: started.ExecutionArn}); err != nil {
			t.Fatal(err)
		}
	}
	if x.Status != types.ExecutionStatusSucceeded || *x.Output != `{"greeting":"hello Ann"}` || x.StopDate == nil || x.StartDate.IsZero() {
		t.Fatalf("describe execution: %+v", x)
	}

	hist, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: started.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	var types1 []string
	for _, ev := range hist.Events {
		types1 = append(types1, string(ev.Type))
	}
	want := "ExecutionStarted,TaskStateEntered,LambdaFunctionScheduled,LambdaFunctionStarted,LambdaFunctionSucceeded,TaskStateExited,ExecutionSucceeded"
	if strings.Join(types1, ",") != want {
		t.Fatalf("history %v", types1)
	}
	if d := hist.Events[0].ExecutionStartedEventDetails; d == nil || *d.Input != `{"Name":"Ann"}` {
		t.Fatalf("ExecutionStarted details %+v", d)
	}
	if d := hist.Events[4].LambdaFunctionSucceededEventDetails; d == nil || *d.Output != `{"greeting":"hello Ann"}` {
		t.Fatalf("LambdaFunctionSucceeded details %+v", d)
	}
	rev, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: started.ExecutionArn, ReverseOrder: true, MaxResults: 2})
	if err != nil || len(rev.Events) != 2 || rev.Events[0].Type != types.HistoryEventTypeExecutionSucceeded || rev.NextToken == nil {
		t.Fatalf("reversed page: %+v %v", rev, err)
	}

	// The SDK prefixes StartSyncExecution's host with "sync-" (AWS serves
	// it on its own host); a hearth node is one host.
	sync, err := c.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: arn, Input: aws.String(`{}`)}, noHostPrefix)
	if err != nil || sync.Status != types.SyncExecutionStatusFailed || *sync.Error != "Anonymous" || *sync.Cause != "no name given" {
		t.Fatalf("sync execution: %+v %v", sync, err)
	}
	execs, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: arn, StatusFilter: types.ExecutionStatusFailed})
	if err != nil || len(execs.Executions) != 1 || *execs.Executions[0].ExecutionArn != *sync.ExecutionArn {
		t.Fatalf("list failed executions: %+v %v", execs, err)
	}

	// Errors arrive as the SDK's typed errors.
	_, err = c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:1:stateMachine:nope")})
	var notFound *types.StateMachineDoesNotExist
	if !errors.As(err, &notFound) {
		t.Fatalf("missing machine: %v", err)
	}
	_, err = c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("bad"), Definition: aws.String(`{"StartAt":"X","States":{}}`), RoleArn: aws.String("r")})
	var invalid *types.InvalidDefinition
	if !errors.As(err, &invalid) {
		t.Fatalf("invalid definition: %v", err)
	}
	_, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:local:000000000000:execution:greeter:none")})
	var noExec *types.ExecutionDoesNotExist
	if !errors.As(err, &noExec) {
		t.Fatalf("missing execution: %v", err)
	}
	_, err = c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("bogus"), Output: aws.String("{}")})
	var badToken *types.InvalidToken
	if !errors.As(err, &badToken) {
		t.Fatalf("bogus token: %v", err)
	}
	if _, err := c.DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: arn}); err != nil {
		t.Fatal(err)
	}
}

// TestStepFunctionsSDKCallbackAndStop completes a callback task with
// SendTaskHeartbeat and SendTaskSuccess and stops a waiting execution.
func TestStepFunctionsSDKCallbackAndStop(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	m, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("cb"), RoleArn: aws.String("r"), Definition: aws.String(`{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken","HeartbeatSeconds":600,
			"Parameters":{"QueueUrl":"q","MessageBody.$":"$$.Task.Token"},"End":true}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	token := func(arn *string) *string {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			h, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: arn})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range h.Events {
				if d := ev.TaskScheduledEventDetails; d != nil {
					var p struct{ MessageBody string }
					_ = json.Unmarshal([]byte(*d.Parameters), &p)
					if *d.ResourceType != "sqs" || *d.Resource != "sendMessage.waitForTaskToken" {
						t.Fatalf("task details %+v", d)
					}
					return &p.MessageBody
				}
			}
		}
		t.Fatal("no task was scheduled")
		return nil
	}
	one, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: m.StateMachineArn})
	if err != nil {
		t.Fatal(err)
	}
	tok := token(one.ExecutionArn)
	if _, err := c.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: tok}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: tok, Output: aws.String(`{"done":1}`)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		x, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: one.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if x.Status == types.ExecutionStatusSucceeded && *x.Output == `{"done":1}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SendTaskSuccess: %+v", x)
		}
	}
	_, err = c.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: tok, Error: aws.String("E")})
	var gone *types.TaskDoesNotExist
	if !errors.As(err, &gone) {
		t.Fatalf("failure after success: %v", err)
	}

	two, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: m.StateMachineArn})
	if err != nil {
		t.Fatal(err)
	}
	token(two.ExecutionArn)
	stopped, err := c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: two.ExecutionArn, Error: aws.String("Op"), Cause: aws.String("bye")})
	if err != nil || stopped.StopDate == nil {
		t.Fatalf("stop: %+v %v", stopped, err)
	}
	x, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: two.ExecutionArn})
	if err != nil || x.Status != types.ExecutionStatusAborted || *x.Error != "Op" {
		t.Fatalf("stopped execution: %+v %v", x, err)
	}
}
