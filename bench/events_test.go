package bench

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
)

// TestEventsReportsEveryResult runs the events bench with tiny counts and
// checks that every result the issue names is reported with a positive
// value. The figures themselves are printed, never asserted.
func TestEventsReportsEveryResult(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a guest and starts a node")
	}
	rep, err := Events(context.Background(), EventsOptions{GuestDir: "./eventsguest", NoopWAT: "./eventsnoop/noop.wat", Duration: 200 * time.Millisecond,
		Clients: 4, WorkQueueMessages: 500, LatencySamples: 20, Concurrency: 2, Rounds: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"events.async.accepted_per_s", "events.async.completed_per_s", "events.async.sustained_per_s",
		"events.async.go_sdk.completed_per_s", "events.async.accept_cpu_us", "events.async.complete_cpu_us",
		"events.async.accepted_pct_of_publish", "events.async.completed_pct_of_workqueue",
		"baseline.jetstream.publish_per_s", "baseline.jetstream.workqueue_per_s",
		"baseline.jetstream.publish_inprocess_per_s", "events.async.accepted_pct_of_inprocess_publish",
		"events.pubsub.latency.p50_ms", "events.pubsub.latency.p99_ms",
	} {
		if v := rep.Value(name); v <= 0 {
			t.Errorf("%s = %v, want a positive figure", name, v)
		}
	}
	if len(rep.Notes) == 0 {
		t.Error("no notes against the targets")
	}
	for _, r := range rep.Results {
		t.Logf("%s = %.3f %s", r.Name, r.Value, r.Unit)
	}
}

// TestHTTPConnPost checks the bench's bare HTTP client against net/http:
// keep-alive requests, any body length, and a refusal reported with its
// status and body.
func TestHTTPConnPost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Hearth-Invocation-Type") != "Event" || string(b) != "{}" {
			http.Error(w, "not an async invoke", http.StatusBadRequest)
			return
		}
		if r.URL.Path == "/refuse" {
			http.Error(w, "no such function", http.StatusNotFound)
			return
		}
		body := strings.Repeat("x", 5000) // more than the reader's buffer
		if r.URL.Path == "/chunked" {
			w.WriteHeader(http.StatusAccepted)
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusAccepted)
		}
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	c, err := dialHTTP(context.Background(), srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ok := c.asyncRequest("/ok")
	for range 3 { // one connection, kept alive
		if err := c.post(ok); err != nil {
			t.Fatal(err)
		}
	}
	err = c.post(c.asyncRequest("/refuse"))
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "no such function") {
		t.Fatalf("refusal: %v, want the status and the body", err)
	}
	if err := c.post(c.asyncRequest("/chunked")); err == nil || !strings.Contains(err.Error(), "chunked") {
		t.Fatalf("chunked answer: %v, want a clear refusal", err)
	}
}

// TestEventsNoopAnswers: the bench's no-op is a working function (the
// drain would otherwise time retries and dead letters, not completions).
func TestEventsNoopAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	ctx := context.Background()
	wasm, err := assembleWAT(ctx, "./eventsnoop/noop.wat")
	if err != nil {
		t.Skipf("cannot assemble the no-op (CI installs wabt): %v", err)
	}
	n, err := node.Start(ctx, node.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop(context.Background())
	c := client.New(n.URL())
	if _, err := c.Deploy(ctx, "noop", client.FunctionConfig{}, wasm); err != nil {
		t.Fatal(err)
	}
	res, err := c.Invoke(ctx, "noop", []byte(`{"any":"thing"}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK || len(res.Body) != 0 || res.FunctionError != "" {
		t.Fatalf("noop answered %+v, want 200 and no body", res)
	}
}

// TestDialPublishersErrors: a node without a NATS listener, or an address
// nobody answers at, is an error that says which, with no connection left
// open.
func TestDialPublishersErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "nats://" + ln.Addr().String()
	ln.Close()
	for _, tc := range []struct{ url, want string }{
		{"", "takes no TCP clients"},
		{closed, "connect a raw publisher to " + closed},
	} {
		pubs, closeAll, err := dialPublishers(tc.url, 2)
		if err == nil || !strings.Contains(err.Error(), tc.want) || pubs != nil || closeAll != nil {
			t.Errorf("dialPublishers(%q) = %d publishers, %v; want no publishers and an error with %q", tc.url, len(pubs), err, tc.want)
		}
	}
}
