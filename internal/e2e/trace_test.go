package e2e

import (
	"encoding/json"
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
