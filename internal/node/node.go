// Package node wires one hearth node together: the backbone, the registry,
// the runtimes, the dispatcher and the HTTP API.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/hearth-sh/hearth/internal/api"
	"github.com/hearth-sh/hearth/internal/api/asyncapi"
	"github.com/hearth-sh/hearth/internal/api/lambdaapi"
	"github.com/hearth-sh/hearth/internal/api/sfnapi"
	"github.com/hearth-sh/hearth/internal/api/stateapi"
	"github.com/hearth-sh/hearth/internal/api/wfapi"
	"github.com/hearth-sh/hearth/internal/async"
	"github.com/hearth-sh/hearth/internal/backbone"
	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/fnlog"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
	"github.com/hearth-sh/hearth/internal/state"
	"github.com/hearth-sh/hearth/internal/telemetry"
	"github.com/hearth-sh/hearth/internal/web"
	"github.com/hearth-sh/hearth/internal/workflow/engine"
)

// Config configures a node. The zero value of every field but DataDir has a
// safe default.
type Config struct {
	// DataDir holds everything the node persists (JetStream files, compile cache).
	DataDir string
	// Listen is the HTTP API address; default 127.0.0.1:8080. Port 0 picks a free port.
	Listen string
	// Token is the API token. Required when Listen is not a loopback address.
	Token string
	// NATSURL connects to an external NATS cluster instead of embedding one.
	NATSURL string
	// NATSListen makes the embedded NATS server accept TCP clients (host:port).
	NATSListen string
	// SyncAlways makes the embedded backbone fsync every write.
	SyncAlways bool
	Logger     *slog.Logger
	Clock      clock.Clock
	// Runtimes overrides the runtimes by name (tests); nil uses the built-in ones.
	Runtimes map[string]runtime.Runtime
	// QueueTimeout bounds how long an invocation waits at a concurrency limit.
	QueueTimeout time.Duration
	// OTLPEndpoint exports traces with OTLP/HTTP when set.
	OTLPEndpoint string
	// TraceRate is the most new traces recorded per second (0: 20;
	// negative: no limit).
	TraceRate float64
	// TraceSample is the fraction of requests that may start a new trace
	// (0: all; negative: none); TraceRate still caps them.
	TraceSample float64
	// TelemetryOff records no metrics, spans or dashboard views on the
	// invoke path (logs stay): the baseline telemetry's cost is measured
	// against.
	TelemetryOff bool
	// Stores configures state stores, one spec per entry
	// ("NAME=BACKEND[,OPTION=VALUE]...", see docs/state.md). A store named
	// "default" on the backbone is always there.
	Stores []string
}

// Node is a running hearth node.
type Node struct {
	cfg        Config
	backbone   *backbone.Backbone
	registry   *registry.Registry
	async      *async.Service
	workflows  *engine.Engine
	stores     *state.Registry
	dispatcher *invoke.Dispatcher
	logs       *fnlog.Book
	metrics    *telemetry.Metrics
	tracing    *telemetry.Tracing
	dashboard  *web.Dashboard
	wasm       *wasm.Runtime // nil when the runtimes were given in Config
	closers    []func(context.Context) error
	listener   net.Listener
	server     *http.Server
	served     chan error
}

// ErrTokenRequired: the node was asked to listen beyond loopback without a token.
var ErrTokenRequired = errors.New("an API token is required to listen on a non-loopback address")

// Start opens the backbone, restores deployed functions and serves the API.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("node: a data directory is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Token == "" && !isLoopback(cfg.Listen) {
		return nil, fmt.Errorf("%w (%s): pass --token or set HEARTH_TOKEN, or listen on 127.0.0.1", ErrTokenRequired, cfg.Listen)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	}
	n := &Node{cfg: cfg, logs: fnlog.New(1000), served: make(chan error, 1)}
	if err := n.start(ctx); err != nil {
		_ = n.Stop(context.Background())
		return nil, err
	}
	return n, nil
}

func (n *Node) start(ctx context.Context) error {
	cfg := n.cfg
	bb, err := backbone.Open(ctx, backbone.Config{URL: cfg.NATSURL, DataDir: filepath.Join(cfg.DataDir, "nats"),
		Listen: cfg.NATSListen, SyncAlways: cfg.SyncAlways})
	if err != nil {
		return err
	}
	n.backbone = bb
	n.registry, err = registry.Open(ctx, bb.JS, cfg.Clock)
	if err != nil {
		return err
	}
	// The metrics read pool sizes at scrape time, once the dispatcher exists.
	n.metrics = telemetry.NewMetrics(func() []telemetry.PoolGauge {
		if n.dispatcher == nil {
			return nil
		}
		return n.dispatcher.PoolGauges()
	})
	n.metrics.Register(backlogCollector{n})
	n.stores, err = state.OpenAll(ctx, cfg.Stores, state.Env{JetStream: bb.JS, Clock: cfg.Clock, Logger: cfg.Logger,
		Observe: n.metrics.ObserveState})
	if err != nil {
		return fmt.Errorf("state stores: %w", err)
	}
	n.closers = append(n.closers, func(context.Context) error { return n.stores.Close() })
	runtimes := cfg.Runtimes
	if runtimes == nil {
		runtimes, err = n.builtinRuntimes(ctx)
		if err != nil {
			return err
		}
	}
	n.tracing, err = telemetry.NewTracing(ctx, telemetry.TracingConfig{OTLPEndpoint: cfg.OTLPEndpoint, Rate: cfg.TraceRate,
		Sample: cfg.TraceSample, Off: cfg.TelemetryOff})
	if err != nil {
		return err
	}
	n.closers = append(n.closers, n.tracing.Shutdown)
	n.dashboard = web.New(web.Options{Clock: cfg.Clock, Functions: n, Traces: n.tracing.Recent,
		DeadLetters: web.AsyncDeadLetters{Queue: deadLetters{n}, Functions: n},
		Workflows:   workflowView{n},
		Pools: func() []telemetry.PoolGauge {
			if n.dispatcher == nil {
				return nil
			}
			return n.dispatcher.FunctionPoolGauges()
		}})
	n.closers = append(n.closers, func(context.Context) error { n.dashboard.Close(); return nil })
	dopts := invoke.Options{Runtimes: runtimes, Clock: cfg.Clock, Logger: cfg.Logger,
		Logs: n.logs, QueueTimeout: cfg.QueueTimeout, Metrics: n.metrics, Tracer: n.tracing.Tracer, Recorder: n.dashboard}
	if cfg.TelemetryOff {
		dopts.Metrics, dopts.Recorder = nil, nil
	}
	n.dispatcher = invoke.New(dopts)
	n.restore(ctx)
	if n.wasm != nil {
		if _, err := n.wasm.SweepSnapshots(ctx); err != nil {
			cfg.Logger.Warn("sweep wasm snapshots", "err", err)
		}
	}
	if err := n.follow(); err != nil {
		return err
	}
	// After restore, so that resumed Tasks find their functions active.
	// The engine and the async service register their own metrics; with
	// telemetry off they count nothing (the tracer is a no-op then).
	var registry telemetry.Registerer
	if !cfg.TelemetryOff {
		registry = n.metrics
	}
	n.workflows, err = engine.New(ctx, engine.Options{JS: bb.JS, Invoker: n, Clock: cfg.Clock, Logger: cfg.Logger,
		Tracer: n.tracing.Tracer, Propagator: n.tracing.Propagator, Metrics: registry})
	if err != nil {
		return fmt.Errorf("workflow engine: %w", err)
	}
	n.async, err = async.New(ctx, async.Options{JS: bb.JS, Conn: bb.Conn, Invoker: n, Functions: n.registry,
		Clock: cfg.Clock, Logger: cfg.Logger, NodeID: nodeID(cfg),
		Tracer: n.tracing.Tracer, Propagator: n.tracing.Propagator, Metrics: registry})
	if err != nil {
		return fmt.Errorf("async service: %w", err)
	}

	n.listener, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	srv := api.New(api.Config{Token: cfg.Token, Clock: cfg.Clock, Functions: n, Logs: n.logs, Metrics: n.metrics.Handler(), Logger: cfg.Logger,
		Mount: n.mount, Tracer: n.tracing.Tracer, Propagator: n.tracing.Propagator, Traces: n.tracing.Recent,
		Public: web.PublicPath, Async: n.async, Snapshot: n.snapshotInfo})
	n.server = &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	n.server.RegisterOnShutdown(srv.Close)
	go func() { n.served <- n.server.Serve(n.listener) }()
	return nil
}

// mount adds the API surfaces of the node's other services.
func (n *Node) mount(mux *http.ServeMux) {
	n.dashboard.Register(mux)
	stateapi.Register(mux, n.stores)
	asyncapi.Register(mux, n.async)
	wfapi.Register(mux, n.workflows)
	// The Step Functions-compatible API (AWS JSON 1.0, X-Amz-Target) at POST /.
	mux.Handle("POST /{$}", sfnapi.New(n.workflows))
	lapi := lambdaapi.New(lambdaapi.Config{Invoker: n, Logs: n.logs, Logger: n.cfg.Logger, Events: n.async})
	lapi.Register(mux)
	n.closers = append(n.closers, lapi.Close)
}

// restore activates every deployed function, as after a restart. A function
// that no longer prepares (e.g. a runtime went missing) is logged and
// skipped, so one bad function never keeps the node down.
func (n *Node) restore(ctx context.Context) {
	fns, err := n.registry.List(ctx)
	if err != nil {
		n.cfg.Logger.Error("list deployed functions", "err", err)
		return
	}
	for _, fn := range fns {
		if err := n.activate(ctx, fn); err != nil {
			n.cfg.Logger.Error("restore function", "function", fn.Name, "version", fn.Version, "err", err)
		}
	}
	if len(fns) > 0 {
		n.cfg.Logger.Info("restored functions", "count", len(fns))
	}
}

// follow keeps this node's active versions in step with the registry, so
// that a deploy or delete made through any node of a cluster reaches all.
func (n *Node) follow() error {
	ctx, cancel := context.WithCancel(context.Background())
	n.closers = append(n.closers, func(context.Context) error { cancel(); return nil })
	return n.registry.Watch(ctx, func(c registry.Change) {
		if c.Deleted {
			n.dispatcher.Deactivate(c.Name)
			return
		}
		if c.Function.Version <= n.dispatcher.ActiveVersion(c.Name) {
			return // this node made the deploy, or already has a newer one
		}
		if err := n.activate(ctx, c.Function); err != nil {
			n.cfg.Logger.Error("activate version from the registry", "function", c.Name, "version", c.Function.Version, "err", err)
		}
	})
}

func (n *Node) activate(ctx context.Context, fn registry.Function) error {
	art, err := n.registry.Artifact(ctx, fn.Digest)
	if err != nil {
		return err
	}
	tmpl, err := n.dispatcher.Prepare(ctx, fn, art)
	if err != nil {
		return err
	}
	n.dispatcher.Activate(fn, tmpl)
	return nil
}

// snapshotInfo describes the snapshot of a function's active wasm version.
func (n *Node) snapshotInfo(name string) (any, bool) {
	t, ok := n.dispatcher.Template(name)
	w, isWasm := t.(*wasm.Template)
	if !ok || !isWasm {
		return nil, false
	}
	info, _ := w.Snapshot()
	return info, true
}

// deadLetters reads the async service's dead-letter queues once it exists
// (the dashboard is made before it).
type deadLetters struct{ n *Node }

func (d deadLetters) DeadLetters(ctx context.Context, function string, limit int) ([]async.DeadLetter, error) {
	if d.n.async == nil {
		return nil, errors.New("the async service is not running")
	}
	return d.n.async.DeadLetters(ctx, function, limit)
}

// nodeID names this node among a cluster's: its host name and API address.
func nodeID(cfg Config) string {
	host, _ := os.Hostname()
	return host + "/" + cfg.Listen
}

// Async is the node's async invocation, pub/sub and schedule service.
func (n *Node) Async() *async.Service { return n.async }

// Backbone is the node's NATS JetStream connection.
func (n *Node) Backbone() *backbone.Backbone { return n.backbone }

// URL is the base URL of the node's API.
func (n *Node) URL() string { return "http://" + n.listener.Addr().String() }

// Addr is the address the API listens on.
func (n *Node) Addr() net.Addr { return n.listener.Addr() }

// Stop stops serving, drains in-flight invocations within ctx, and closes
// the backbone.
func (n *Node) Stop(ctx context.Context) error {
	var errs []error
	if n.server != nil {
		if err := n.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	// Workflows stop first (an in-flight Task must not see the pools
	// closing and record a failure), then async consumers, so invocations
	// they hold finish or go back to the queue before the pools close.
	if n.workflows != nil {
		if err := n.workflows.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("workflows: %w", err))
		}
	}
	if n.async != nil {
		if err := n.async.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("async: %w", err))
		}
	}
	if n.dispatcher != nil {
		n.dispatcher.Close(ctx)
	}
	for i := len(n.closers) - 1; i >= 0; i-- {
		if err := n.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if n.backbone != nil {
		if err := n.backbone.Close(); err != nil {
			errs = append(errs, fmt.Errorf("backbone: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Done delivers the error the HTTP server stopped with.
func (n *Node) Done() <-chan error { return n.served }

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
