package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/telemetry"
)

// workflows is a WorkflowSource over fixed executions.
type workflows struct{ execs map[string]ExecutionDetail }

func (w *workflows) Executions(_ context.Context, limit int) ([]Execution, error) {
	var out []Execution
	for _, e := range w.execs {
		if len(out) < limit {
			out = append(out, e.Execution)
		}
	}
	return out, nil
}

func (w *workflows) Execution(_ context.Context, id string) (ExecutionDetail, error) {
	e, ok := w.execs[id]
	if !ok {
		return ExecutionDetail{}, fmt.Errorf("execution %s: %w", id, ErrNotFound)
	}
	return e, nil
}

// traces is a TraceSource over fixed traces.
type traces []telemetry.Trace

func (ts traces) List(n int) []telemetry.Trace { return ts[:min(n, len(ts))] }

func (ts traces) Get(id string) (telemetry.Trace, bool) {
	for _, t := range ts {
		if t.TraceID == id {
			return t, true
		}
	}
	return telemetry.Trace{}, false
}

func serve(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	d := New(opts)
	t.Cleanup(d.Close)
	d.Record(coldInvocation("hello", time.Now(), 1, 2, 3, 4, 5))
	mux := http.NewServeMux()
	d.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestEndpoints(t *testing.T) {
	arn := "arn:aws:states:local:0:execution:m/e1" // a slash and colons, as ARNs have
	full := serve(t, Options{
		Functions: &lister{fns: []registry.Function{{Name: "hello", Version: 2}}},
		Pools:     func() []telemetry.PoolGauge { return []telemetry.PoolGauge{{Function: "hello", Idle: 1}} },
		Workflows: &workflows{execs: map[string]ExecutionDetail{arn: {
			Execution:  Execution{ID: arn, Name: "e1", Machine: "m", Status: "RUNNING"},
			Definition: json.RawMessage(`{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`),
		}}},
		Traces: traces{{TraceID: "abc", Spans: []telemetry.Span{{Name: "root"}}}},
	})
	bare := serve(t, Options{})

	tests := []struct {
		name       string
		srv        *httptest.Server
		path       string
		wantStatus int
		wantType   string
		wantBody   string
	}{
		{"page", bare, "/", 200, "text/html", `<main id="main"`},
		{"script", bare, "/ui/app.js", 200, "text/javascript", "viewFunctions"},
		{"style", bare, "/ui/style.css", 200, "text/css", "--handler"},
		{"no catch-all", bare, "/nothing-here", 404, "", ""},
		{"functions", full, "/v1/dashboard/functions", 200, "application/json", `"name":"hello","version":2,"deployed":true`},
		{"function", full, "/v1/dashboard/functions/hello", 200, "application/json", `"phases":[{"name":"provision"`},
		{"unknown function", full, "/v1/dashboard/functions/nope", 404, "application/json", `"code":"not_found"`},
		{"pools", full, "/v1/dashboard/pools", 200, "application/json", `"function":"hello","samples":[{`},
		{"no pools", bare, "/v1/dashboard/pools", 200, "application/json", `"available":false`},
		{"workflows", full, "/v1/dashboard/workflows", 200, "application/json", `"name":"e1"`},
		{"no workflows", bare, "/v1/dashboard/workflows", 200, "application/json", `{"available":false,"executions":[]}`},
		{"execution", full, "/v1/dashboard/workflows/" + strings.ReplaceAll(arn, "/", "%2F"), 200, "application/json", `"states":{}`},
		{"unknown execution", full, "/v1/dashboard/workflows/x", 404, "application/json", `not found`},
		{"bad limit", full, "/v1/dashboard/workflows?limit=0", 400, "application/json", `"code":"bad_request"`},
		{"traces", full, "/v1/dashboard/traces?limit=1", 200, "application/json", `"trace_id":"abc"`},
		{"no traces", bare, "/v1/dashboard/traces", 200, "application/json", `{"available":false,"traces":[]}`},
		{"trace", full, "/v1/dashboard/traces/abc", 200, "application/json", `"name":"root"`},
		{"unknown trace", full, "/v1/dashboard/traces/zzz", 404, "application/json", `not_found`},
		{"no dead letters", bare, "/v1/dashboard/deadletters", 200, "application/json", `{"available":false,"dead_letters":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(tt.srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) {
				t.Errorf("Content-Type %q, want %s", ct, tt.wantType)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body %s lacks %s", body, tt.wantBody)
			}
		})
	}
}

func TestPublicPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/ui/app.js", true},
		{"/v1/dashboard/functions", false},
		{"/v1/functions", false},
		{"/metrics", false},
		{"/uix", false},
	}
	for _, tt := range tests {
		if got := PublicPath(tt.path); got != tt.want {
			t.Errorf("PublicPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// TestRegisterBesideTheAPI: the dashboard's routes do not clash with the
// API's (a conflict panics in ServeMux.Handle).
func TestRegisterBesideTheAPI(t *testing.T) {
	mux := http.NewServeMux()
	for _, p := range []string{"GET /healthz", "GET /metrics", "GET /v1/functions", "GET /v1/functions/{name}",
		"POST /v1/functions/{name}/invoke", "GET /v1/traces", "GET /v1/traces/{id}", "/fn/{name}", "/fn/{name}/{path...}"} {
		mux.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	New(Options{Clock: clock.NewFake(t0)}).Register(mux)
}
