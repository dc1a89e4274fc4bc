package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/workflow"
)

// TestResumeAfterRestart closes the engine while an execution's second
// Task is in flight and opens a new one on the same data: the first Task
// does not run again, the second runs again with the same idempotency key.
func TestResumeAfterRestart(t *testing.T) {
	h := newHarness(t)
	h.fns.set("add", addOne)
	entered := make(chan struct{})
	h.fns.set("block", func(ctx context.Context, body []byte) (any, *runtime.FunctionError) {
		close(entered)
		<-ctx.Done() // in flight until the engine closes
		return nil, nil
	})
	h.machine("two", `{"StartAt":"A","States":{
		"A":{"Type":"Task","Resource":"add","Next":"B"},
		"B":{"Type":"Task","Resource":"block","End":true}}}`)
	x := h.start("two", "resume", `{"N":0}`)
	<-entered
	h.close()
	before := h.fns.keyRuns()

	h.fns.set("block", addOne)
	h.open()
	done := h.wait(x.ARN)
	if done.Status != workflow.StatusSucceeded || string(done.Output) != `{"N":2}` {
		t.Fatalf("resumed execution ended %+v", done)
	}
	after := h.fns.keyRuns()
	if len(before) != 2 || len(after) != 2 {
		t.Fatalf("idempotency keys before %v after %v; want the same two", before, after)
	}
	for k, n := range after {
		switch {
		case strings.HasSuffix(k, "/#2") && n != 1: // A's TaskScheduled
			t.Errorf("completed task %s ran %d times", k, n)
		case !strings.HasSuffix(k, "/#2") && n != 2:
			t.Errorf("in-flight task %s ran %d times, want 2 (once more with the same key)", k, n)
		}
	}
}

// TestLongWaitParks runs into a 30-day Wait: the execution holds no
// goroutine while it waits, its wake-up survives a restart, and it ends
// when the clock reaches the end of the wait.
func TestLongWaitParks(t *testing.T) {
	h := newHarness(t)
	h.machine("month", `{"StartAt":"W","States":{
		"W":{"Type":"Wait","Seconds":2592000,"Next":"P"},
		"P":{"Type":"Pass","Result":"woke","End":true}}}`)
	x := h.start("month", "m", `{}`)
	ctx := context.Background()
	parked := func() bool {
		d, err := h.eng.Describe(ctx, x.ARN)
		h.eng.mu.Lock()
		_, active := h.eng.active[x.ARN]
		h.eng.mu.Unlock()
		return err == nil && !d.WakeAt.IsZero() && !active
	}
	eventually(t, "the execution to park", parked)
	d, _ := h.eng.Describe(ctx, x.ARN)
	if want := d.StartTime.Add(30 * 24 * time.Hour); !d.WakeAt.Equal(want) {
		t.Fatalf("wakes at %v, want %v", d.WakeAt, want)
	}
	h.restart()
	if h.clk.Pending() == 0 {
		t.Fatal("the restarted engine did not re-arm the wake-up timer")
	}
	h.clk.Advance(29 * 24 * time.Hour)
	if d, _ := h.eng.Describe(ctx, x.ARN); d.Status != workflow.StatusRunning {
		t.Fatalf("after 29 days: %s", d.Status)
	}
	h.clk.Advance(24 * time.Hour)
	if done := h.wait(x.ARN); done.Status != workflow.StatusSucceeded || string(done.Output) != `"woke"` {
		t.Fatalf("after 30 days: %+v", done)
	}
}

// TestCallbackTokens drives .waitForTaskToken tasks: the function gets the
// token, SendTaskSuccess and SendTaskFailure complete the task, a
// completion is accepted once, unknown tokens are rejected.
func TestCallbackTokens(t *testing.T) {
	h := newHarness(t)
	tokens := make(chan string, 4)
	h.fns.set("notify", func(_ context.Context, body []byte) (any, *runtime.FunctionError) {
		var in struct{ Token string }
		_ = json.Unmarshal(body, &in)
		tokens <- in.Token
		return "sent", nil
	})
	h.machine("approve", `{"StartAt":"Ask","States":{
		"Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
			"Parameters":{"FunctionName":"notify","Payload":{"Token.$":"$$.Task.Token"}},
			"Catch":[{"ErrorEquals":["Rejected"],"Next":"No"}],"End":true},
		"No":{"Type":"Pass","Result":"rejected","End":true}}}`)
	ctx := context.Background()

	x := h.start("approve", "yes", `{}`)
	tok := <-tokens
	if err := h.eng.SendTaskHeartbeat(ctx, tok); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if err := h.eng.SendTaskSuccess(ctx, tok, json.RawMessage(`{"approved":true}`)); err != nil {
		t.Fatal(err)
	}
	if done := h.wait(x.ARN); done.Status != workflow.StatusSucceeded || string(done.Output) != `{"approved":true}` {
		t.Fatalf("approved: %+v", done)
	}
	if err := h.eng.SendTaskSuccess(ctx, tok, json.RawMessage(`{}`)); !errors.Is(err, ErrTaskNotFound) {
		t.Fatalf("second completion: %v", err)
	}

	y := h.start("approve", "no", `{}`)
	tok = <-tokens
	if err := h.eng.SendTaskFailure(ctx, tok, "Rejected", "not today"); err != nil {
		t.Fatal(err)
	}
	if done := h.wait(y.ARN); done.Status != workflow.StatusSucceeded || string(done.Output) != `"rejected"` {
		t.Fatalf("rejected: %+v", done)
	}
	for _, bad := range []string{"", "garbage", "arn:aws:states:local:0:execution:approve:none/#3/0"} {
		err := h.eng.SendTaskSuccess(ctx, bad, json.RawMessage(`{}`))
		if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrTaskNotFound) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
}

// TestCallbackSurvivesRestart completes a token while the engine is down
// (stored by a second engine's SendTaskSuccess before the first resumes
// the task): the resumed task finds the stored completion.
func TestCallbackSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	h.machine("hold", `{"StartAt":"T","States":{"T":{"Type":"Task",
		"Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
		"Parameters":{"QueueUrl":"q","MessageBody":{"t.$":"$$.Task.Token"}},"End":true}}}`)
	ctx := context.Background()
	x := h.start("hold", "h", `{}`)
	var tok string
	eventually(t, "the task to wait", func() bool {
		h.eng.mu.Lock()
		defer h.eng.mu.Unlock()
		for k := range h.eng.waiting {
			tok = k
		}
		return tok != ""
	})
	h.restart()
	if err := h.eng.SendTaskSuccess(ctx, tok, json.RawMessage(`"late"`)); err != nil {
		t.Fatal(err)
	}
	if done := h.wait(x.ARN); done.Status != workflow.StatusSucceeded || string(done.Output) != `"late"` {
		t.Fatalf("finished %+v", done)
	}
}

// TestNestedExecutions starts child executions with .sync and .sync:2 and
// checks the shapes Step Functions returns, and that a failed child fails
// the parent's task.
func TestNestedExecutions(t *testing.T) {
	h := newHarness(t)
	h.fns.set("add", addOne)
	h.machine("child", threeTasks)
	h.machine("failing", `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"ChildBroke","Cause":"why"}}}`)
	h.machine("parent", `{"StartAt":"S1","States":{
		"S1":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync",
			"Parameters":{"StateMachineArn":"arn:aws:states:us-east-1:1:stateMachine:child","Input":{"N.$":"$.N"}},
			"ResultSelector":{"out.$":"States.StringToJson($.Output)","status.$":"$.Status"},"ResultPath":"$.one","Next":"S2"},
		"S2":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2",
			"Parameters":{"StateMachineArn":"child","Input":{"N.$":"$.one.out.N"}},
			"ResultSelector":{"N.$":"$.Output.N"},"ResultPath":"$.two","Next":"S3"},
		"S3":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync",
			"Parameters":{"StateMachineArn":"failing"},
			"Catch":[{"ErrorEquals":["States.TaskFailed"],"ResultPath":"$.err","Next":"Done"}],"End":true},
		"Done":{"Type":"Pass","End":true}}}`)
	done := h.wait(h.start("parent", "p", `{"N":0}`).ARN)
	if done.Status != workflow.StatusSucceeded {
		t.Fatalf("parent %+v", done)
	}
	var out struct {
		One struct {
			Out    struct{ N int }
			Status string
		}
		Two struct{ N int }
		Err struct{ Error, Cause string }
	}
	if err := json.Unmarshal(done.Output, &out); err != nil {
		t.Fatal(err)
	}
	if out.One.Out.N != 3 || out.One.Status != "SUCCEEDED" || out.Two.N != 6 || out.Err.Error != "States.TaskFailed" || !strings.Contains(out.Err.Cause, "ChildBroke") {
		t.Fatalf("parent output %s", done.Output)
	}
	children, err := h.eng.List(context.Background(), Filter{Machine: "child"})
	if err != nil || len(children) != 2 || children[0].Parent != done.ARN {
		t.Fatalf("children %v %v", children, err)
	}
}

// TestParkedExecutionTimesOut parks an execution on a Wait longer than its
// TimeoutSeconds: it wakes at its deadline and ends TIMED_OUT, not at the
// end of the Wait.
func TestParkedExecutionTimesOut(t *testing.T) {
	h := newHarness(t)
	h.machine("deadline", `{"TimeoutSeconds":3600,"StartAt":"W","States":{
		"W":{"Type":"Wait","Seconds":86400,"End":true}}}`)
	x := h.start("deadline", "d", `{}`)
	ctx := context.Background()
	eventually(t, "the execution to park", func() bool {
		d, err := h.eng.Describe(ctx, x.ARN)
		return err == nil && !d.WakeAt.IsZero()
	})
	if d, _ := h.eng.Describe(ctx, x.ARN); !d.WakeAt.Equal(d.StartTime.Add(time.Hour)) {
		t.Fatalf("wakes at %v, want the deadline %v", d.WakeAt, d.StartTime.Add(time.Hour))
	}
	h.clk.Advance(time.Hour)
	if done := h.wait(x.ARN); done.Status != workflow.StatusTimedOut || done.Error != "States.Timeout" {
		t.Fatalf("after the deadline: %+v", done)
	}
}

// TestStopParentStopsChild stops a parent waiting on a .sync child: both
// end ABORTED.
func TestStopParentStopsChild(t *testing.T) {
	h := newHarness(t)
	h.machine("slowchild", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":30,"End":true}}}`)
	h.machine("parent", `{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2",
		"Parameters":{"StateMachineArn":"slowchild","Name":"kid"},"End":true}}}`)
	x := h.start("parent", "p", `{}`)
	child := h.eng.ExecutionARN("slowchild", "kid")
	eventually(t, "the child to start", func() bool {
		_, err := h.eng.Describe(context.Background(), child)
		return err == nil
	})
	stopped, err := h.eng.Stop(context.Background(), x.ARN, "Cancelled", "by test")
	if err != nil || stopped.Status != workflow.StatusAborted {
		t.Fatalf("parent: %+v %v", stopped, err)
	}
	if kid := h.wait(child); kid.Status != workflow.StatusAborted || kid.Error != "Cancelled" {
		t.Fatalf("child: %+v", kid)
	}
}
