package workflow

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// runDef runs def with input on an instant clock and the given invoker.
func runDef(t *testing.T, def, input string, inv Invoker) *Result {
	t.Helper()
	x := New(inv, &instantClock{now: time.Unix(0, 0)}, nil, nil)
	res, err := x.Run(context.Background(), Execution{ID: "exec", Machine: mustParse(t, def), Input: mustInput(t, input)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func eventTypes(res *Result) []EventType {
	var out []EventType
	for _, ev := range res.History {
		out = append(out, ev.Type)
	}
	return out
}

func hasEvent(res *Result, typ EventType) bool {
	for _, ev := range res.History {
		if ev.Type == typ {
			return true
		}
	}
	return false
}

func TestCompositeStates(t *testing.T) {
	failOn := func(bad string) Invoker {
		return InvokerFunc(func(_ context.Context, req TaskRequest) (any, error) {
			if s, _ := req.Input.(string); s == bad {
				return nil, &asl.Error{Name: "BadItem", Cause: "item " + s}
			}
			return req.Input, nil
		})
	}
	tests := []struct {
		name      string
		def       string
		input     string
		inv       Invoker
		status    Status
		output    string
		errorName string
		events    []EventType // must appear
	}{
		{
			name: "parallel branch failure fails the state with the branch's error",
			def: `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
				{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
				{"StartAt":"B","States":{"B":{"Type":"Fail","Error":"BranchBroke","Cause":"b"}}}]}}}`,
			input: `{}`, status: StatusFailed, errorName: "BranchBroke",
			events: []EventType{ParallelStateStarted, ParallelStateFailed, ExecutionFailed},
		},
		{
			name: "parallel results are in branch order",
			def: `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"ResultSelector":{"first.$":"$[0]","second.$":"$[1].v"},"Branches":[
				{"StartAt":"A","States":{"A":{"Type":"Pass","Result":1,"End":true}}},
				{"StartAt":"B","States":{"B":{"Type":"Pass","Result":{"v":2},"End":true}}}]}}}`,
			input: `{}`, status: StatusSucceeded, output: `{"first":1,"second":2}`,
		},
		{
			name: "map over tasks with item selector",
			def: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","MaxConcurrency":2,
				"ItemSelector":{"i.$":"$$.Map.Item.Index","v.$":"$$.Map.Item.Value"},
				"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"f","End":true}}},"End":true}}}`,
			input: `{"xs":["a","b","c"]}`, inv: failOn("none"), status: StatusSucceeded,
			output: `[{"i":0,"v":"a"},{"i":1,"v":"b"},{"i":2,"v":"c"}]`,
			events: []EventType{MapIterationStarted, TaskScheduled, MapIterationSucceeded, MapStateSucceeded},
		},
		{
			name: "map iteration failure fails the map",
			def: `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":1,
				"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"f","End":true}}},"End":true}}}`,
			input: `["a","bad","c"]`, inv: failOn("bad"), status: StatusFailed, errorName: "BadItem",
			events: []EventType{MapIterationFailed, MapStateFailed},
		},
		{
			name: "tolerated failures",
			def: `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":1,"ToleratedFailureCount":1,
				"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"T","States":{"T":{"Type":"Task","Resource":"f","End":true}}},"End":true}}}`,
			input: `["a","bad","c"]`, inv: failOn("bad"), status: StatusSucceeded, output: `["a",null,"c"]`,
			events: []EventType{MapRunStarted, MapRunSucceeded},
		},
		{
			name: "exceeded tolerance",
			def: `{"StartAt":"M","States":{"M":{"Type":"Map","ToleratedFailurePercentage":10,
				"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"T","States":{"T":{"Type":"Task","Resource":"f","End":true}}},"End":true}}}`,
			input: `["a","bad","c"]`, inv: failOn("bad"), status: StatusFailed, errorName: asl.ErrExceedToleratedFail,
		},
		{
			name: "map caught by Catch",
			def: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","ItemProcessor":{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","Cause":"c"}}},
				"Catch":[{"ErrorEquals":["E"],"ResultPath":"$.caught","Next":"Done"}],"End":true},"Done":{"Type":"Succeed"}}}`,
			input: `{"xs":[1]}`, status: StatusSucceeded, output: `{"xs":[1],"caught":{"Error":"E","Cause":"c"}}`,
			events: []EventType{MapStateFailed, MapStateExited, SucceedStateEntered},
		},
		{
			name: "a caught error must still fit ResultPath",
			def: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E"}}},
				"Catch":[{"ErrorEquals":["E"],"ResultPath":"$.caught","Next":"Done"}],"End":true},"Done":{"Type":"Succeed"}}}`,
			input: `[1]`, status: StatusFailed, errorName: asl.ErrResultPathMatchFailed,
		},
		{
			name:  "no choice matched",
			def:   `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.x","NumericEquals":1,"Next":"S"}]},"S":{"Type":"Succeed"}}}`,
			input: `{"x":2}`, status: StatusFailed, errorName: asl.ErrNoChoiceMatched,
		},
		{
			name: "variables are scoped to their iteration",
			def: `{"StartAt":"A","States":{
				"A":{"Type":"Pass","Assign":{"x":1},"Next":"M"},
				"M":{"Type":"Map","ItemsPath":"$.xs","ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","Assign":{"x.$":"$"},"End":true}}},"ResultPath":null,"Next":"B"},
				"B":{"Type":"Pass","Parameters":{"x.$":"$x"},"End":true}}}`,
			input: `{"xs":[5,6]}`, status: StatusSucceeded, output: `{"x":1}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runDef(t, tt.def, tt.input, tt.inv)
			if res.Status != tt.status || res.Error != tt.errorName {
				t.Fatalf("status %s %q (%s), want %s %q; events %v", res.Status, res.Error, res.Cause, tt.status, tt.errorName, eventTypes(res))
			}
			if tt.output != "" && !asl.Equal(res.Output, mustInput(t, tt.output)) {
				t.Errorf("output %s, want %s", mustJSON(res.Output), tt.output)
			}
			for _, ev := range tt.events {
				if !hasEvent(res, ev) {
					t.Errorf("no %s event in %v", ev, eventTypes(res))
				}
			}
		})
	}
}

func TestTaskIntegrations(t *testing.T) {
	var got TaskRequest
	inv := InvokerFunc(func(_ context.Context, req TaskRequest) (any, error) {
		got = req
		return map[string]any{"ok": true}, nil
	})
	res := runDef(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
		"Parameters":{"FunctionName":"arn:aws:lambda:us-east-1:1:function:resize:live","Payload":{"n.$":"$.n"}},
		"ResultSelector":{"body.$":"$.Payload"},"End":true}}}`, `{"n":3}`, inv)
	if res.Status != StatusSucceeded || !asl.Equal(res.Output, mustInput(t, `{"body":{"ok":true}}`)) {
		t.Fatalf("lambda:invoke: %s %s (%s)", res.Status, mustJSON(res.Output), res.Cause)
	}
	if got.Function != "resize" || !asl.Equal(got.Input, mustInput(t, `{"n":3}`)) {
		t.Errorf("lambda:invoke request %+v", got)
	}

	res = runDef(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
		"Parameters":{"token.$":"$$.Task.Token"},"HeartbeatSeconds":30,"End":true}}}`, `{}`, inv)
	if res.Status != StatusSucceeded {
		t.Fatalf("callback task: %s (%s)", res.Status, res.Cause)
	}
	m, _ := got.Input.(map[string]any)
	if got.TaskToken == "" || m["token"] != got.TaskToken || got.Heartbeat != 30*time.Second {
		t.Errorf("callback request token %q input %v heartbeat %v", got.TaskToken, got.Input, got.Heartbeat)
	}
}

func TestJSONataTask(t *testing.T) {
	inv := InvokerFunc(func(_ context.Context, req TaskRequest) (any, error) {
		m, _ := req.Input.(map[string]any)
		if m["n"] == nil {
			return nil, &asl.Error{Name: "NoNumber", Cause: "n is missing"}
		}
		return map[string]any{"doubled": asl.Number(6)}, nil
	})
	def := `{"QueryLanguage":"JSONata","StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"double","Arguments":{"n":"{% $states.input.x %}"},
			"Assign":{"last":"{% $states.result.doubled %}"},
			"Output":{"result":"{% $states.result.doubled %}","input":"{% $states.input.x %}"},
			"Catch":[{"ErrorEquals":["NoNumber"],"Output":{"failed":"{% $states.errorOutput.Error %}"},"Next":"Done"}],
			"Next":"V"},
		"V":{"Type":"Pass","Output":{"last":"{% $last %}","result":"{% $states.input.result %}"},"End":true},
		"Done":{"Type":"Succeed"}}}`
	res := runDef(t, def, `{"x":3}`, inv)
	if res.Status != StatusSucceeded || !asl.Equal(res.Output, mustInput(t, `{"last":6,"result":6}`)) {
		t.Errorf("success path: %s %s (%s)", res.Status, mustJSON(res.Output), res.Cause)
	}
	res = runDef(t, def, `{"x":null}`, inv)
	if res.Status != StatusSucceeded || !asl.Equal(res.Output, mustInput(t, `{"failed":"NoNumber"}`)) {
		t.Errorf("catch path: %s %s (%s)", res.Status, mustJSON(res.Output), res.Cause)
	}
}

// TestQueryErrorsCanBeCaught checks that a JSONata evaluation error in a
// Task's Arguments is a States.QueryEvaluationError that Catch handles.
func TestQueryErrorsCanBeCaught(t *testing.T) {
	def := `{"QueryLanguage":"JSONata","StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"f","Arguments":{"n":"{% $states.input.missing %}"},
			"Catch":[{"ErrorEquals":["States.QueryEvaluationError"],"Next":"Done"}],"End":true},
		"Done":{"Type":"Pass","End":true}}}`
	res := runDef(t, def, `{}`, InvokerFunc(func(context.Context, TaskRequest) (any, error) { return nil, nil }))
	if res.Status != StatusSucceeded || !hasEvent(res, EvaluationFailed) {
		t.Fatalf("status %s (%s); events %v", res.Status, res.Cause, eventTypes(res))
	}
	out, _ := res.Output.(map[string]any)
	if out["Error"] != asl.ErrQueryEvaluation {
		t.Errorf("output %s, want the error output", mustJSON(res.Output))
	}
}

func TestCallbackHeartbeat(t *testing.T) {
	m := mustParse(t, `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","HeartbeatSeconds":30,
			"Parameters":{"FunctionName":"worker","Payload":{"token.$":"$$.Task.Token"}},
			"Catch":[{"ErrorEquals":["States.HeartbeatTimeout"],"Next":"Late"}],"End":true},
		"Late":{"Type":"Pass","End":true}}}`)
	beats := make(chan func(), 1)
	inv := InvokerFunc(func(ctx context.Context, req TaskRequest) (any, error) {
		beats <- req.Beat
		<-ctx.Done()
		return nil, ctx.Err()
	})
	clk := clock.NewFake(time.Unix(0, 0))
	results := make(chan *Result, 1)
	go func() {
		res, err := New(inv, clk, nil, nil).Run(context.Background(), Execution{ID: "e", Machine: m}, nil)
		if err != nil {
			t.Error(err)
		}
		results <- res
	}()
	beat := <-beats
	if beat == nil {
		t.Fatal("callback task got no Beat function")
	}
	clk.Advance(20 * time.Second)
	beat()
	clk.Advance(20 * time.Second) // 40s in, 20s since the last beat
	beat()
	select {
	case res := <-results:
		t.Fatalf("task ended early: %s %s", res.Status, res.Cause)
	default:
	}
	clk.Advance(31 * time.Second)
	res := <-results
	if res.Status != StatusSucceeded || !hasEvent(res, TaskTimedOut) {
		t.Fatalf("status %s (%s); events %v", res.Status, res.Cause, eventTypes(res))
	}
	out, _ := res.Output.(map[string]any)
	if out["Error"] != asl.ErrHeartbeatTimeout {
		t.Errorf("output %s, want the heartbeat timeout error output", mustJSON(res.Output))
	}
}
