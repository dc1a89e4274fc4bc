package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Workflow is a stored state machine (Amazon States Language).
type Workflow struct {
	Name       string          `json:"name"`
	ARN        string          `json:"arn"`
	Type       string          `json:"type"` // STANDARD or EXPRESS
	Definition json.RawMessage `json:"definition"`
	RoleArn    string          `json:"roleArn,omitempty"`
	Version    int64           `json:"version"`
	Created    time.Time       `json:"created"`
	Updated    time.Time       `json:"updated"`
}

// Execution is one run of a workflow.
type Execution struct {
	ARN       string          `json:"arn"`
	Name      string          `json:"name"`
	Workflow  string          `json:"machine"`
	Type      string          `json:"type"`
	Status    string          `json:"status"` // RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
	Input     json.RawMessage `json:"input,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     string          `json:"error,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	StartTime time.Time       `json:"startTime"`
	StopTime  *time.Time      `json:"stopTime,omitempty"`
	// WakeAt is set while the execution waits on a long timer.
	WakeAt *time.Time `json:"wakeAt,omitempty"`
	// Parent is the execution that started this one, if any.
	Parent string `json:"parent,omitempty"`
}

// HistoryEvent is one event of an execution's history, named as in Step
// Functions (ExecutionStarted, TaskStateEntered, TaskSucceeded, …).
type HistoryEvent struct {
	ID         int64           `json:"id"`
	PreviousID int64           `json:"previousEventId,omitempty"`
	Timestamp  time.Time       `json:"timestamp"`
	Type       string          `json:"type"`
	Name       string          `json:"name,omitempty"`
	Input      json.RawMessage `json:"input,omitempty"`
	Output     json.RawMessage `json:"output,omitempty"`
	Error      string          `json:"error,omitempty"`
	Cause      string          `json:"cause,omitempty"`
	Resource   string          `json:"resource,omitempty"`
}

// StartOptions starts an execution.
type StartOptions struct {
	// Name is unique per workflow; empty lets the node choose one.
	Name string
	// Input is the execution input (JSON); empty means {}.
	Input json.RawMessage
	// Sync waits for the execution to finish and returns its result.
	Sync bool
}

// ExecutionFilter selects executions; empty fields match all.
type ExecutionFilter struct {
	Workflow string
	Status   string
}

func workflowPath(name string) string { return "/v1/workflows/" + url.PathEscape(name) }

func executionPath(workflow, execution string) string {
	return workflowPath(workflow) + "/executions/" + url.PathEscape(execution)
}

// workflowJSON sends body (when non-nil) as JSON and decodes the answer
// into out.
func (c *Client) workflowJSON(ctx context.Context, method, path string, body, out any) error {
	var buf bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&buf).Encode(body); err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
	}
	req, err := c.newRequest(ctx, method, path, &buf)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, out)
}

// CreateWorkflow stores a state machine; typ is STANDARD (or "") or
// EXPRESS. Creating the same definition again returns the stored one.
func (c *Client) CreateWorkflow(ctx context.Context, name string, definition []byte, typ string) (Workflow, error) {
	var w Workflow
	err := c.workflowJSON(ctx, http.MethodPost, "/v1/workflows", map[string]any{
		"name": name, "definition": string(definition), "type": typ,
	}, &w)
	return w, err
}

// UpdateWorkflow replaces a workflow's definition; running executions keep
// the one they started with.
func (c *Client) UpdateWorkflow(ctx context.Context, name string, definition []byte) (Workflow, error) {
	var w Workflow
	err := c.workflowJSON(ctx, http.MethodPut, workflowPath(name), map[string]any{"definition": string(definition)}, &w)
	return w, err
}

// GetWorkflow returns a workflow by name.
func (c *Client) GetWorkflow(ctx context.Context, name string) (Workflow, error) {
	var w Workflow
	err := c.workflowJSON(ctx, http.MethodGet, workflowPath(name), nil, &w)
	return w, err
}

// ListWorkflows returns the stored workflows by name.
func (c *Client) ListWorkflows(ctx context.Context) ([]Workflow, error) {
	var out struct{ Workflows []Workflow }
	err := c.workflowJSON(ctx, http.MethodGet, "/v1/workflows", nil, &out)
	return out.Workflows, err
}

// DeleteWorkflow removes a workflow; its running executions continue.
func (c *Client) DeleteWorkflow(ctx context.Context, name string) error {
	return c.workflowJSON(ctx, http.MethodDelete, workflowPath(name), nil, nil)
}

// StartExecution starts an execution of a workflow.
func (c *Client) StartExecution(ctx context.Context, workflow string, opts StartOptions) (Execution, error) {
	body := map[string]any{"name": opts.Name, "sync": opts.Sync}
	if len(opts.Input) > 0 {
		body["input"] = opts.Input
	}
	var x Execution
	err := c.workflowJSON(ctx, http.MethodPost, workflowPath(workflow)+"/executions", body, &x)
	return x, err
}

// DescribeExecution returns an execution with its input and output.
func (c *Client) DescribeExecution(ctx context.Context, workflow, execution string) (Execution, error) {
	var x Execution
	err := c.workflowJSON(ctx, http.MethodGet, executionPath(workflow, execution), nil, &x)
	return x, err
}

// ListExecutions returns the executions that match f, newest first.
func (c *Client) ListExecutions(ctx context.Context, f ExecutionFilter) ([]Execution, error) {
	q := url.Values{}
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	path := "/v1/workflows/executions"
	if f.Workflow != "" {
		path = workflowPath(f.Workflow) + "/executions"
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct{ Executions []Execution }
	err := c.workflowJSON(ctx, http.MethodGet, path, nil, &out)
	return out.Executions, err
}

// ExecutionHistory returns an execution's events, oldest first (newest
// first with reverse).
func (c *Client) ExecutionHistory(ctx context.Context, workflow, execution string, reverse bool) ([]HistoryEvent, error) {
	path := executionPath(workflow, execution) + "/history"
	if reverse {
		path += "?reverse=true"
	}
	var out struct{ Events []HistoryEvent }
	err := c.workflowJSON(ctx, http.MethodGet, path, nil, &out)
	return out.Events, err
}

// StopExecution stops a running execution; it ends ABORTED with the
// error and cause given.
func (c *Client) StopExecution(ctx context.Context, workflow, execution, errName, cause string) (Execution, error) {
	var x Execution
	err := c.workflowJSON(ctx, http.MethodPost, executionPath(workflow, execution)+"/stop",
		map[string]string{"error": errName, "cause": cause}, &x)
	return x, err
}

// SendTaskSuccess completes a .waitForTaskToken task with output (JSON).
func (c *Client) SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error {
	return c.workflowJSON(ctx, http.MethodPost, "/v1/workflows/tasks/success", map[string]any{"token": token, "output": output}, nil)
}

// SendTaskFailure fails a .waitForTaskToken task.
func (c *Client) SendTaskFailure(ctx context.Context, token, errName, cause string) error {
	return c.workflowJSON(ctx, http.MethodPost, "/v1/workflows/tasks/failure", map[string]string{"token": token, "error": errName, "cause": cause}, nil)
}

// SendTaskHeartbeat tells a task with HeartbeatSeconds that its worker is
// still busy.
func (c *Client) SendTaskHeartbeat(ctx context.Context, token string) error {
	return c.workflowJSON(ctx, http.MethodPost, "/v1/workflows/tasks/heartbeat", map[string]string{"token": token}, nil)
}
