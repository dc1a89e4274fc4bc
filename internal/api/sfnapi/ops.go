package sfnapi

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/hearth-sh/hearth/internal/workflow"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
	"github.com/hearth-sh/hearth/internal/workflow/engine"
)

// epoch is a timestamp as the AWS JSON protocol writes it: seconds since
// the Unix epoch, with a fraction.
type epoch time.Time

// MarshalJSON writes the seconds.
func (t epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

func stamp(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

type arnInput struct {
	StateMachineArn string `json:"stateMachineArn"`
	ExecutionArn    string `json:"executionArn"`
}

func (h *handler) createStateMachine(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Name       string `json:"name"`
		Definition string `json:"definition"`
		RoleArn    string `json:"roleArn"`
		Type       string `json:"type"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	m, err := h.eng.CreateMachine(ctx, engine.MachineSpec{Name: in.Name, Definition: in.Definition, RoleArn: in.RoleArn, Type: asl.Type(in.Type)})
	if err != nil {
		return nil, err
	}
	return map[string]any{"stateMachineArn": m.ARN, "creationDate": stamp(m.Created),
		"stateMachineVersionArn": nil}, nil
}

func (h *handler) updateStateMachine(ctx context.Context, body []byte) (any, error) {
	var in struct {
		StateMachineArn string `json:"stateMachineArn"`
		Definition      string `json:"definition"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Definition == "" {
		m, err := h.eng.Machine(ctx, in.StateMachineArn)
		if err != nil {
			return nil, err
		}
		return map[string]any{"updateDate": stamp(m.Updated)}, nil
	}
	m, err := h.eng.UpdateMachine(ctx, in.StateMachineArn, in.Definition)
	if err != nil {
		return nil, err
	}
	return map[string]any{"updateDate": stamp(m.Updated), "revisionId": strconv.FormatInt(m.Version, 10)}, nil
}

func (h *handler) describeStateMachine(ctx context.Context, body []byte) (any, error) {
	var in arnInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	m, err := h.eng.Machine(ctx, in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"stateMachineArn": m.ARN, "name": m.Name, "status": "ACTIVE", "definition": m.Definition,
		"roleArn": m.RoleArn, "type": string(m.Type), "creationDate": stamp(m.Created),
		"revisionId": strconv.FormatInt(m.Version, 10),
	}, nil
}

func (h *handler) listStateMachines(ctx context.Context, body []byte) (any, error) {
	var in struct {
		MaxResults int    `json:"maxResults"`
		NextToken  string `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ms, err := h.eng.Machines(ctx)
	if err != nil {
		return nil, err
	}
	lo, hi, next, err := page(len(ms), in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	items := []map[string]any{}
	for _, m := range ms[lo:hi] {
		items = append(items, map[string]any{"stateMachineArn": m.ARN, "name": m.Name, "type": string(m.Type), "creationDate": stamp(m.Created)})
	}
	return map[string]any{"stateMachines": items, "nextToken": next}, nil
}

func (h *handler) deleteStateMachine(ctx context.Context, body []byte) (any, error) {
	var in arnInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := h.eng.DeleteMachine(ctx, in.StateMachineArn); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

type startInput struct {
	StateMachineArn string `json:"stateMachineArn"`
	Name            string `json:"name"`
	Input           string `json:"input"`
}

func (h *handler) startExecution(ctx context.Context, body []byte) (any, error) {
	var in startInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	x, err := h.eng.Start(ctx, engine.StartInput{Machine: in.StateMachineArn, Name: in.Name, Input: json.RawMessage(in.Input)})
	if err != nil {
		return nil, err
	}
	return map[string]any{"executionArn": x.ARN, "startDate": stamp(x.StartTime)}, nil
}

func (h *handler) startSyncExecution(ctx context.Context, body []byte) (any, error) {
	var in startInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	x, err := h.eng.StartSync(ctx, engine.StartInput{Machine: in.StateMachineArn, Name: in.Name, Input: json.RawMessage(in.Input)})
	if err != nil {
		return nil, err
	}
	return describe(x), nil
}

// describe is DescribeExecution's (and StartSyncExecution's) output.
func describe(x *engine.Execution) map[string]any {
	out := map[string]any{
		"executionArn": x.ARN, "stateMachineArn": x.MachineARN, "name": x.Name, "status": string(x.Status),
		"startDate": stamp(x.StartTime), "input": string(x.Input),
		"inputDetails": map[string]bool{"included": true},
	}
	if !x.StopTime.IsZero() {
		out["stopDate"] = stamp(x.StopTime)
	}
	if x.Status == workflow.StatusSucceeded {
		out["output"] = string(x.Output)
		out["outputDetails"] = map[string]bool{"included": true}
	}
	if x.Error != "" {
		out["error"] = x.Error
	}
	if x.Cause != "" {
		out["cause"] = x.Cause
	}
	return out
}

func (h *handler) describeExecution(ctx context.Context, body []byte) (any, error) {
	var in arnInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	x, err := h.eng.Describe(ctx, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	return describe(x), nil
}

func (h *handler) listExecutions(ctx context.Context, body []byte) (any, error) {
	var in struct {
		StateMachineArn string `json:"stateMachineArn"`
		StatusFilter    string `json:"statusFilter"`
		MaxResults      int    `json:"maxResults"`
		NextToken       string `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if _, err := h.eng.Machine(ctx, in.StateMachineArn); err != nil {
		return nil, err
	}
	xs, err := h.eng.List(ctx, engine.Filter{Machine: in.StateMachineArn, Status: workflow.Status(in.StatusFilter)})
	if err != nil {
		return nil, err
	}
	lo, hi, next, err := page(len(xs), in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	items := []map[string]any{}
	for _, x := range xs[lo:hi] {
		item := map[string]any{"executionArn": x.ARN, "stateMachineArn": x.MachineARN, "name": x.Name,
			"status": string(x.Status), "startDate": stamp(x.StartTime)}
		if !x.StopTime.IsZero() {
			item["stopDate"] = stamp(x.StopTime)
		}
		items = append(items, item)
	}
	return map[string]any{"executions": items, "nextToken": next}, nil
}

func (h *handler) getExecutionHistory(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ExecutionArn         string `json:"executionArn"`
		MaxResults           int    `json:"maxResults"`
		NextToken            string `json:"nextToken"`
		ReverseOrder         bool   `json:"reverseOrder"`
		IncludeExecutionData *bool  `json:"includeExecutionData"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	events, err := h.eng.History(ctx, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	if in.ReverseOrder {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	lo, hi, next, err := page(len(events), in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	withData := in.IncludeExecutionData == nil || *in.IncludeExecutionData
	out := []map[string]any{}
	for _, ev := range events[lo:hi] {
		out = append(out, historyEvent(ev, withData))
	}
	return map[string]any{"events": out, "nextToken": next}, nil
}

func (h *handler) stopExecution(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ExecutionArn string `json:"executionArn"`
		Error        string `json:"error"`
		Cause        string `json:"cause"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	x, err := h.eng.Stop(ctx, in.ExecutionArn, in.Error, in.Cause)
	if err != nil {
		return nil, err
	}
	return map[string]any{"stopDate": stamp(x.StopTime)}, nil
}

type taskInput struct {
	TaskToken string `json:"taskToken"`
	Output    string `json:"output"`
	Error     string `json:"error"`
	Cause     string `json:"cause"`
}

func (h *handler) sendTaskSuccess(ctx context.Context, body []byte) (any, error) {
	var in taskInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if !json.Valid([]byte(in.Output)) {
		return nil, &awsError{status: 400, Type: "InvalidOutput", Message: "the output is not valid JSON"}
	}
	if err := h.eng.SendTaskSuccess(ctx, in.TaskToken, json.RawMessage(in.Output)); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (h *handler) sendTaskFailure(ctx context.Context, body []byte) (any, error) {
	var in taskInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := h.eng.SendTaskFailure(ctx, in.TaskToken, in.Error, in.Cause); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (h *handler) sendTaskHeartbeat(ctx context.Context, body []byte) (any, error) {
	var in taskInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := h.eng.SendTaskHeartbeat(ctx, in.TaskToken); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// page cuts [0,n) by maxResults (Step Functions' default and limit is
// 1000) and an offset token.
func page(n, maxResults int, token string) (lo, hi int, next *string, err error) {
	if maxResults <= 0 || maxResults > 1000 {
		maxResults = 1000
	}
	if token != "" {
		lo, err = strconv.Atoi(token)
		if err != nil || lo < 0 || lo > n {
			return 0, 0, nil, &awsError{status: 400, Type: "InvalidToken", Message: "the nextToken is not one this API returned"}
		}
	}
	hi = min(n, lo+maxResults)
	if hi < n {
		s := strconv.Itoa(hi)
		next = &s
	}
	return lo, hi, next, nil
}
