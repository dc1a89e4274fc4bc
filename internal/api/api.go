// Package api is the node's HTTP interface: the native JSON API under /v1,
// the plain HTTP trigger under /fn, health and metrics.
package api

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/hearth-sh/hearth/internal/fnlog"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// Functions is what the API needs from the node to manage and call functions.
type Functions interface {
	Deploy(ctx context.Context, name string, cfg registry.Config, artifact []byte) (registry.Function, error)
	Get(ctx context.Context, name string) (registry.Function, error)
	List(ctx context.Context) ([]registry.Function, error)
	Delete(ctx context.Context, name string) error
	Invoke(ctx context.Context, name string, req runtime.Request) (*invoke.Result, error)
}

// Config wires the API to the node.
type Config struct {
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// every request but /healthz.
	Token     string
	Functions Functions
	Logs      *fnlog.Book
	Metrics   http.Handler
	Logger    *slog.Logger
	// MaxArtifactBytes caps an uploaded artifact.
	MaxArtifactBytes int64
	// Mount, if set, adds more routes (state, workflows, ...) to the mux.
	Mount func(mux *http.ServeMux)
}

// Server serves the API.
type Server struct {
	cfg Config
	mux *http.ServeMux
	// closing ends long-lived streams (log follows) so that a graceful
	// shutdown, which waits for every handler, is not held up by them.
	closing   chan struct{}
	closeOnce sync.Once
}

// Close ends the streams in progress. Register it with
// http.Server.RegisterOnShutdown.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closing) }) }

// New builds the API handler.
func New(cfg Config) *Server {
	if cfg.MaxArtifactBytes == 0 {
		cfg.MaxArtifactBytes = 64 << 20
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), closing: make(chan struct{})}
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	if cfg.Metrics != nil {
		m.Handle("GET /metrics", cfg.Metrics)
	}
	m.HandleFunc("GET /v1/functions", s.listFunctions)
	m.HandleFunc("PUT /v1/functions/{name}", s.deployFunction)
	m.HandleFunc("GET /v1/functions/{name}", s.getFunction)
	m.HandleFunc("DELETE /v1/functions/{name}", s.deleteFunction)
	m.HandleFunc("POST /v1/functions/{name}/invoke", s.invokeFunction)
	m.HandleFunc("GET /v1/functions/{name}/logs", s.functionLogs)
	m.HandleFunc("/fn/{name}", s.httpTrigger)
	m.HandleFunc("/fn/{name}/{path...}", s.httpTrigger)
	if cfg.Mount != nil {
		cfg.Mount(m)
	}
	return s
}

// ServeHTTP checks the token, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Token != "" && r.URL.Path != "/healthz" && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hearth"`)
		writeError(w, errUnauthorized)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// authorized compares the bearer token in constant time, so that response
// timing does not reveal how much of a guess was right.
func (s *Server) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1
}
