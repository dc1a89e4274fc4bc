package stateapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/hearth-sh/hearth/internal/api/stateapi"
	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/state"
)

// backends are the stores every HTTP test runs against.
var backends = []struct {
	name string
	open func(t *testing.T) state.Store
}{
	{"memory", func(t *testing.T) state.Store {
		return state.NewMemory(clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), state.Limits{})
	}},
	{"nats", func(t *testing.T) state.Store {
		s, err := state.NewNATS(context.Background(), startNATS(t), state.NATSConfig{Bucket: "api"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

func startNATS(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv, err := server.NewServer(&server.Options{JetStream: true, StoreDir: t.TempDir(), DontListen: true,
		NoSigs: true, NoLog: true, MaxPayload: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); srv.Shutdown(); srv.WaitForShutdown() })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// client talks to a test server holding one store named "s".
type client struct {
	t   *testing.T
	srv *httptest.Server
}

func newClient(t *testing.T, s state.Store) *client {
	t.Helper()
	mux := http.NewServeMux()
	stateapi.Register(mux, state.NewRegistry(map[string]state.Store{"s": s}))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); _ = s.Close() })
	return &client{t: t, srv: srv}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(method, path, body string, headers ...string) response {
	c.t.Helper()
	r, err := c.try(method, path, body, headers...)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// try is do for goroutines other than the test's: it returns the error.
func (c *client) try(method, path, body string, headers ...string) (response, error) {
	req, err := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// want checks the status and, when code is set, the error code in the body
// (native {"error":{"code"}} or Dapr {"errorCode"}).
func (r response) want(t *testing.T, what string, status int, code string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
	if code == "" {
		return r
	}
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
		ErrorCode string `json:"errorCode"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("%s: error body %q is not JSON: %v", what, r.body, err)
	}
	if body.Error.Code != code && body.ErrorCode != code {
		t.Fatalf("%s: error code in %s, want %q", what, r.body, code)
	}
	return r
}

// TestBackendDown checks the status of a store whose server is down: 503
// with Retry-After on the native API, 500 (Dapr's "request failed") on the
// Dapr API; the handler itself keeps serving.
func TestBackendDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	s, err := state.NewRedis(rdb, state.RedisConfig{Namespace: "down", CloseClient: true})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s)
	r := c.do("GET", "/v1/state/s/k", "").want(t, "native GET", http.StatusServiceUnavailable, "store_unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	c.do("PUT", "/v1/state/s/k", "v").want(t, "native PUT", http.StatusServiceUnavailable, "store_unavailable")
	c.do("GET", "/v1.0/state/s/k", "").want(t, "dapr GET", http.StatusInternalServerError, "ERR_STATE_GET")
	c.do("GET", "/v1/state/nope/k", "").want(t, "other requests still served", http.StatusNotFound, "store_not_found")
}
