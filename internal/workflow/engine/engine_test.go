package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/workflow"
)

const threeTasks = `{"StartAt":"A","States":{
	"A":{"Type":"Task","Resource":"add","Next":"B"},
	"B":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:add","Next":"C"},
	"C":{"Type":"Task","Resource":"add","End":true}}}`

func addOne(_ context.Context, body []byte) (any, *runtime.FunctionError) {
	var in struct{ N int }
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &runtime.FunctionError{Type: "BadInput", Message: err.Error()}
	}
	return map[string]int{"N": in.N + 1}, nil
}

func TestMachinesCreateUpdateDelete(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	def := `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`
	m := h.machine("m1", def)
	if m.Version != 1 || m.ARN != "arn:aws:states:local:000000000000:stateMachine:m1" {
		t.Fatalf("created %+v", m)
	}
	again, err := h.eng.CreateMachine(ctx, MachineSpec{Name: "m1", Definition: def})
	if err != nil || again.Version != 1 {
		t.Fatalf("idempotent create: %+v %v", again, err)
	}
	def2 := `{"StartAt":"Q","States":{"Q":{"Type":"Pass","Result":1,"End":true}}}`
	if _, err := h.eng.CreateMachine(ctx, MachineSpec{Name: "m1", Definition: def2}); !errors.Is(err, ErrMachineExists) {
		t.Fatalf("create with another definition: %v", err)
	}
	up, err := h.eng.UpdateMachine(ctx, m.ARN, def2)
	if err != nil || up.Version != 2 || up.Definition != def2 {
		t.Fatalf("update: %+v %v", up, err)
	}
	versions, err := h.eng.MachineVersions(ctx, "m1")
	if err != nil || len(versions) != 2 || versions[0].Definition != def || versions[1].Version != 2 {
		t.Fatalf("versions: %v %v", versions, err)
	}
	for _, tc := range []struct {
		name, def string
		want      error
	}{
		{"bad name", `{}`, ErrInvalidName},
		{"bad-def", `{"StartAt":"X","States":{}}`, ErrInvalidDefinition},
		{"not-json", `{`, ErrInvalidDefinition},
	} {
		if _, err := h.eng.CreateMachine(ctx, MachineSpec{Name: tc.name, Definition: tc.def}); !errors.Is(err, tc.want) {
			t.Errorf("create %q: %v, want %v", tc.name, err, tc.want)
		}
	}
	h.machine("m2", def)
	list, err := h.eng.Machines(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "m1" || list[1].Name != "m2" {
		t.Fatalf("list: %v %v", list, err)
	}
	if err := h.eng.DeleteMachine(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Machine(ctx, "m1"); !errors.Is(err, ErrMachineNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := h.eng.DeleteMachine(ctx, "m1"); !errors.Is(err, ErrMachineNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if _, err := h.eng.MachineVersions(ctx, "m1"); !errors.Is(err, ErrMachineNotFound) {
		t.Fatalf("versions after delete: %v", err)
	}
	// A new machine by the same name starts its versions again.
	h.machine("m1", def2)
	if versions, err := h.eng.MachineVersions(ctx, "m1"); err != nil || len(versions) != 1 || versions[0].Definition != def2 {
		t.Fatalf("versions of the new m1: %v %v", versions, err)
	}
}

func TestStandardExecutionRunsTasks(t *testing.T) {
	h := newHarness(t)
	h.fns.set("add", addOne)
	h.machine("chain", threeTasks)
	x := h.start("chain", "first", `{"N":1}`)
	if x.Status != workflow.StatusRunning {
		t.Fatalf("started %+v", x)
	}
	done := h.wait(x.ARN)
	if done.Status != workflow.StatusSucceeded || string(done.Output) != `{"N":4}` {
		t.Fatalf("finished %+v", done)
	}
	events, err := h.eng.History(context.Background(), x.ARN)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range events {
		types = append(types, string(ev.Type))
	}
	got := strings.Join(types, ",")
	if !strings.HasPrefix(got, "ExecutionStarted,TaskStateEntered,TaskScheduled") || !strings.Contains(got, "LambdaFunctionSucceeded") || !strings.HasSuffix(got, "ExecutionSucceeded") {
		t.Fatalf("history %s", got)
	}
	// The same name and input return the execution; another input fails.
	if again := h.start("chain", "first", `{"N":1}`); again.ARN != x.ARN || again.Status != workflow.StatusSucceeded {
		t.Fatalf("restart same name: %+v", again)
	}
	if _, err := h.eng.Start(context.Background(), StartInput{Machine: "chain", Name: "first", Input: json.RawMessage(`{"N":2}`)}); !errors.Is(err, ErrExecutionExists) {
		t.Fatalf("same name other input: %v", err)
	}
}

func TestFunctionErrorsAreCaught(t *testing.T) {
	h := newHarness(t)
	h.fns.set("boom", func(context.Context, []byte) (any, *runtime.FunctionError) {
		return nil, &runtime.FunctionError{Type: "OutOfStock", Message: "no more"}
	})
	h.machine("catch", `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"boom","Catch":[{"ErrorEquals":["OutOfStock"],"Next":"F"}],"End":true},
		"F":{"Type":"Fail","Error":"Rolled","CausePath":"$.Cause"}}}`)
	done := h.wait(h.start("catch", "", `{}`).ARN)
	if done.Status != workflow.StatusFailed || done.Error != "Rolled" || done.Cause != "no more" {
		t.Fatalf("finished %+v", done)
	}
	h.machine("missing", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"nope","End":true}}}`)
	done = h.wait(h.start("missing", "", `{}`).ARN)
	if done.Status != workflow.StatusFailed || done.Error != "States.TaskFailed" {
		t.Fatalf("missing function: %+v", done)
	}
}

func TestListFiltersByMachineAndStatus(t *testing.T) {
	h := newHarness(t)
	h.machine("ok", `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)
	h.machine("bad", `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E"}}}`)
	h.machine("slow", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":5,"End":true}}}`)
	for i := range 3 {
		h.wait(h.start("ok", fmt.Sprint("ok", i), `{}`).ARN)
	}
	h.wait(h.start("bad", "bad0", `{}`).ARN)
	h.start("slow", "slow0", `{}`)
	ctx := context.Background()
	for _, tc := range []struct {
		f    Filter
		want int
	}{
		{Filter{}, 5},
		{Filter{Machine: "ok"}, 3},
		{Filter{Machine: "arn:aws:states:us-east-1:1:stateMachine:bad"}, 1},
		{Filter{Status: workflow.StatusFailed}, 1},
		{Filter{Status: workflow.StatusRunning}, 1},
		{Filter{Machine: "ok", Status: workflow.StatusFailed}, 0},
	} {
		got, err := h.eng.List(ctx, tc.f)
		if err != nil || len(got) != tc.want {
			t.Errorf("List(%+v) = %d executions, %v; want %d", tc.f, len(got), err, tc.want)
		}
	}
}

func TestExpressRunsInMemory(t *testing.T) {
	h := newHarness(t)
	h.fns.set("add", addOne)
	ctx := context.Background()
	if _, err := h.eng.CreateMachine(ctx, MachineSpec{Name: "fast", Type: "EXPRESS", Definition: threeTasks}); err != nil {
		t.Fatal(err)
	}
	x, err := h.eng.StartSync(ctx, StartInput{Machine: "fast", Input: json.RawMessage(`{"N":10}`)})
	if err != nil || x.Status != workflow.StatusSucceeded || string(x.Output) != `{"N":13}` {
		t.Fatalf("StartSync: %+v %v", x, err)
	}
	events, err := h.eng.History(ctx, x.ARN)
	if err != nil || len(events) == 0 || events[len(events)-1].Type != workflow.ExecutionSucceeded {
		t.Fatalf("history: %d events, %v", len(events), err)
	}
	// Nothing of it is on the backbone: a restart forgets it.
	h.restart()
	if _, err := h.eng.Describe(ctx, x.ARN); !errors.Is(err, ErrExecutionNotFound) {
		t.Fatalf("after restart: %v", err)
	}
}

func TestStopAbortsRunningExecution(t *testing.T) {
	h := newHarness(t)
	h.machine("waits", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":30,"End":true}}}`)
	x := h.start("waits", "w", `{}`)
	eventually(t, "the wait timer", func() bool { return h.clk.Pending() > 0 })
	stopped, err := h.eng.Stop(context.Background(), x.ARN, "Manual", "operator said so")
	if err != nil || stopped.Status != workflow.StatusAborted || stopped.Error != "Manual" || stopped.Cause != "operator said so" {
		t.Fatalf("stop: %+v %v", stopped, err)
	}
	if _, err := h.eng.Stop(context.Background(), "arn:aws:states:local:000000000000:execution:waits:none", "", ""); !errors.Is(err, ErrExecutionNotFound) {
		t.Fatalf("stop unknown: %v", err)
	}
}

// TestRetryIntervalOnFakeClock checks that a retry waits on the engine's
// clock: nothing runs again until the clock passes the interval.
func TestRetryIntervalOnFakeClock(t *testing.T) {
	h := newHarness(t)
	failures := 1
	h.fns.set("flaky", func(context.Context, []byte) (any, *runtime.FunctionError) {
		if failures > 0 {
			failures--
			return nil, &runtime.FunctionError{Type: "Busy", Message: "try later"}
		}
		return "ok", nil
	})
	h.machine("retry", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"flaky","End":true,
		"Retry":[{"ErrorEquals":["Busy"],"IntervalSeconds":10,"MaxAttempts":2}]}}}`)
	x := h.start("retry", "r", `{}`)
	eventually(t, "the retry timer", func() bool { return h.clk.Pending() > 0 })
	if d, _ := h.eng.Describe(context.Background(), x.ARN); d.Status != workflow.StatusRunning {
		t.Fatalf("before the interval: %+v", d)
	}
	h.clk.Advance(10 * time.Second)
	if done := h.wait(x.ARN); done.Status != workflow.StatusSucceeded || string(done.Output) != `"ok"` {
		t.Fatalf("after the interval: %+v", done)
	}
}
