package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/telemetry"
)

// TestTraceConnectsRequestColdStartAndHostCalls: one request with a W3C
// traceparent gives one connected trace: the HTTP span (child of the
// caller's), the invocation, each cold-start phase, the handler and the
// guest's state host calls.
func TestTraceConnectsRequestColdStartAndHostCalls(t *testing.T) {
	n, c := startNode(t, node.Config{})
	deploy(t, c, "counter", client.FunctionConfig{}, build(t, "../../examples/counter"))

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodPost, n.URL()+"/v1/functions/counter/invoke", strings.NewReader(`{"name":"traced"}`))
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Hearth-Trace-Id"); got != traceID {
		t.Fatalf("X-Hearth-Trace-Id = %q, want the caller's trace %s", got, traceID)
	}

	var tr telemetry.Trace
	// The function's init phase is "restore" when its instance came from a snapshot.
	want := []string{"POST /v1/functions/{name}/invoke", "invoke counter", "cold start", "provision", "runtime", "code", "restore", "handler", "host state.get", "host state.set"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(n.URL() + "/v1/traces/" + traceID)
		if err != nil {
			t.Fatal(err)
		}
		tr = telemetry.Trace{}
		_ = json.NewDecoder(resp.Body).Decode(&tr)
		resp.Body.Close()
		if len(tr.Spans) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	byName := map[string]telemetry.Span{}
	ids := map[string]bool{"00f067aa0ba902b7": true}
	for _, s := range tr.Spans {
		byName[s.Name] = s
		ids[s.SpanID] = true
	}
	for _, name := range want {
		s, ok := byName[name]
		if !ok {
			t.Fatalf("trace has no %q span; spans: %+v", name, tr.Spans)
		}
		if !ids[s.ParentID] {
			t.Fatalf("span %q has parent %s, which is not in the trace", name, s.ParentID)
		}
	}
	if byName["host state.get"].ParentID != byName["handler"].SpanID {
		t.Fatalf("host call is not a child of the handler span")
	}
}

// TestTraceFollowsAsyncAndWorkflows: an async invocation and a workflow
// execution started with a traceparent each give one connected trace on a
// node: the request, the queue hop and its attempt, or the execution and
// its states, down to the function's invocation and its host calls.
func TestTraceFollowsAsyncAndWorkflows(t *testing.T) {
	n, c := startNode(t, node.Config{})
	deploy(t, c, "counter", client.FunctionConfig{}, build(t, "../../examples/counter"))
	def := `{"StartAt":"Count","States":{
		"Count":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:counter","Next":"Done"},
		"Done":{"Type":"Pass","End":true}}}`
	create, _ := json.Marshal(map[string]any{"name": "count-once", "definition": def})
	resp, err := http.Post(n.URL()+"/v1/workflows", "application/json", strings.NewReader(string(create)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create workflow: %s", resp.Status)
	}

	tests := []struct {
		name    string
		traceID string
		path    string
		headers map[string]string
		body    string
		// want maps each span to its parent's name ("" for the request's
		// own span, whose parent is the caller's).
		want map[string]string
	}{
		{"async invocation", "5bf92f3577b34da6a3ce929d0e0e4736", "/v1/functions/counter/invoke",
			map[string]string{"X-Hearth-Invocation-Type": "Event"}, `{"name":"async"}`,
			map[string]string{
				"POST /v1/functions/{name}/invoke": "",
				"async enqueue counter":            "POST /v1/functions/{name}/invoke",
				"async attempt counter":            "async enqueue counter",
				"invoke counter":                   "async attempt counter",
				"host state.set":                   "handler",
			}},
		{"workflow execution", "6bf92f3577b34da6a3ce929d0e0e4736", "/v1/workflows/count-once/executions?sync=true",
			nil, `{"input":{"name":"wf"}}`,
			map[string]string{
				"POST /v1/workflows/{machine}/executions": "",
				"workflow execution-1":                    "POST /v1/workflows/{machine}/executions",
				"state Count":                             "workflow execution-1",
				"invoke counter":                          "state Count",
				"state Done":                              "workflow execution-1",
				"host state.set":                          "handler",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, n.URL()+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Traceparent", "00-"+tt.traceID+"-00f067aa0ba902b7-01")
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				t.Fatalf("%s: %s", tt.path, resp.Status)
			}
			byName := waitForSpans(t, n.URL(), tt.traceID, tt.want)
			for name, parent := range tt.want {
				s := byName[name]
				wantParent := "00f067aa0ba902b7"
				if parent != "" {
					wantParent = byName[parent].SpanID
				}
				if s.ParentID != wantParent {
					t.Errorf("span %q has parent %s, want %q (%s)", name, s.ParentID, parent, wantParent)
				}
			}
		})
	}
}

// waitForSpans polls the node's recent traces until the trace has a span
// of every wanted name (spans are exported in batches), and returns them
// by name. Workflow spans are named for the execution, which the test
// does not name: "workflow execution-1" stands for the one workflow span.
func waitForSpans(t *testing.T, base, traceID string, want map[string]string) map[string]telemetry.Span {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/v1/traces/" + traceID)
		if err != nil {
			t.Fatal(err)
		}
		var tr telemetry.Trace
		_ = json.NewDecoder(resp.Body).Decode(&tr)
		resp.Body.Close()
		byName := map[string]telemetry.Span{}
		for _, s := range tr.Spans {
			name := s.Name
			if strings.HasPrefix(name, "workflow ") {
				name = "workflow execution-1"
			}
			byName[name] = s
		}
		missing := []string{}
		for name := range want {
			if _, ok := byName[name]; !ok {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			return byName
		}
		if time.Now().After(deadline) {
			var names []string
			for _, s := range tr.Spans {
				names = append(names, fmt.Sprintf("%s(%s<-%s)", s.Name, s.SpanID, s.ParentID))
			}
			t.Fatalf("trace %s lacks %v; it has %v", traceID, missing, names)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
