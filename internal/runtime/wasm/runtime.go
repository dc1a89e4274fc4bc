// Package wasm runs hearth functions compiled to WebAssembly (WASI preview 1)
// with wazero's optimizing compiler.
//
// A Runtime turns a module into a *Template (validated, compiled, cached on
// disk when Config.CacheDir is set); a Template spawns instances. Two guest
// shapes are accepted (see Shape and docs/abi.md):
//
//   - reactor: exports hearth_alloc and hearth_handle (plus _initialize, run
//     once at Spawn). One module instance serves many invocations, one at a
//     time. Go functions built with sdk/go have this shape.
//   - command: a plain WASI program with _start. Each invocation runs a fresh
//     module instance with the request body on stdin; stdout is the response
//     body. The Instance re-instantiates per Invoke by itself, so callers
//     treat both shapes alike.
//
// The guest gets WASI stdio, args, environment, clocks and random numbers,
// and the host module "hearth" (logging and capability calls); no file
// system, no network.
//
// # Snapshots and recycling
//
// With Config.Snapshots (or Options.Snapshot per function, via PrepareWith),
// Prepare runs a reactor's _initialize once and later instances are
// restored from the captured memory (mapped copy-on-write from a memfd on
// Linux) and globals (baked into a rewritten module): the guest's init no
// longer runs per cold start, and hearth_after_restore runs instead if
// exported. Options.Recycle resets a restored instance to the snapshot
// before each invocation after its first (only the pages it wrote are
// copied back), isolating requests from each other without a cold start.
// With Config.SnapshotDir, snapshots are files named by what init could
// observe (module digest, arguments, environment), checksummed, shared by
// templates with the same inputs and loaded again after a restart; a file
// no template uses is removed after Config.SnapshotGrace (snapstore.go).
// docs/snapshots.md says what restored instances share.
//
// # Cold-start phases
//
// Spawn of a reactor reports: Provision, building the instance's sandbox
// (WASI configuration, memory allocator); Runtime, wazero's instantiation
// (memory, tables, data segments); Code, getting the compiled module, which
// Prepare already compiled, so ≈ 0 (Template.CompileTime tells what Prepare
// spent); Init, the guest's _initialize (the Go runtime and package init
// functions), or for a restored instance the memory restore plus
// hearth_after_restore. A command has no per-instance bootstrap outside an
// invocation: its Spawn phases are ≈ 0 and its instantiation and start-up
// land in each invocation's handler time.
package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// Config configures a Runtime. The zero value works: no disk cache, the
// default logger, the wall clock and no host capabilities beyond logging.
type Config struct {
	// CacheDir holds wazero's compilation cache so that a node restart does
	// not recompile modules. Empty keeps compiled code in memory only.
	CacheDir string
	// Logger receives the runtime's own diagnostics. Nil uses slog.Default().
	Logger *slog.Logger
	// Clock times phases and enforces Spec.Timeout. Nil uses the wall
	// clock. Guests always see real time.
	Clock clock.Clock
	// Host supplies the capabilities behind the hearth.call host function.
	// Nil answers every capability call with "not available".
	Host HostCalls
	// Snapshots makes Prepare run a reactor's _initialize once and restore
	// every instance from the resulting memory image instead of
	// initialising it (see Template.Snapshot). When capture fails the
	// template falls back to normal initialisation and logs why.
	Snapshots bool
	// SnapshotDir keeps snapshots on disk, named by what their init could
	// observe (module, arguments, environment) and checksummed, so that a
	// node restart maps them instead of capturing them again and templates
	// with identical inputs share one. Empty keeps snapshots in memory only.
	SnapshotDir string
	// SnapshotGrace is how long a snapshot that no template uses any more
	// is kept before its file is removed (0: DefaultSnapshotGrace). Files
	// found at New that no template takes up within it are removed too;
	// Runtime.SweepSnapshots removes them at once.
	SnapshotGrace time.Duration
}

// Runtime compiles and instantiates WebAssembly functions. It implements
// runtime.Runtime and is safe for concurrent use.
//
// # Notes
//
// Close the Runtime after every Template and Instance made from it is
// closed; closing it releases all compiled code at once.
type Runtime struct {
	wz    wazero.Runtime
	cache wazero.CompilationCache
	log   *slog.Logger
	clock clock.Clock
	host  HostCalls
	// snapshots: restore reactors from a post-init snapshot (Config.Snapshots).
	snapshots bool
	hostFn    map[string]api.FunctionDefinition // "module.name" → signature, for import checks

	// instances maps a guest module to its instance so that host functions,
	// which only receive the calling module, find the invocation they serve.
	instances sync.Map // api.Module → *instanceState

	mu      sync.Mutex
	modules map[string]*sharedModule // by artifact digest
	// Snapshots by key (snapstore.go); orphans are files found at New that
	// no template has taken up yet, with their removal timers.
	snapDir   string
	snapGrace time.Duration
	snaps     map[string]*storedSnapshot
	orphans   map[string]clock.Timer
	snapStats SnapshotStats
	closed    bool
}

// sharedModule is compiled code shared by every Template of one artifact:
// a node prepares the same artifact for several versions and probes.
type sharedModule struct {
	compiled wazero.CompiledModule
	info     moduleInfo
	refs     int
}

var _ runtime.Runtime = (*Runtime)(nil)

// New starts a runtime: wazero with the optimizing compiler, close-on-
// context-done (so a timed-out guest is interrupted), the WASI and hearth
// host modules.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	r := &Runtime{log: cfg.Logger, clock: cfg.Clock, host: cfg.Host, snapshots: cfg.Snapshots, modules: map[string]*sharedModule{},
		snapDir: cfg.SnapshotDir, snapGrace: cfg.SnapshotGrace, snaps: map[string]*storedSnapshot{}, orphans: map[string]clock.Timer{}}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.clock == nil {
		r.clock = clock.Real{}
	}
	if r.snapGrace <= 0 {
		r.snapGrace = DefaultSnapshotGrace
	}
	if r.snapDir != "" {
		if err := r.openSnapshotDir(); err != nil {
			return nil, err
		}
	}

	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("wasm compilation cache: %w", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm compilation cache in %s: %w", cfg.CacheDir, err)
		}
		r.cache = c
	} else {
		r.cache = wazero.NewCompilationCache()
	}
	// NewRuntimeConfig picks the optimizing compiler where the platform has
	// one (amd64, arm64) and the interpreter elsewhere.
	rc := wazero.NewRuntimeConfig().
		WithCompilationCache(r.cache).
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(maxPages)
	r.wz = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.wz); err != nil {
		_ = r.wz.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	hearth, err := r.instantiateHostModule(ctx)
	if err != nil {
		_ = r.wz.Close(ctx)
		return nil, err
	}
	r.hostFn = map[string]api.FunctionDefinition{}
	for _, m := range []api.Module{r.wz.Module(wasiModule), hearth} {
		for name, def := range m.ExportedFunctionDefinitions() {
			r.hostFn[m.Name()+"."+name] = def
		}
	}
	return r, nil
}

// Close releases all compiled code and the compilation cache handle; the
// cache directory and the snapshot files stay for the next start.
func (r *Runtime) Close(ctx context.Context) error {
	r.closeSnapshots(ctx)
	err := r.wz.Close(ctx)
	if cerr := r.cache.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close wasm runtime: %w", err)
	}
	return nil
}

// Prepare validates art and compiles it (or finds it compiled). Errors about
// the module itself wrap runtime.ErrInvalidArtifact and say what to change.
// The returned runtime.Template is a *Template.
func (r *Runtime) Prepare(ctx context.Context, spec runtime.Spec, art runtime.Artifact) (runtime.Template, error) {
	t, err := r.prepare(ctx, spec, art, Options{})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (r *Runtime) prepare(ctx context.Context, spec runtime.Spec, art runtime.Artifact, opts Options) (*Template, error) {
	opts = withSpec(opts, spec)
	digest := art.Digest
	if digest == "" {
		sum := sha256.Sum256(art.Bytes)
		digest = hex.EncodeToString(sum[:])
	}
	start := r.clock.Now()
	m, err := r.acquireModule(ctx, digest, art.Bytes)
	if err != nil {
		return nil, fmt.Errorf("function %s version %d: %w", spec.Name, spec.Version, err)
	}
	t := &Template{rt: r, spec: spec, digest: digest, mod: m, compileTime: r.clock.Now().Sub(start)}
	if err := t.checkSpec(); err != nil {
		r.releaseModule(ctx, digest)
		return nil, fmt.Errorf("function %s version %d: %w", spec.Name, spec.Version, err)
	}
	t.env = guestEnv(spec)
	if r.snapshotsFor(opts) {
		t.prepareSnapshot(ctx, art.Bytes)
	}
	if opts.Recycle {
		if t.snap == nil {
			r.log.Warn("wasm recycle mode needs a snapshot; instances will serve many requests without a reset",
				"function", spec.Name, "version", spec.Version)
		}
		t.recycle = t.snap != nil
	}
	return t, nil
}

// acquireModule returns the compiled module for digest, compiling it on
// first use; releaseModule drops the reference.
func (r *Runtime) acquireModule(ctx context.Context, digest string, code []byte) (*sharedModule, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.modules[digest]; ok {
		m.refs++
		return m, nil
	}
	// Validation first: it gives precise messages for what wazero would
	// report as a bare decoding or linking error.
	info, err := inspect(code)
	if err != nil {
		return nil, err
	}
	// Compiling under the lock keeps two concurrent deploys of one artifact
	// from compiling it twice; compiles of different artifacts are rare
	// enough (deploys) that serialising them costs nothing that matters.
	compiled, err := r.wz.CompileModule(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("%w: the module does not compile: %v", runtime.ErrInvalidArtifact, err)
	}
	if err := r.checkModule(compiled, &info); err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	m := &sharedModule{compiled: compiled, info: info, refs: 1}
	r.modules[digest] = m
	return m, nil
}

func (r *Runtime) releaseModule(ctx context.Context, digest string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.modules[digest]
	if !ok {
		return
	}
	if m.refs--; m.refs > 0 {
		return
	}
	delete(r.modules, digest)
	if err := m.compiled.Close(ctx); err != nil {
		r.log.Warn("close compiled wasm module", "digest", digest, "err", err)
	}
}
