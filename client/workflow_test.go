package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/api/wfapi"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/workflow/engine/enginetest"
)

func TestWorkflowClient(t *testing.T) {
	fns := &enginetest.Functions{}
	fns.Set("upper", func(_ context.Context, body []byte) (any, *runtime.FunctionError) {
		var s string
		if err := json.Unmarshal(body, &s); err != nil {
			return nil, &runtime.FunctionError{Type: "NotAString", Message: string(body)}
		}
		return s + "!", nil
	})
	mux := http.NewServeMux()
	wfapi.Register(mux, enginetest.Start(t, fns))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := client.New(srv.URL)
	ctx := context.Background()

	def := []byte(`{"StartAt":"U","States":{"U":{"Type":"Task","Resource":"upper","End":true}}}`)
	w, err := c.CreateWorkflow(ctx, "shout", def, "")
	if err != nil || w.Type != "STANDARD" || w.Version != 1 {
		t.Fatalf("create: %+v %v", w, err)
	}
	if _, err := c.UpdateWorkflow(ctx, "shout", def); err != nil {
		t.Fatal(err)
	}
	if ws, err := c.ListWorkflows(ctx); err != nil || len(ws) != 1 || ws[0].Version != 2 {
		t.Fatalf("list: %+v %v", ws, err)
	}
	x, err := c.StartExecution(ctx, "shout", client.StartOptions{Name: "hi", Input: json.RawMessage(`"hi"`), Sync: true})
	if err != nil || x.Status != "SUCCEEDED" || string(x.Output) != `"hi!"` {
		t.Fatalf("start: %+v %v", x, err)
	}
	x, err = c.StartExecution(ctx, "shout", client.StartOptions{Name: "num", Input: json.RawMessage(`1`), Sync: true})
	if err != nil || x.Status != "FAILED" || x.Error != "NotAString" {
		t.Fatalf("failing start: %+v %v", x, err)
	}
	if d, err := c.DescribeExecution(ctx, "shout", "hi"); err != nil || d.Status != "SUCCEEDED" {
		t.Fatalf("describe: %+v %v", d, err)
	}
	h, err := c.ExecutionHistory(ctx, "shout", "hi", true)
	if err != nil || len(h) == 0 || h[0].Type != "ExecutionSucceeded" {
		t.Fatalf("history: %+v %v", h, err)
	}
	failed, err := c.ListExecutions(ctx, client.ExecutionFilter{Workflow: "shout", Status: "FAILED"})
	if err != nil || len(failed) != 1 || failed[0].Name != "num" {
		t.Fatalf("list failed: %+v %v", failed, err)
	}
	if _, err := c.DescribeExecution(ctx, "shout", "nope"); !client.IsNotFound(err) {
		t.Fatalf("missing execution: %v", err)
	}
	if err := c.SendTaskSuccess(ctx, "arn:aws:states:local:000000000000:execution:shout:hi/#2/0", json.RawMessage(`{}`)); !client.IsNotFound(err) {
		t.Fatalf("token of a finished execution: %v", err)
	}
	if err := c.DeleteWorkflow(ctx, "shout"); err != nil {
		t.Fatal(err)
	}
}
