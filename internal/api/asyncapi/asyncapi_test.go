package asyncapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/async"
	"github.com/hearth-sh/hearth/internal/backbone"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// functions answers for two functions: "ok" succeeds, "fail" always fails.
type functions struct{}

func (functions) Get(_ context.Context, name string) (registry.Function, error) {
	if name != "ok" && name != "fail" {
		return registry.Function{}, fmt.Errorf("%w: %s", registry.ErrNotFound, name)
	}
	zero := 0
	return registry.Function{Name: name, Version: 1, Config: registry.Config{Retries: &zero}.Defaults()}, nil
}

func (functions) Invoke(_ context.Context, name string, req runtime.Request) (*invoke.Result, error) {
	resp := runtime.Response{Status: 200, Body: req.Body}
	if name == "fail" {
		resp.Error = &runtime.FunctionError{Type: "HandlerError", Message: "no"}
	}
	return &invoke.Result{Response: resp, RequestID: req.ID, Version: 1}, nil
}

func newServer(t *testing.T) (*httptest.Server, *async.Service) {
	t.Helper()
	bb, err := backbone.Open(context.Background(), backbone.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bb.Close() })
	svc, err := async.New(context.Background(), async.Options{JS: bb.JS, Conn: bb.Conn, Invoker: functions{}, Functions: functions{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	mux := http.NewServeMux()
	Register(mux, svc)
	mux.HandleFunc("POST /v1/functions/{name}/invoke", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ServeAsyncInvoke(w, r, svc, r.PathValue("name"), runtime.Request{Method: "POST", Path: "/", Body: body})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, svc
}

func call(t *testing.T, srv *httptest.Server, method, path, body string, header map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestErrors(t *testing.T) {
	srv, _ := newServer(t)
	if st, _ := call(t, srv, "POST", "/v1/topics", `{"name":"orders"}`, nil); st != 201 {
		t.Fatalf("create topic: %d", st)
	}
	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		wantStatus               int
		wantCode                 string
	}{
		{"topic exists", "POST", "/v1/topics", `{"name":"orders"}`, nil, 409, "conflict"},
		{"bad topic name", "POST", "/v1/topics", `{"name":"A B"}`, nil, 400, "bad_request"},
		{"unknown field", "POST", "/v1/topics", `{"nam":"x"}`, nil, 400, "bad_request"},
		{"unknown topic", "POST", "/v1/topics/nope/publish", `{}`, nil, 404, "not_found"},
		{"malformed cloudevent", "POST", "/v1/topics/orders/publish", `{"specversion":"1.0","id":"1"}`,
			map[string]string{"Content-Type": "application/cloudevents+json"}, 400, "bad_request"},
		{"cloudevent not json", "POST", "/v1/topics/orders/publish", `{`,
			map[string]string{"Content-Type": "application/cloudevents+json"}, 400, "bad_request"},
		{"payload too large", "POST", "/v1/topics/orders/publish", strings.Repeat("x", async.MaxPayloadBytes+1), nil, 413, "payload_too_large"},
		{"bad cron", "POST", "/v1/schedules", `{"name":"n","function":"ok","cron":"61 * * * *"}`, nil, 400, "bad_request"},
		{"bad every", "POST", "/v1/schedules", `{"name":"n","function":"ok","every":"soon"}`, nil, 400, "bad_request"},
		{"schedule unknown function", "POST", "/v1/schedules", `{"name":"n","function":"ghost","every":"1m"}`, nil, 404, "not_found"},
		{"unknown invocation", "GET", "/v1/invocations/abc", "", nil, 404, "not_found"},
		{"unknown function invoke", "POST", "/v1/functions/ghost/invoke", "", nil, 404, "not_found"},
		{"subscribe unknown function", "POST", "/v1/topics/orders/subscriptions/ghost", "", nil, 404, "not_found"},
		{"unsubscribe not subscribed", "DELETE", "/v1/topics/orders/subscriptions/ok", "", nil, 404, "not_found"},
		{"unknown schedule", "DELETE", "/v1/schedules/none", "", nil, 404, "not_found"},
		{"unknown dead letter", "GET", "/v1/functions/ok/dlq/abc", "", nil, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, out := call(t, srv, tt.method, tt.path, tt.body, tt.header)
			if st != tt.wantStatus || errCode(out) != tt.wantCode {
				t.Fatalf("%d %v, want %d %s", st, out, tt.wantStatus, tt.wantCode)
			}
		})
	}
	if _, out := call(t, srv, "GET", "/v1/topics/orders", "", nil); out["messages"].(float64) != 0 {
		t.Fatalf("refused publishes were kept: %v", out)
	}
}

func waitStatus(t *testing.T, srv *httptest.Server, id, status string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, out := call(t, srv, "GET", "/v1/invocations/"+id, "", nil)
		if out["status"] == status {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("invocation %s: %v, want status %s", id, out, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAsyncInvokeDeadLetterRedrive(t *testing.T) {
	srv, _ := newServer(t)
	st, out := call(t, srv, "POST", "/v1/functions/ok/invoke", `{"a":1}`, map[string]string{HeaderIdempotencyKey: "k"})
	if st != 202 || out["id"] == "" {
		t.Fatalf("async invoke: %d %v", st, out)
	}
	id := out["id"].(string)
	rec := waitStatus(t, srv, id, async.StatusSucceeded)
	if res := rec["result"].(map[string]any); res["status"].(float64) != 200 {
		t.Fatalf("record %v", rec)
	}
	if _, again := call(t, srv, "POST", "/v1/functions/ok/invoke", `{"a":1}`, map[string]string{HeaderIdempotencyKey: "k"}); again["id"] != id {
		t.Fatalf("repeat with the same key got %v, want id %s", again, id)
	}

	_, out = call(t, srv, "POST", "/v1/functions/fail/invoke", `x`, nil)
	failed := out["id"].(string)
	waitStatus(t, srv, failed, async.StatusFailed)
	_, out = call(t, srv, "GET", "/v1/functions/fail/dlq", "", nil)
	if dls := out["dead_letters"].([]any); len(dls) != 1 || dls[0].(map[string]any)["id"] != failed {
		t.Fatalf("dlq %v", out)
	}
	if st, out := call(t, srv, "GET", "/v1/functions/fail/dlq/"+failed, "", nil); st != 200 || len(out["attempts"].([]any)) != 1 {
		t.Fatalf("dlq show: %d %v", st, out)
	}
	st, out = call(t, srv, "POST", "/v1/functions/fail/dlq/redrive", `{"id":"`+failed+`"}`, nil)
	if st != 200 || len(out["redriven"].([]any)) != 1 {
		t.Fatalf("redrive: %d %v", st, out)
	}
	rec = waitStatus(t, srv, failed, async.StatusFailed)
	if n := len(rec["attempts"].([]any)); n != 2 {
		t.Fatalf("after redrive %d attempts, want 2", n)
	}
}

func TestTopicsAndSchedules(t *testing.T) {
	srv, _ := newServer(t)
	call(t, srv, "POST", "/v1/topics", `{"name":"orders"}`, nil)
	if st, _ := call(t, srv, "POST", "/v1/topics/orders/subscriptions", `{"function":"ok"}`, nil); st != 201 {
		t.Fatalf("subscribe: %d", st)
	}
	st, out := call(t, srv, "POST", "/v1/topics/orders/publish", `{"n":1}`,
		map[string]string{"Ce-Type": "order.placed", HeaderOrderingKey: "c1"})
	if st != 202 || out["id"] == "" {
		t.Fatalf("publish: %d %v", st, out)
	}
	_, out = call(t, srv, "GET", "/v1/topics", "", nil)
	if topics := out["topics"].([]any); len(topics) != 1 || len(topics[0].(map[string]any)["subscriptions"].([]any)) != 1 {
		t.Fatalf("topics %v", out)
	}
	if st, _ := call(t, srv, "DELETE", "/v1/topics/orders/subscriptions/ok", "", nil); st != 204 {
		t.Fatalf("unsubscribe: %d", st)
	}
	if st, _ := call(t, srv, "DELETE", "/v1/topics/orders", "", nil); st != 204 {
		t.Fatalf("delete topic: %d", st)
	}

	st, out = call(t, srv, "POST", "/v1/schedules", `{"name":"nightly","function":"ok","cron":"0 3 * * *","data":"x"}`, nil)
	if st != 201 || out["next"] == "" {
		t.Fatalf("add schedule: %d %v", st, out)
	}
	if _, out := call(t, srv, "GET", "/v1/schedules", "", nil); len(out["schedules"].([]any)) != 1 {
		t.Fatalf("schedules %v", out)
	}
	if st, _ := call(t, srv, "DELETE", "/v1/schedules/nightly", "", nil); st != 204 {
		t.Fatalf("delete schedule: %d", st)
	}
}
