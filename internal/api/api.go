// Package api is the node's HTTP interface: the native JSON API under /v1,
// the plain HTTP trigger under /fn, health and metrics.
package api

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hearth-sh/hearth/internal/api/sigv4"
	"github.com/hearth-sh/hearth/internal/apierror"
	"github.com/hearth-sh/hearth/internal/async"
	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/fnlog"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/telemetry"
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
	Token string
	// Clock dates SigV4-signed requests (AWS SDKs sign with the token as
	// the secret key); nil means the real clock.
	Clock     clock.Clock
	Functions Functions
	Logs      *fnlog.Book
	Metrics   http.Handler
	Logger    *slog.Logger
	// MaxArtifactBytes caps an uploaded artifact.
	MaxArtifactBytes int64
	// Mount, if set, adds more routes (state, workflows, ...) to the mux.
	Mount func(mux *http.ServeMux)
	// Tracer traces requests (nil: no tracing); Propagator reads the
	// caller's W3C traceparent.
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	// Traces, if set, serves recent traces at /v1/traces.
	Traces *telemetry.RecentTraces
	// Snapshot, if set, describes a function's snapshot for
	// GET /v1/functions/{name}.
	Snapshot func(name string) (any, bool)
	// Async, if set, serves async invocations (X-Hearth-Invocation-Type:
	// Event) and idempotent sync invocations (Idempotency-Key).
	Async *async.Service
	// Public, if set, names the paths anyone may GET without the token
	// (the dashboard's page and assets; its data stays behind the token).
	Public func(path string) bool
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
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider().Tracer("")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Propagator == nil {
		cfg.Propagator = propagation.TraceContext{}
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
	m.HandleFunc("GET /v1/traces", s.listTraces)
	m.HandleFunc("GET /v1/traces/{id}", s.getTrace)
	m.HandleFunc("/fn/{name}", s.httpTrigger)
	m.HandleFunc("/fn/{name}/{path...}", s.httpTrigger)
	if cfg.Mount != nil {
		cfg.Mount(m)
	}
	return s
}

// ServeHTTP checks the token, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	public := r.URL.Path == "/healthz" || (r.Method == http.MethodGet && s.cfg.Public != nil && s.cfg.Public(r.URL.Path))
	if s.cfg.Token != "" && !public {
		if sigv4.IsSigned(r) {
			if err := sigv4.Verify(r, s.cfg.Token, s.cfg.Clock.Now(), invoke.MaxRequestBytes); err != nil {
				sigv4.WriteError(w, err)
				return
			}
		} else if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hearth"`)
			writeError(w, errUnauthorized)
			return
		}
	}
	// Health checks, scrapes and the dashboard's polling are not traced:
	// they would crowd real invocations out of the recent traces.
	if public || r.URL.Path == "/metrics" || strings.HasPrefix(r.URL.Path, "/v1/dashboard/") {
		s.mux.ServeHTTP(w, r)
		return
	}
	ctx := s.cfg.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := s.cfg.Tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	// Attributes of a span the sampler dropped would be built for nothing,
	// on every request of the hot path.
	recording := span.IsRecording()
	if recording {
		span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path))
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	r = r.WithContext(ctx)
	s.mux.ServeHTTP(sw, r)
	if !recording {
		return
	}
	if r.Pattern != "" {
		span.SetName(r.Pattern)
	}
	span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
	if sw.status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(sw.status))
	}
}

// statusWriter remembers the status a handler sent, for the request's span.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush lets streaming handlers (log follows) flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) listTraces(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Traces == nil {
		writeJSON(w, http.StatusOK, map[string]any{"traces": []telemetry.Trace{}})
		return
	}
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, apierror.BadRequest("limit %q must be a positive integer", v))
			return
		}
		limit = n
	}
	traces := s.cfg.Traces.List(limit)
	if traces == nil {
		traces = []telemetry.Trace{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"traces": traces})
}

func (s *Server) getTrace(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.cfg.Traces != nil {
		if t, ok := s.cfg.Traces.Get(id); ok {
			writeJSON(w, http.StatusOK, t)
			return
		}
	}
	writeError(w, apierror.NotFound("trace %s is not among the recent traces this node keeps", id))
}

// authorized compares the bearer token in constant time, so that response
// timing does not reveal how much of a guess was right.
// authorized reports whether r carries the API token as a bearer token.
// AWS SDKs and the AWS CLI sign with Signature Version 4 instead, with the
// token as their secret access key (ServeHTTP checks those with sigv4).
func (s *Server) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1
}
