package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/workflow"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// newWorkflowRunCommand is `hearth wf run FILE`: run a state machine
// in-process and print how it ended.
func newWorkflowRunCommand() *cobra.Command {
	var input string
	var history bool
	var express bool
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a state machine definition locally and print its result",
		Long: `Run an Amazon States Language definition in this process and print one JSON
object: {"status","output","error","cause"} (and "history" with --history).
The exit code is 0 whatever the execution's status; it is non-zero only when
the definition is invalid, and then the validation errors are printed.
Task states call functions on the node at --url / HEARTH_URL.`,
		Args: cobra.ExactArgs(1),
		// A failed run prints its own diagnostics; usage text would bury them.
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read definition: %w", err)
			}
			opt := asl.Options{Type: asl.Standard}
			if express {
				opt.Type = asl.Express
			}
			m, err := asl.ParseWith(def, opt)
			if err != nil {
				if ve, ok := err.(*asl.ValidationError); ok {
					for _, d := range ve.Diagnostics {
						fmt.Fprintln(cmd.ErrOrStderr(), d.String())
					}
					return &exitError{code: 2, err: fmt.Errorf("%s: the definition is invalid (problems: %d)", args[0], len(ve.Diagnostics))}
				}
				return fmt.Errorf("parse %s: %w", args[0], err)
			}
			in, err := readWorkflowInput(input)
			if err != nil {
				return err
			}
			return runWorkflow(cmd, m, opt.Type, args[0], in, history)
		},
	}
	cmd.Flags().StringVar(&input, "input", "{}", "execution input: JSON text, or @FILE to read it from a file")
	cmd.Flags().BoolVar(&history, "history", false, "include the history events in the output")
	cmd.Flags().BoolVar(&express, "express", false, "validate and run as an EXPRESS state machine")
	return cmd
}

// readWorkflowInput reads --input: JSON text or @file.
func readWorkflowInput(s string) (any, error) {
	data := []byte(s)
	if strings.HasPrefix(s, "@") {
		var err error
		if data, err = os.ReadFile(s[1:]); err != nil {
			return nil, fmt.Errorf("read input: %w", err)
		}
	}
	v, err := asl.DecodeJSON(data)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("the input is not valid JSON: %w", err)}
	}
	return v, nil
}

func runWorkflow(cmd *cobra.Command, m *asl.Machine, typ asl.Type, file string, input any, withHistory bool) error {
	base := envOr("HEARTH_URL", client.DefaultURL)
	if f := cmd.Flag("url"); f != nil && f.Changed {
		base = f.Value.String()
	}
	name := filepath.Base(file)
	for _, ext := range []string{".json", ".yaml", ".asl"} {
		name = strings.TrimSuffix(name, ext)
	}
	exec := workflow.Execution{
		ID:               "arn:aws:states:local:000000000000:execution:" + name + ":local",
		Name:             "local",
		StateMachineID:   "arn:aws:states:local:000000000000:stateMachine:" + name,
		StateMachineName: name,
		Type:             typ,
		Machine:          m,
		Input:            input,
	}
	inv := &httpInvoker{base: strings.TrimRight(base, "/"), client: &http.Client{}}
	x := workflow.New(inv, clock.Real{}, nil, nil)
	res, err := x.Run(cmd.Context(), exec, nil)
	if err != nil {
		return fmt.Errorf("run %s: %w", file, err)
	}
	// Every key is always present (null when it does not apply), so that
	// scripts can read the object without probing.
	out := map[string]any{"status": res.Status, "output": nil, "error": nil, "cause": nil}
	if res.Status == workflow.StatusSucceeded {
		out["output"] = res.Output
	}
	if res.Error != "" {
		out["error"] = res.Error
	}
	if res.Cause != "" {
		out["cause"] = res.Cause
	}
	if withHistory {
		out["history"] = res.History
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// httpInvoker runs Task states by invoking hearth functions over the node's
// HTTP API: POST /v1/functions/{name}/invoke with the task input as body.
type httpInvoker struct {
	base   string
	client *http.Client
}

// Invoke calls the function the task names. A function error (reported with
// the X-Hearth-Function-Error header) fails the task with the function's
// error type as the error name, so Retry and Catch can match it.
func (h *httpInvoker) Invoke(ctx context.Context, req workflow.TaskRequest) (any, error) {
	if req.Function == "" {
		return nil, &asl.Error{Name: asl.ErrTaskFailed, Cause: fmt.Sprintf("resource %s is not a hearth function", req.Resource)}
	}
	body, err := asl.EncodeJSON(req.Input)
	if err != nil {
		return nil, fmt.Errorf("encode task input: %w", err)
	}
	u := h.base + "/v1/functions/" + url.PathEscape(req.Function) + "/invoke"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewBufferString(body))
	if err != nil {
		return nil, fmt.Errorf("build invoke request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Idempotency-Key", req.IdempotencyKey)
	if req.Timeout > 0 {
		hreq.Header.Set("X-Hearth-Timeout", req.Timeout.Round(time.Millisecond).String())
	}
	resp, err := h.client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", req.Function, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, workflow.DefaultMaxPayloadBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read response of %s: %w", req.Function, err)
	}
	if typ := resp.Header.Get("X-Hearth-Function-Error"); typ != "" {
		return nil, &asl.Error{Name: typ, Cause: functionErrorMessage(data)}
	}
	if resp.StatusCode/100 != 2 {
		var apiErr struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		cause := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &apiErr) == nil && apiErr.Error.Message != "" {
			cause = apiErr.Error.Code + ": " + apiErr.Error.Message
		}
		return nil, &asl.Error{Name: asl.ErrTaskFailed, Cause: fmt.Sprintf("invoke %s: HTTP %d: %s", req.Function, resp.StatusCode, cause)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	v, err := asl.DecodeJSON(data)
	if err != nil {
		// A function may answer with plain text; hand it on as a string.
		return string(data), nil
	}
	return v, nil
}

// functionErrorMessage extracts the message of a function error body, which
// is either {"message": …}, {"errorMessage": …} or plain text.
func functionErrorMessage(data []byte) string {
	var body map[string]any
	if json.Unmarshal(data, &body) == nil {
		for _, k := range []string{"message", "errorMessage"} {
			if s, ok := body[k].(string); ok {
				return s
			}
		}
	}
	return strings.TrimSpace(string(data))
}
