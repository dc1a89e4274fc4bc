package wasm

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"sort"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// Template is a prepared function version: its compiled module and the
// configuration every instance gets. It implements runtime.Template and is
// safe for concurrent use.
type Template struct {
	rt          *Runtime
	spec        runtime.Spec
	digest      string
	mod         *sharedModule
	compileTime time.Duration
	env         [][2]string
	snap        *snapshot // nil: instances run _initialize
	snapKey     string
	snapLoaded  bool
	snapReason  string // why a template that asked for a snapshot has none
	recycle     bool   // reset instances to snap between invocations
	closed      atomic.Bool
	// restores and inits count cold starts of each kind.
	restores, inits atomic.Int64
	// resets, resetNanos and resetPages count recycle-mode resets, their
	// time and the pages they copied back.
	resets, resetNanos, resetPages atomic.Int64
}

var _ runtime.Template = (*Template)(nil)

// Shape tells whether the module is a reactor or a command.
func (t *Template) Shape() Shape { return t.mod.info.shape }

// CompileTime is how long Prepare took to validate and compile the module
// (or to find it compiled: a compilation-cache hit).
func (t *Template) CompileTime() time.Duration { return t.compileTime }

// Spawn makes an instance. For a reactor it instantiates the module and runs
// _initialize (the phases are described in the package documentation);
// errors from _initialize wrap runtime.ErrInit. For a command it only
// prepares: each Invoke instantiates afresh.
func (t *Template) Spawn(ctx context.Context) (runtime.Instance, runtime.Phases, error) {
	if t.closed.Load() {
		return nil, runtime.Phases{}, fmt.Errorf("spawn %s: template closed", t.spec.Name)
	}
	i := &instance{rt: t.rt, t: t, spec: &t.spec}
	i.state = newInstanceState(i.spec)
	if t.Shape() == Command {
		return &commandInstance{instance: i}, runtime.Phases{}, nil
	}
	return t.spawnReactor(ctx, i)
}

func (t *Template) spawnReactor(ctx context.Context, i *instance) (runtime.Instance, runtime.Phases, error) {
	clk := t.rt.clock
	var ph runtime.Phases
	var err error
	start := clk.Now()
	cfg := t.moduleConfig(i.state, eofReader{}, &i.state.stdout, nil)
	compiled := t.mod.compiled
	provisioned := clk.Now()
	ph.Provision = provisioned.Sub(start)
	if t.snap != nil {
		// The restore is the function's init, done another way.
		compiled = t.snap.baked
		if i.mem, err = t.snap.image.restore(t.memoryLimit()); err != nil {
			return nil, ph, fmt.Errorf("spawn %s: restore snapshot: %w", t.spec.Name, err)
		}
		t.snap.hold()
		i.snap = t.snap
		restored := clk.Now()
		ph.Init = restored.Sub(provisioned)
		provisioned = restored
	} else {
		i.mem = &limitedMemory{limit: t.memoryLimit()}
	}
	ictx := experimental.WithMemoryAllocator(ctx, i.mem)

	mod, err := t.rt.wz.InstantiateModule(ictx, compiled, cfg)
	if err != nil {
		i.mem.Free() // idempotent: wazero may or may not have freed it
		i.releaseSnapshot(ctx)
		return nil, ph, fmt.Errorf("spawn %s: instantiate: %w", t.spec.Name, i.explain(ctx, err))
	}
	i.mod = mod
	t.rt.instances.Store(mod, i.state)
	i.alloc = mod.ExportedFunction(exportAlloc)
	i.handle = mod.ExportedFunction(exportHandle)
	instantiated := clk.Now()
	ph.Runtime = instantiated.Sub(provisioned)

	// A restored instance runs the guest's restore hook instead of its
	// init (sdk/go: hearth.OnRestore).
	initFn := exportInitialize
	if t.snap != nil {
		initFn = exportRestore
	}
	if fn := mod.ExportedFunction(initFn); fn != nil {
		i.state.begin("")
		err := i.call(ctx, fn, nil)
		i.state.end()
		if err != nil {
			_ = i.Close(ctx)
			return nil, ph, fmt.Errorf("spawn %s: %s: %w: %w", t.spec.Name, initFn, runtime.ErrInit, err)
		}
	}
	ph.Init += clk.Now().Sub(instantiated)
	ph.Restored = t.snap != nil
	if t.snap != nil {
		t.restores.Add(1)
	} else {
		t.inits.Add(1)
	}
	return &reactorInstance{instance: i}, ph, nil
}

// Close releases the template's hold on the compiled module. Instances
// already spawned keep working: wazero keeps code alive while a module
// made from it is open.
func (t *Template) Close(ctx context.Context) error {
	if t.closed.Swap(true) {
		return nil
	}
	t.rt.releaseModule(ctx, t.digest)
	if t.snap != nil {
		t.rt.releaseSnapshot(ctx, t.snapKey)
	}
	return nil
}

// memoryLimit is the function's memory cap in bytes, whole pages.
func (t *Template) memoryLimit() uint64 {
	limit := uint64(maxPages) * pageSize
	if b := t.spec.MemoryBytes; b > 0 && uint64(b) < limit {
		limit = uint64(b) / pageSize * pageSize
	}
	return limit
}

// moduleConfig is the sandbox of one module instance: stdio, args, env,
// clocks and randomness, nothing else (no preopened directories, no
// sockets). The start function is not run at instantiation: hearth calls
// _initialize or _start itself, under the invocation's limits.
func (t *Template) moduleConfig(s *instanceState, stdin io.Reader, stdout io.Writer, extraEnv [][2]string) wazero.ModuleConfig {
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous, so many instances of one module coexist
		WithStartFunctions().
		WithArgs(t.spec.Name).
		WithStdin(stdin).
		WithStdout(stdout).
		WithStderr(&s.stderr).
		WithRandSource(rand.Reader).
		// The guest's clocks are real even when the runtime's Clock is fake:
		// a guest runtime's scheduler spins forever on a clock that does not
		// move.
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(s.sleep)
	for _, kv := range t.env {
		cfg = cfg.WithEnv(kv[0], kv[1])
	}
	for _, kv := range extraEnv {
		cfg = cfg.WithEnv(kv[0], kv[1])
	}
	return cfg
}

// sleep blocks for ns nanoseconds of real time, or until the guest call it
// serves is stopped (wazero's own sleep would hold a timed-out invocation
// until the guest wakes up).
func (s *instanceState) sleep(ns int64) {
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	timer := time.NewTimer(time.Duration(ns))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// guestEnv is the environment every instance of the function sees: its
// Env, plus HEARTH_FUNCTION and HEARTH_VERSION unless Env sets them.
// Sorted, so that instances are identical.
func guestEnv(spec runtime.Spec) [][2]string {
	env := map[string]string{"HEARTH_FUNCTION": spec.Name, "HEARTH_VERSION": fmt.Sprint(spec.Version)}
	for k, v := range spec.Env {
		env[k] = v
	}
	out := make([][2]string, 0, len(env))
	for k, v := range env {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(a, b int) bool { return out[a][0] < out[b][0] })
	return out
}

// eofReader is a reactor's stdin: always at its end.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// instance is what both shapes share.
type instance struct {
	rt    *Runtime
	t     *Template
	spec  *runtime.Spec
	state *instanceState
	mem   *limitedMemory
	// snap is the snapshot the instance was restored from, held until
	// Close; nil for an initialised instance.
	snap *snapshot
	mod  api.Module
	// alloc and handle are a reactor's entry points.
	alloc, handle api.Function
	// broken is why the instance may not serve again (nil while healthy).
	broken error
}

// Close closes the module; it is safe to call more than once.
func (i *instance) Close(ctx context.Context) error {
	if i.mod == nil {
		return nil
	}
	i.rt.instances.Delete(i.mod)
	err := i.mod.Close(ctx)
	i.mod = nil
	i.releaseSnapshot(ctx)
	if i.broken == nil {
		i.broken = errClosed
	}
	if err != nil {
		return fmt.Errorf("close %s instance: %w", i.spec.Name, err)
	}
	return nil
}

// releaseSnapshot drops the instance's hold on its snapshot, once.
func (i *instance) releaseSnapshot(ctx context.Context) {
	if i.snap != nil {
		i.snap.release(ctx)
		i.snap = nil
	}
}
