// Package wfapi is the native workflow API under /v1/workflows: state
// machines, their executions, and callback task completions. The engine
// (internal/workflow/engine) does the work; this package maps HTTP to it
// and its errors to apierror.
package wfapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/hearth-sh/hearth/internal/apierror"
	"github.com/hearth-sh/hearth/internal/workflow"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
	"github.com/hearth-sh/hearth/internal/workflow/engine"
)

// maxBody bounds request bodies: a definition or an input of Step
// Functions' largest sizes (1 MiB definitions, 256 KiB payloads) fits.
const maxBody = 2 << 20

// Register adds the workflow routes to mux. Its signature fits a closure
// in api.Config.Mount.
func Register(mux *http.ServeMux, eng *engine.Engine) {
	a := &api{eng: eng}
	mux.HandleFunc("POST /v1/workflows", a.createMachine)
	mux.HandleFunc("GET /v1/workflows", a.listMachines)
	mux.HandleFunc("GET /v1/workflows/{machine}", a.getMachine)
	mux.HandleFunc("PUT /v1/workflows/{machine}", a.updateMachine)
	mux.HandleFunc("DELETE /v1/workflows/{machine}", a.deleteMachine)
	mux.HandleFunc("GET /v1/workflows/{machine}/versions", a.machineVersions)

	mux.HandleFunc("POST /v1/workflows/{machine}/executions", a.start)
	mux.HandleFunc("GET /v1/workflows/{machine}/executions", a.listExecutions)
	mux.HandleFunc("GET /v1/workflows/executions", a.listExecutions)
	mux.HandleFunc("GET /v1/workflows/{machine}/executions/{execution}", a.describe)
	mux.HandleFunc("GET /v1/workflows/{machine}/executions/{execution}/history", a.history)
	mux.HandleFunc("POST /v1/workflows/{machine}/executions/{execution}/stop", a.stop)

	mux.HandleFunc("POST /v1/workflows/tasks/success", a.taskSuccess)
	mux.HandleFunc("POST /v1/workflows/tasks/failure", a.taskFailure)
	mux.HandleFunc("POST /v1/workflows/tasks/heartbeat", a.taskHeartbeat)
}

type api struct{ eng *engine.Engine }

// Machine is a state machine as the API shows it.
type Machine struct {
	Name       string          `json:"name"`
	ARN        string          `json:"arn"`
	Type       string          `json:"type"`
	Definition json.RawMessage `json:"definition"`
	RoleArn    string          `json:"roleArn,omitempty"`
	Version    int64           `json:"version"`
	Created    time.Time       `json:"created"`
	Updated    time.Time       `json:"updated"`
}

func machineView(m *engine.Machine) Machine {
	def := json.RawMessage(m.Definition)
	if !json.Valid(def) {
		// YAML-free ASL is JSON; keep a definition that is not (it passed
		// validation, so this is unreachable) readable as a string.
		def, _ = json.Marshal(m.Definition)
	}
	return Machine{Name: m.Name, ARN: m.ARN, Type: string(m.Type), Definition: def, RoleArn: m.RoleArn,
		Version: m.Version, Created: m.Created, Updated: m.Updated}
}

// Execution is an execution as the API shows it.
type Execution struct {
	ARN       string          `json:"arn"`
	Name      string          `json:"name"`
	Machine   string          `json:"machine"`
	Type      string          `json:"type"`
	Status    string          `json:"status"`
	Input     json.RawMessage `json:"input,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     string          `json:"error,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	StartTime time.Time       `json:"startTime"`
	StopTime  *time.Time      `json:"stopTime,omitempty"`
	WakeAt    *time.Time      `json:"wakeAt,omitempty"`
	Parent    string          `json:"parent,omitempty"`
}

func executionView(x *engine.Execution) Execution {
	v := Execution{ARN: x.ARN, Name: x.Name, Machine: x.MachineName, Type: string(x.Type), Status: string(x.Status),
		Input: x.Input, Output: x.Output, Error: x.Error, Cause: x.Cause, StartTime: x.StartTime, Parent: x.Parent}
	if !x.StopTime.IsZero() {
		v.StopTime = &x.StopTime
	}
	if !x.WakeAt.IsZero() {
		v.WakeAt = &x.WakeAt
	}
	return v
}

// executionARN rebuilds an execution's ARN from the path: the engine's
// execution ARNs are machine-scoped, so the machine's and the execution's
// names identify it (also after the machine was deleted).
func (a *api) executionARN(r *http.Request) string {
	return a.eng.ExecutionARN(r.PathValue("machine"), r.PathValue("execution"))
}

// definitionText accepts a definition as a JSON string or as a JSON object.
func definitionText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", apierror.BadRequest("definition is required")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	return string(raw), nil
}

func (a *api) createMachine(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name       string          `json:"name"`
		Definition json.RawMessage `json:"definition"`
		Type       string          `json:"type"`
		RoleArn    string          `json:"roleArn"`
	}
	if err := decode(w, r, &body); err != nil {
		apierror.Write(w, err)
		return
	}
	def, err := definitionText(body.Definition)
	if err != nil {
		apierror.Write(w, err)
		return
	}
	m, err := a.eng.CreateMachine(r.Context(), engine.MachineSpec{Name: body.Name, Definition: def, Type: asl.Type(body.Type), RoleArn: body.RoleArn})
	if err != nil {
		apierror.Write(w, apiError(err))
		return
	}
	writeJSON(w, http.StatusCreated, machineView(m))
}

func (a *api) updateMachine(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Definition json.RawMessage `json:"definition"`
	}
	if err := decode(w, r, &body); err != nil {
		apierror.Write(w, err)
		return
	}
	def, err := definitionText(body.Definition)
	if err != nil {
		apierror.Write(w, err)
		return
	}
	m, err := a.eng.UpdateMachine(r.Context(), r.PathValue("machine"), def)
	if err != nil {
		apierror.Write(w, apiError(err))
		return
	}
	writeJSON(w, http.StatusOK, machineView(m))
}

func (a *api) getMachine(w http.ResponseWriter, r *http.Request) {
	m, err := a.eng.Machine(r.Context(), r.PathValue("machine"))
	if err != nil {
		apierror.Write(w, apiError(err))
		return
	}
	writeJSON(w, http.StatusOK, machineView(m))
}

func (a *api) listMachines(w http.ResponseWriter, r *http.Request) {
	ms, err := a.eng.Machines(r.Context())
	if err != nil {
		apierror.Write(w, apiError(err))
		return
	}
	out := make([]Machine, 0, len(ms))
	for _, m := range ms {
		out = append(out, machineView(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"workflows": out})
}

func (a *api) machineVersions(w http.ResponseWriter, r *http.Request) {
	ms, err := a.eng.MachineVersions(r.Context(), r.PathValue("machine"))
	if err != nil {
		apierror.Write(w, apiError(err))
		return
	}
	out := make([]Machine, 0, len(ms))
	for _, m := range ms {
		out = append(out, machineView(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": out})
}

func (a *api) deleteMachine(w http.ResponseWriter, r *http.Request) {
	if err := a.eng.DeleteMachine(r.Context(), r.PathValue("machine")); err != nil {
		apierror.Write(w, apiError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) start(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
		// Sync waits for the execution to finish and returns its result.
		Sync bool `json:"sync"`
	}
	if err := decode(w, r, &body); err != nil {
		apierror.Write(w, err)
		return
	}
	in := engine.StartInput{Machine: r.PathValue("machine"), Name: body.Name, Input: body.Input}
	start := a.eng.Start
	if body.Sync || r.URL.Query().Get("sync") == "true" {
		start = a.eng.StartSync
	}
	x, err := start(r.Context(), in)
	if err != nil {
		apierror.Write(w, apiError(err))
		return
	}
	writeJSON(w, http.StatusCreated, executionView(x))
}

func (a *api) listExecutions(w http.ResponseWriter, r *http.Request) {
	f := engine.Filter{Machine: r.PathValue("machine"), Status: workflow.Status(r.URL.Query().Get("status"))}
	if f.Machine == "" {
		f.Machine = r.URL.Query().Get("machine")
	}
	switch f.Status {
	case "", workflow.StatusRunning, workflow.StatusSucceeded, workflow.StatusFailed, workflow.StatusTimedOut, workflow.StatusAborted:
	default:
		apierror.Write(w, apierror.BadRequest("status %q is not one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED", f.Status))
		return
	}
	xs, err := a.eng.List(r.Context(), f)
	if err != nil {
		apierror.Write(w, apiError(err))
		return
	}
	out := make([]Execution, 0, len(xs))
	for _, x := range xs {
		v := executionView(x)
		v.Input, v.Output = nil, nil // a list stays small; describe has them
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"executions": out})
}

func (a *api) describe(w http.ResponseWriter, r *http.Request) {
	arn := a.executionARN(r)
	x, err := a.eng.Describe(r.Context(), arn)
	if err != nil {
		apierror.Write(w, apiError(err))
		return
	}
	writeJSON(w, http.StatusOK, executionView(x))
}

func (a *api) history(w http.ResponseWriter, r *http.Request) {
	arn := a.executionARN(r)
	events, err := a.eng.History(r.Context(), arn)
	if err != nil {
		apierror.Write(w, apiError(err))
		return
	}
	if r.URL.Query().Get("reverse") == "true" {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	if events == nil {
		events = []workflow.Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events})
}

func (a *api) stop(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Error string `json:"error"`
		Cause string `json:"cause"`
	}
	if err := decode(w, r, &body); err != nil {
		apierror.Write(w, err)
		return
	}
	arn := a.executionARN(r)
	x, err := a.eng.Stop(r.Context(), arn, body.Error, body.Cause)
	if err != nil {
		apierror.Write(w, apiError(err))
		return
	}
	writeJSON(w, http.StatusOK, executionView(x))
}

type taskBody struct {
	Token  string          `json:"token"`
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
	Cause  string          `json:"cause"`
}

func (a *api) taskSuccess(w http.ResponseWriter, r *http.Request) {
	a.task(w, r, func(ctx context.Context, b taskBody) error {
		if len(b.Output) == 0 {
			b.Output = json.RawMessage("{}")
		}
		return a.eng.SendTaskSuccess(ctx, b.Token, b.Output)
	})
}

func (a *api) taskFailure(w http.ResponseWriter, r *http.Request) {
	a.task(w, r, func(ctx context.Context, b taskBody) error {
		return a.eng.SendTaskFailure(ctx, b.Token, b.Error, b.Cause)
	})
}

func (a *api) taskHeartbeat(w http.ResponseWriter, r *http.Request) {
	a.task(w, r, func(ctx context.Context, b taskBody) error { return a.eng.SendTaskHeartbeat(ctx, b.Token) })
}

func (a *api) task(w http.ResponseWriter, r *http.Request, send func(context.Context, taskBody) error) {
	var b taskBody
	if err := decode(w, r, &b); err != nil {
		apierror.Write(w, err)
		return
	}
	if b.Token == "" {
		apierror.Write(w, apierror.BadRequest("token is required"))
		return
	}
	if err := send(r.Context(), b); err != nil {
		apierror.Write(w, apiError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiError maps the engine's errors to API errors, in one place.
func apiError(err error) error {
	switch {
	case errors.Is(err, engine.ErrMachineNotFound), errors.Is(err, engine.ErrExecutionNotFound), errors.Is(err, engine.ErrTaskNotFound):
		return apierror.NotFound("%v", err)
	case errors.Is(err, engine.ErrMachineExists), errors.Is(err, engine.ErrExecutionExists):
		return apierror.Conflict("%v", err)
	case errors.Is(err, engine.ErrInvalidDefinition):
		return apierror.Unprocessable("%v", err)
	case errors.Is(err, engine.ErrInvalidName), errors.Is(err, engine.ErrInvalidInput), errors.Is(err, engine.ErrInvalidToken):
		return apierror.BadRequest("%v", err)
	case errors.Is(err, engine.ErrClosed):
		return apierror.New(http.StatusServiceUnavailable, "unavailable", "%v", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return apierror.New(http.StatusGatewayTimeout, "timeout", "%v", err)
	}
	return err
}

// decode reads a JSON body (an empty body is an empty object).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return apierror.TooLarge("the request body is over %d bytes", maxBody)
		}
		return apierror.BadRequest("read body: %v", err)
	}
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return apierror.BadRequest("the body is not the expected JSON: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	// The status is sent: an encoding error can only truncate the body.
	_ = enc.Encode(v)
}
