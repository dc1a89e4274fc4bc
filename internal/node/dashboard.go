package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hearth-sh/hearth/internal/web"
	"github.com/hearth-sh/hearth/internal/workflow/engine"
)

// workflowView feeds the dashboard's workflow pages from the engine (made
// after the dashboard, hence the node pointer).
type workflowView struct{ n *Node }

func (v workflowView) engine() (*engine.Engine, error) {
	if v.n.workflows == nil {
		return nil, errors.New("the workflow engine is not running")
	}
	return v.n.workflows, nil
}

// Executions lists the newest executions.
func (v workflowView) Executions(ctx context.Context, limit int) ([]web.Execution, error) {
	eng, err := v.engine()
	if err != nil {
		return nil, err
	}
	all, err := eng.List(ctx, engine.Filter{})
	if err != nil {
		return nil, err
	}
	out := make([]web.Execution, 0, min(len(all), limit))
	for _, e := range all {
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, listed(e))
	}
	return out, nil
}

func listed(e *engine.Execution) web.Execution {
	return web.Execution{ID: e.ARN, Name: e.Name, Machine: e.MachineName, Status: string(e.Status),
		Start: e.StartTime, Stop: e.StopTime, Error: e.Error}
}

// Execution shows one execution with how far each top-level state got,
// worked out from its history.
func (v workflowView) Execution(ctx context.Context, id string) (web.ExecutionDetail, error) {
	eng, err := v.engine()
	if err != nil {
		return web.ExecutionDetail{}, err
	}
	e, err := eng.Describe(ctx, id)
	if errors.Is(err, engine.ErrExecutionNotFound) {
		return web.ExecutionDetail{}, fmt.Errorf("%w: %v", web.ErrNotFound, err)
	}
	if err != nil {
		return web.ExecutionDetail{}, err
	}
	events, err := eng.History(ctx, id)
	if err != nil {
		return web.ExecutionDetail{}, err
	}
	var def struct {
		States map[string]json.RawMessage `json:"States"`
	}
	_ = json.Unmarshal([]byte(e.Definition), &def)
	states := map[string]string{}
	for _, ev := range events {
		if _, top := def.States[ev.Name]; !top || ev.Name == "" {
			continue
		}
		switch t := string(ev.Type); {
		case strings.HasSuffix(t, "StateEntered"):
			states[ev.Name] = web.StateRunning
		case strings.HasSuffix(t, "StateExited"):
			states[ev.Name] = web.StateSucceeded
		}
	}
	if e.Status != "RUNNING" && e.Status != "SUCCEEDED" {
		for name, st := range states {
			if st == web.StateRunning {
				states[name] = web.StateFailed
			}
		}
	}
	return web.ExecutionDetail{Execution: listed(e), Definition: json.RawMessage(e.Definition), States: states}, nil
}
