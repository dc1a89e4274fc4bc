package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
)

// TestStateFromFunctions: concurrent invocations of a function that counts
// with compare-and-set through the SDK never lose an increment, and the
// count is visible over the HTTP state API.
func TestStateFromFunctions(t *testing.T) {
	n, c := startNode(t, node.Config{})
	deploy(t, c, "counter", client.FunctionConfig{Concurrency: 4}, build(t, "../../examples/counter"))

	const workers, each = 4, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				res, err := c.Invoke(context.Background(), "counter", []byte(`{"name":"hits"}`))
				if err != nil || res.FunctionError != "" {
					t.Errorf("invoke: %v %s", err, res.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	resp, err := http.Get(n.URL() + "/v1/state/default/count%2Fhits")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != fmt.Sprint(workers*each) || resp.Header.Get("ETag") == "" {
		t.Fatalf("GET state: %d %q etag %q, want %d", resp.StatusCode, body, resp.Header.Get("ETag"), workers*each)
	}

	if m := scrape(t, n.URL()); !strings.Contains(m, `hearth_state_operations_total{backend="nats",op="set",result="ok",store="default"}`) {
		t.Fatalf("metrics lack state operations:\n%s", grepLines([]byte(m), "hearth_state"))
	}

	// Bad input from a function's caller is the function's BadRequest.
	res, err := c.Invoke(context.Background(), "counter", []byte(`{}`))
	if err != nil || res.FunctionError != "BadRequest" || !strings.Contains(string(res.Body), "name") {
		t.Fatalf("missing name: %+v %v", res, err)
	}
}

// scrape reads a node's /metrics.
func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
