// Package invoke dispatches invocations to the pools of active function
// versions: it turns a deployed function into a running pool, swaps pools on
// redeploy so that in-flight invocations finish on the old version, applies
// the function's timeout, and reports every invocation (metrics, log line).
package invoke

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/fnlog"
	"github.com/hearth-sh/hearth/internal/pool"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/telemetry"
)

// Limits on invocation payloads, as in AWS Lambda's synchronous invoke.
const (
	MaxRequestBytes  = 6 << 20
	MaxResponseBytes = 6 << 20
)

// ErrNotFound: no active function of that name on this node.
var ErrNotFound = errors.New("function not found")

// Options configure a Dispatcher.
type Options struct {
	Runtimes map[string]runtime.Runtime // by registry.Config.Runtime
	Clock    clock.Clock
	Logger   *slog.Logger
	Logs     *fnlog.Book
	// Metrics receives every invocation's counts and times; nil records
	// none (telemetry off).
	Metrics *telemetry.Metrics
	// Recorder, if set, sees every finished invocation.
	Recorder telemetry.Recorder
	// Tracer traces invocations; nil means no tracing.
	Tracer trace.Tracer
	// QueueSize and QueueTimeout bound how many invocations wait for an
	// instance at a function's concurrency limit, and for how long.
	QueueSize    int
	QueueTimeout time.Duration
}

// Dispatcher routes invocations to function pools.
type Dispatcher struct {
	opts Options

	mu       sync.RWMutex
	active   map[string]*active
	policies map[string]*lockedPolicy // by function name, across versions
	// retiring holds replaced or deleted versions whose pools still drain:
	// their instances still count in the pool gauges until they are gone.
	retiring map[*active]struct{}
}

type active struct {
	fn   registry.Function
	pool *pool.Pool
	tmpl runtime.Template
	m    *fnMetrics // nil when metrics are off
}

// Result is one finished invocation.
type Result struct {
	Response  runtime.Response
	RequestID string
	Version   int64
	Cold      bool
	// Phases holds the cold-start phases (Handler is always set).
	Phases runtime.Phases
	// TraceID is the invocation's trace, when traced.
	TraceID string
}

// New returns a Dispatcher with no active functions.
func New(opts Options) *Dispatcher {
	if opts.QueueSize == 0 {
		opts.QueueSize = 100
	}
	if opts.Tracer == nil {
		opts.Tracer = noop.NewTracerProvider().Tracer("")
	}
	if opts.QueueTimeout == 0 {
		opts.QueueTimeout = 10 * time.Second
	}
	return &Dispatcher{opts: opts, active: map[string]*active{}, policies: map[string]*lockedPolicy{},
		retiring: map[*active]struct{}{}}
}

// Prepare validates and compiles a function version without activating it.
func (d *Dispatcher) Prepare(ctx context.Context, fn registry.Function, artifact []byte) (runtime.Template, error) {
	rt, ok := d.opts.Runtimes[fn.Config.Runtime]
	if !ok {
		return nil, fmt.Errorf("%w: runtime %q is not available on this node", runtime.ErrInvalidArtifact, fn.Config.Runtime)
	}
	spec := runtime.Spec{
		Name:             fn.Name,
		Version:          fn.Version,
		MemoryBytes:      int64(fn.Config.MemoryMB) << 20,
		Timeout:          time.Duration(fn.Config.Timeout),
		Env:              fn.Config.Env,
		MaxResponseBytes: MaxResponseBytes,
		Handler:          fn.Config.Handler,
		Log:              d.logFunc(fn),
		Snapshot:         fn.Config.Snapshot,
		Isolation:        fn.Config.Isolation,
	}
	// The runtime's errors already name the function and say what is wrong.
	return rt.Prepare(ctx, spec, runtime.Artifact{Digest: fn.Digest, Bytes: artifact})
}

func (d *Dispatcher) logFunc(fn registry.Function) runtime.LogFunc {
	return func(stream runtime.Stream, requestID string, line []byte) {
		d.opts.Logs.Append(fnlog.Entry{Time: d.opts.Clock.Now(), Function: fn.Name, Version: fn.Version,
			RequestID: requestID, Stream: string(stream), Message: string(line)})
	}
}

// ActiveVersion returns the version serving name, or 0.
func (d *Dispatcher) ActiveVersion(name string) int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if a := d.active[name]; a != nil {
		return a.fn.Version
	}
	return 0
}

// Activate makes tmpl the version that serves fn.Name. The previous version's
// pool stops taking invocations and closes once those in flight finish. A
// version older than (or the same as) the active one is not activated: its
// template is closed and Activate reports false. That makes activation
// idempotent when a node hears of its own deploy through the registry.
func (d *Dispatcher) Activate(fn registry.Function, tmpl runtime.Template) bool {
	d.mu.Lock()
	old := d.active[fn.Name]
	if old != nil && old.fn.Version >= fn.Version {
		d.mu.Unlock()
		_ = tmpl.Close(context.Background())
		return false
	}
	p := pool.New(tmpl, pool.Config{
		Concurrency:  fn.Config.Concurrency,
		MinWarm:      fn.Config.MinWarm,
		KeepAlive:    time.Duration(fn.Config.KeepAlive),
		Policy:       d.policyFor(fn),
		QueueSize:    d.opts.QueueSize,
		QueueTimeout: d.opts.QueueTimeout,
	}, d.opts.Clock, d.opts.Logger.With("function", fn.Name, "version", fn.Version))
	d.active[fn.Name] = &active{fn: fn, pool: p, tmpl: tmpl, m: newFnMetrics(d.opts.Metrics, fn.Name, fn.Version)}
	if old != nil {
		d.retiring[old] = struct{}{}
	}
	d.mu.Unlock()
	if old != nil {
		go d.retire(old)
	}
	return true
}

// Deactivate stops serving a function; invocations in flight finish.
func (d *Dispatcher) Deactivate(name string) {
	d.mu.Lock()
	old := d.active[name]
	delete(d.active, name)
	delete(d.policies, name)
	if old != nil {
		d.retiring[old] = struct{}{}
	}
	d.mu.Unlock()
	if old != nil {
		go d.retire(old)
	}
}

// retire closes a replaced or deleted version's pool once its invocations
// in flight finish, then drops the version's metric series.
func (d *Dispatcher) retire(a *active) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(a.fn.Config.Timeout)+time.Minute)
	defer cancel()
	if err := a.pool.Close(ctx); err != nil {
		d.opts.Logger.Warn("retire pool", "function", a.fn.Name, "version", a.fn.Version, "err", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.retiring, a)
	d.forgetLocked(a)
}

// forgetLocked drops a retired version's metric series, unless the same
// version serves again (a function deleted and deployed anew can restart
// its versions): its cached series must stay registered. Called with d.mu
// held, so that no Activate resolves series in between.
func (d *Dispatcher) forgetLocked(a *active) {
	if d.opts.Metrics == nil {
		return
	}
	if cur := d.active[a.fn.Name]; cur != nil && cur.fn.Version == a.fn.Version {
		return
	}
	for r := range d.retiring {
		if r.fn.Name == a.fn.Name && r.fn.Version == a.fn.Version {
			return
		}
	}
	d.opts.Metrics.ForgetVersion(a.fn.Name, a.fn.Version)
}

// Retiring reports how many replaced or deleted versions are still
// draining (tests wait for it to reach zero).
func (d *Dispatcher) Retiring() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.retiring)
}

// Close retires every pool and waits for them.
func (d *Dispatcher) Close(ctx context.Context) {
	d.mu.Lock()
	all := d.active
	d.active = map[string]*active{}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, a := range all {
		wg.Go(func() {
			if err := a.pool.Close(ctx); err != nil {
				d.opts.Logger.Warn("close pool", "function", a.fn.Name, "err", err)
			}
		})
	}
	wg.Wait()
}

func (d *Dispatcher) lookup(name string) (*active, error) {
	d.mu.RLock()
	a := d.active[name]
	d.mu.RUnlock()
	if a == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return a, nil
}

// Invoke runs one invocation of the active version of name.
func (d *Dispatcher) Invoke(ctx context.Context, name string, req runtime.Request) (*Result, error) {
	if req.ID == "" {
		req.ID = NewRequestID()
	}
	// Under a caller's unsampled span (the API's, for most requests at a
	// low sampling ratio) the caller's span stands in for the invoke span.
	// Its trace id still reaches the guest and the log line.
	ctx, span, own := telemetry.StartSpan(ctx, d.opts.Tracer, "invoke ", name, trace.SpanKindInternal)
	if own {
		defer span.End()
	}
	// An unsampled span records nothing: skip the work of describing it.
	recording := own && span.IsRecording()
	if recording {
		span.SetAttributes(attribute.String("faas.name", name), attribute.String("faas.invocation_id", req.ID))
	}
	traceID := span.SpanContext().TraceID()
	if span.SpanContext().IsValid() {
		req.Headers = withTraceParent(req.Headers, span.SpanContext())
	}

	acquireStart := d.opts.Clock.Now()
	a, lease, err := d.acquire(ctx, name)
	if err != nil {
		if a != nil && a.m != nil && errors.Is(err, pool.ErrThrottled) {
			a.m.throttled.Inc()
		}
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	if recording {
		span.SetAttributes(attribute.Int64("faas.version", a.fn.Version), attribute.Bool("faas.coldstart", lease.Cold))
		if lease.Cold {
			d.phaseSpans(ctx, acquireStart, lease.Phases)
		}
	}
	timeout := time.Duration(a.fn.Config.Timeout)
	ictx, cancel := context.WithTimeout(ctx, timeout)
	var hspan trace.Span
	if recording {
		ictx, hspan = d.opts.Tracer.Start(ictx, "handler")
	}
	start := d.opts.Clock.Now()
	resp, err := lease.Instance.Invoke(ictx, req)
	handler := d.opts.Clock.Now().Sub(start)
	if hspan != nil {
		hspan.End()
	}
	cancel()
	if err != nil {
		lease.Discard()
	} else {
		lease.Release()
	}
	res := &Result{Response: resp, RequestID: req.ID, Version: a.fn.Version, Cold: lease.Cold, Phases: lease.Phases}
	res.Phases.Handler = handler
	if traceID.IsValid() {
		res.TraceID = traceID.String()
	}
	outcome := d.report(a, res, err)
	if outcome != "success" {
		msg := outcome
		if err != nil {
			msg = err.Error()
		}
		span.SetStatus(codes.Error, msg)
	}
	if err != nil {
		return res, fmt.Errorf("%s version %d request %s: %w", name, a.fn.Version, req.ID, err)
	}
	return res, nil
}

// phaseSpans records a cold start's phases as consecutive child spans from
// the moment the pool was asked for an instance.
func (d *Dispatcher) phaseSpans(ctx context.Context, from time.Time, p runtime.Phases) {
	_, cold := d.opts.Tracer.Start(ctx, "cold start", trace.WithTimestamp(from))
	cctx := trace.ContextWithSpan(ctx, cold)
	at := from
	for _, ph := range []struct {
		name string
		d    time.Duration
	}{{"provision", p.Provision}, {"runtime", p.Runtime}, {"code", p.Code}, {initPhase(p), p.Init}} {
		_, s := d.opts.Tracer.Start(cctx, ph.name, trace.WithTimestamp(at))
		at = at.Add(ph.d)
		s.End(trace.WithTimestamp(at))
	}
	cold.End(trace.WithTimestamp(at))
}

// withTraceParent adds the W3C traceparent of sc to the guest's headers, so
// that a function (through the SDK) can continue the trace. The caller's
// map is not modified.
func withTraceParent(h map[string][]string, sc trace.SpanContext) map[string][]string {
	out := make(map[string][]string, len(h)+1)
	for k, v := range h {
		out[k] = v
	}
	out["Traceparent"] = []string{traceParent(sc)}
	return out
}

// traceParent formats sc as a W3C traceparent value in one allocation
// (this runs on every traced or unsampled invocation).
func traceParent(sc trace.SpanContext) string {
	var b [55]byte // 00-<32 hex>-<16 hex>-<2 hex>
	tid, sid := sc.TraceID(), sc.SpanID()
	b[0], b[1], b[2] = '0', '0', '-'
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}

// acquire gets an instance of the current version, following a redeploy
// that closed the pool it first found. On an error from the pool it still
// returns the version it asked, to count the error against.
func (d *Dispatcher) acquire(ctx context.Context, name string) (*active, *pool.Lease, error) {
	for {
		a, err := d.lookup(name)
		if err != nil {
			return nil, nil, err
		}
		lease, err := a.pool.Acquire(ctx)
		if errors.Is(err, pool.ErrClosed) {
			if cur, _ := d.lookup(name); cur != a {
				continue
			}
			return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		if err != nil {
			return a, nil, fmt.Errorf("%s: %w", name, err)
		}
		return a, lease, nil
	}
}

// Outcome classifies an invocation for metrics and logs.
func Outcome(resp runtime.Response, err error) string {
	switch {
	case errors.Is(err, runtime.ErrTimeout):
		return "timeout"
	case err != nil:
		return "crash"
	case resp.Error != nil:
		return "error"
	default:
		return "success"
	}
}

func (d *Dispatcher) report(a *active, res *Result, err error) string {
	fn := a.fn
	outcome := Outcome(res.Response, err)
	a.m.observe(outcome, res)
	kind := "warm"
	if res.Cold {
		kind = "cold"
	}
	// Built by hand: this runs on every invocation.
	msg := make([]byte, 0, 128)
	msg = append(msg, "END request="...)
	msg = append(msg, res.RequestID...)
	msg = append(msg, " version="...)
	msg = strconv.AppendInt(msg, fn.Version, 10)
	msg = append(msg, ' ')
	msg = append(msg, kind...)
	msg = append(msg, " duration="...)
	msg = append(msg, res.Phases.Handler.String()...)
	msg = append(msg, " outcome="...)
	msg = append(msg, outcome...)
	if res.TraceID != "" {
		msg = append(msg, " trace="...)
		msg = append(msg, res.TraceID...)
	}
	if err != nil {
		msg = append(msg, " error="...)
		msg = append(msg, err.Error()...)
	}
	now := d.opts.Clock.Now()
	d.opts.Logs.Append(fnlog.Entry{Time: now, Function: fn.Name, Version: fn.Version,
		RequestID: res.RequestID, TraceID: res.TraceID, Stream: fnlog.StreamHearth, Message: string(msg)})
	if d.opts.Recorder != nil {
		var phases map[string]time.Duration // none when warm: saves a map per invocation
		if res.Cold {
			phases = PhaseMap(res.Phases)
		}
		d.opts.Recorder.Record(telemetry.Invocation{Time: now, Function: fn.Name, Version: fn.Version,
			RequestID: res.RequestID, TraceID: res.TraceID, Cold: res.Cold, Phases: phases, Duration: res.Phases.Handler, Outcome: outcome})
	}
	if d.opts.Logger.Enabled(context.Background(), slog.LevelInfo) {
		d.opts.Logger.LogAttrs(context.Background(), slog.LevelInfo, "invocation", slog.String("function", fn.Name),
			slog.Int64("version", fn.Version), slog.String("request_id", res.RequestID), slog.String("trace_id", res.TraceID),
			slog.Bool("cold", res.Cold), slog.Duration("duration", res.Phases.Handler), slog.String("outcome", outcome))
	}
	return outcome
}

// PhaseMap names the phases of a cold start, in order of the Server-Timing header.
func PhaseMap(p runtime.Phases) map[string]time.Duration {
	return map[string]time.Duration{"provision": p.Provision, "runtime": p.Runtime, "code": p.Code, initPhase(p): p.Init, "handler": p.Handler}
}

// initPhase names the Init phase: "restore" when a snapshot restore
// replaced the function's own init.
func initPhase(p runtime.Phases) string {
	if p.Restored {
		return "restore"
	}
	return "init"
}

// Template returns the active version's template, for runtime-specific
// details (wasm snapshots).
func (d *Dispatcher) Template(name string) (runtime.Template, bool) {
	a, err := d.lookup(name)
	if err != nil {
		return nil, false
	}
	return a.tmpl, true
}

// PoolGauges reports the sizes of every active pool and of every replaced
// or deleted version's pool that still drains, for metrics.
func (d *Dispatcher) PoolGauges() []telemetry.PoolGauge {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]telemetry.PoolGauge, 0, len(d.active)+len(d.retiring))
	for _, a := range d.active {
		out = append(out, gaugeOf(a, false))
	}
	for a := range d.retiring {
		out = append(out, gaugeOf(a, true))
	}
	return out
}

// FunctionPoolGauges reports pool sizes per function, each the sum over
// its active version and those still draining (Version is the newest), for
// views that follow a function across deploys (the dashboard).
func (d *Dispatcher) FunctionPoolGauges() []telemetry.PoolGauge {
	byVersion := d.PoolGauges()
	out := make([]telemetry.PoolGauge, 0, len(byVersion))
	at := make(map[string]int, len(byVersion))
	for _, g := range byVersion {
		i, seen := at[g.Function]
		if !seen {
			at[g.Function] = len(out)
			out = append(out, g)
			continue
		}
		sum := &out[i]
		sum.Version = max(sum.Version, g.Version)
		sum.Idle += g.Idle
		sum.Busy += g.Busy
		sum.Wait += g.Wait
		sum.Provisioned += g.Provisioned
		sum.MemoryBytes += g.MemoryBytes
		sum.Prewarms += g.Prewarms
		sum.PrewarmsUsed += g.PrewarmsUsed
		evicted := make(map[string]int64, len(sum.Evicted))
		for k, v := range sum.Evicted {
			evicted[k] = v
		}
		for k, v := range g.Evicted {
			evicted[k] += v
		}
		sum.Evicted = evicted
	}
	return out
}

// gaugeOf reads one pool. A draining pool keeps no instances for min_warm:
// each one goes when its invocation ends.
func gaugeOf(a *active, draining bool) telemetry.PoolGauge {
	s := a.pool.Stats()
	provisioned := 0
	if !draining {
		provisioned = min(a.fn.Config.MinWarm, s.Idle+s.Busy)
	}
	return telemetry.PoolGauge{Function: a.fn.Name, Version: a.fn.Version, Idle: s.Idle, Busy: s.Busy, Wait: s.Waiting,
		Provisioned: provisioned, Evicted: s.Evicted, Prewarms: s.Prewarms, PrewarmsUsed: s.PrewarmsUsed,
		MemoryBytes: int64(s.Idle+s.Busy+s.Spawning) * (int64(a.fn.Config.MemoryMB) << 20)}
}

// Stats returns the pool counters of an active function.
func (d *Dispatcher) Stats(name string) (pool.Stats, error) {
	a, err := d.lookup(name)
	if err != nil {
		return pool.Stats{}, err
	}
	return a.pool.Stats(), nil
}

// NewRequestID returns a random 128-bit id in hex. Request ids need to be
// unique, not secret, so the runtime's fast generator serves (crypto/rand
// would cost a system call per invocation).
func NewRequestID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return hex.EncodeToString(b[:])
}
