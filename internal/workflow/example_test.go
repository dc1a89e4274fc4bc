package workflow_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/workflow"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// Run a state machine whose Task calls a function, with history kept in
// memory.
func ExampleExecutor_Run() {
	m, err := asl.Parse([]byte(`{"StartAt":"Greet","States":{
		"Greet":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:greet",
			"Parameters":{"name.$":"$.who"},"ResultPath":"$.greeting","End":true}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	greet := workflow.InvokerFunc(func(_ context.Context, req workflow.TaskRequest) (any, error) {
		in := req.Input.(map[string]any)
		return fmt.Sprintf("hello, %s (from function %s)", in["name"], req.Function), nil
	})
	store := workflow.NewMemoryStore()
	x := workflow.New(greet, clock.NewFake(time.Unix(0, 0)), store, nil)
	input, _ := asl.DecodeJSON([]byte(`{"who":"Ada"}`))
	res, err := x.Run(context.Background(), workflow.Execution{ID: "exec-1", Machine: m, Input: input}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := asl.EncodeJSON(res.Output)
	fmt.Println(res.Status, out)
	for _, ev := range res.History {
		fmt.Println(ev.ID, ev.Type)
	}
	// Output:
	// SUCCEEDED {"greeting":"hello, Ada (from function greet)","who":"Ada"}
	// 1 ExecutionStarted
	// 2 TaskStateEntered
	// 3 LambdaFunctionScheduled
	// 4 LambdaFunctionStarted
	// 5 LambdaFunctionSucceeded
	// 6 TaskStateExited
	// 7 ExecutionSucceeded
}
