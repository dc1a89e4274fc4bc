package sfnapi

import (
	"strings"

	"github.com/hearth-sh/hearth/internal/workflow"
)

// historyEvent writes an event as Step Functions' HistoryEvent: the common
// fields and a details object named after the event type.
func historyEvent(ev workflow.Event, withData bool) map[string]any {
	out := map[string]any{"id": ev.ID, "previousEventId": ev.PreviousID, "timestamp": stamp(ev.Timestamp), "type": string(ev.Type)}
	data := func(v []byte) any {
		if !withData || v == nil {
			return nil
		}
		return string(v)
	}
	d := map[string]any{}
	name := ""
	t := string(ev.Type)
	switch {
	case ev.Type == workflow.ExecutionStarted:
		name = "executionStartedEventDetails"
		d["input"] = data(ev.Input)
	case ev.Type == workflow.ExecutionSucceeded:
		name = "executionSucceededEventDetails"
		d["output"] = data(ev.Output)
	case strings.HasPrefix(t, "Execution"):
		// Failed, Aborted, TimedOut.
		name = "execution" + strings.TrimPrefix(t, "Execution") + "EventDetails"
	case strings.HasSuffix(t, "StateEntered"):
		name = "stateEnteredEventDetails"
		d["name"], d["input"] = ev.Name, data(ev.Input)
	case strings.HasSuffix(t, "StateExited"):
		name = "stateExitedEventDetails"
		d["name"], d["output"] = ev.Name, data(ev.Output)
	case strings.HasPrefix(t, "Task"):
		name = "task" + strings.TrimPrefix(t, "Task") + "EventDetails"
		d["resourceType"], d["resource"] = resourceParts(ev.Resource)
		switch ev.Type {
		case workflow.TaskScheduled:
			d["parameters"], d["region"] = data(ev.Input), "local"
		case workflow.TaskSucceeded:
			d["output"] = data(ev.Output)
		}
	case strings.HasPrefix(t, "LambdaFunction"):
		name = "lambdaFunction" + strings.TrimPrefix(t, "LambdaFunction") + "EventDetails"
		switch ev.Type {
		case workflow.LambdaFunctionScheduled:
			d["resource"], d["input"] = ev.Resource, data(ev.Input)
		case workflow.LambdaFunctionSucceeded:
			d["output"] = data(ev.Output)
		}
	case strings.HasPrefix(t, "MapIteration"):
		name = "mapIteration" + strings.TrimPrefix(t, "MapIteration") + "EventDetails"
		d["name"] = ev.Name
		if ev.Index != nil {
			d["index"] = *ev.Index
		}
	case ev.Type == workflow.EvaluationFailed:
		name = "evaluationFailedEventDetails"
		d["state"] = ev.Name
	}
	if ev.Error != "" {
		d["error"] = ev.Error
	}
	if ev.Cause != "" {
		d["cause"] = ev.Cause
	}
	if name != "" {
		for k, v := range d {
			if v == nil {
				delete(d, k)
			}
		}
		out[name] = d
	}
	return out
}

// resourceParts splits a Task resource into Step Functions' resourceType
// and resource: arn:aws:states:::lambda:invoke is ("lambda", "invoke"); a
// hearth function name is ("hearth", name).
func resourceParts(resource string) (string, string) {
	if rest, ok := strings.CutPrefix(resource, "arn:aws:states:::"); ok {
		if typ, res, ok := strings.Cut(rest, ":"); ok {
			return typ, res
		}
	}
	return "hearth", resource
}
