package wasm

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	wbinary "github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/leb128"
	wabin "github.com/tetratelabs/wabin/wasm"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// A snapshot is a reactor's state right after _initialize: its linear
// memory, and the module rewritten so that its globals start with the
// values they had then and it has no data segments (the memory image
// replaces them). Instances restored from it skip instantiation's data copy
// and _initialize entirely.
//
// wazero has no API to set a module's non-exported globals, which Go guests
// use for their stack pointer and runtime state, so restoring memory alone
// is not enough: the values are baked into the module instead.
//
// Every instance restored from one snapshot starts from the same state: the
// Go runtime's init-time random seeds (map hash seeds) and anything the
// function's init computed from the clock or random numbers are shared.
type snapshot struct {
	key string
	// holds counts the store's reference and each live instance restored
	// from the snapshot; the image is unmapped when the last one goes, as
	// a recycling instance copies pages back from it.
	holds atomic.Int64
	image *memoryImage
	size  int
	// globals are the captured values of the mutable globals, by index;
	// the baked module exports them so that recycling can reset them.
	globals     map[int]uint64
	baked       wazero.CompiledModule
	captureTime time.Duration
}

// SnapshotInfo describes a template's snapshot and its cold starts, for
// `hearth get`.
type SnapshotInfo struct {
	// Mode is "restore" when instances are restored from a snapshot,
	// "off" when snapshots were not asked for, and "fallback" when they
	// were but the template initialises normally (Reason says why).
	Mode   string `json:"mode"`
	Reason string `json:"reason,omitempty"`
	// Key names the snapshot (its file is Key+".snap" in the snapshot
	// directory); templates with the same key share it.
	Key string `json:"key,omitempty"`
	// Bytes is the size of the memory image.
	Bytes int `json:"bytes,omitempty"`
	// CaptureTime is how long capturing the snapshot took (running the
	// function's init and reading its state), when it was first captured.
	CaptureTime time.Duration `json:"capture_time,omitempty"`
	// Loaded tells that the snapshot was read from the snapshot directory
	// rather than captured by this Prepare.
	Loaded bool `json:"loaded,omitempty"`
	// Restored and Initialised count the template's cold starts of each
	// kind.
	Restored    int64 `json:"restored"`
	Initialised int64 `json:"initialised"`
	// Resets counts recycle-mode resets (--isolation per-request),
	// ResetTime is their total time and ResetPages the memory pages
	// (wasm's 64 KiB pages are made of the system's 4 KiB ones: these are
	// the system's) they copied back from the snapshot.
	Resets     int64         `json:"resets,omitempty"`
	ResetTime  time.Duration `json:"reset_time,omitempty"`
	ResetPages int64         `json:"reset_pages,omitempty"`
}

// The snapshot modes SnapshotInfo reports.
const (
	SnapshotRestore  = "restore"
	SnapshotFallback = "fallback"
)

// Snapshot reports whether instances of t are restored from a snapshot
// (Config.Snapshots or Options.Snapshot, reactors with _initialize) and
// describes it and the template's cold starts.
func (t *Template) Snapshot() (SnapshotInfo, bool) {
	info := SnapshotInfo{Mode: string(SnapshotOff), Reason: t.snapReason,
		Restored: t.restores.Load(), Initialised: t.inits.Load(), Resets: t.resets.Load(), ResetTime: time.Duration(t.resetNanos.Load()), ResetPages: t.resetPages.Load()}
	if t.snapReason != "" {
		info.Mode = SnapshotFallback
	}
	if t.snap == nil {
		return info, false
	}
	info.Mode, info.Key, info.Bytes, info.CaptureTime, info.Loaded = SnapshotRestore, t.snap.key, t.snap.size, t.snap.captureTime, t.snapLoaded
	return info, true
}

// Restored reports whether the cold starts of t are snapshot restores:
// for runtime.Phases, Init then times the restore, not the guest's init.
func (t *Template) Restored() bool { return t.snap != nil }

// prepareSnapshot gives t a snapshot when its shape allows one, or records
// why it initialises normally.
func (t *Template) prepareSnapshot(ctx context.Context, code []byte) {
	r := t.rt
	switch {
	case t.Shape() != Reactor:
		t.snapReason = "a command starts afresh for every invocation: nothing to snapshot"
		return
	case !t.mod.info.hasInit:
		t.snapReason = "the module exports no _initialize: there is no init to skip"
		return
	}
	key := snapshotKey(t.digest, []string{t.spec.Name}, t.env)
	e, err := r.acquireSnapshot(ctx, t, key, code)
	if err == nil {
		t.snap, t.snapKey, t.snapLoaded = e.snap, key, e.loaded
		// Restore one instance before any caller does: a guest whose
		// restore traps falls back now rather than failing cold starts.
		var inst interface{ Close(context.Context) error }
		if inst, _, err = t.Spawn(ctx); err == nil {
			_ = inst.Close(ctx)
			t.restores.Add(-1)
			return
		}
		t.snap, t.snapKey = nil, ""
		r.releaseSnapshot(ctx, key)
		err = fmt.Errorf("a restored instance does not start: %w", err)
	}
	t.snapReason = "capture failed: " + err.Error()
	r.log.Warn("wasm snapshot capture failed; instances will initialise normally",
		"function", t.spec.Name, "version", t.spec.Version, "err", err)
}

// hold takes a reference for a restored instance.
func (s *snapshot) hold() { s.holds.Add(1) }

// release drops a reference; the last one closes the snapshot.
func (s *snapshot) release(ctx context.Context) {
	if s.holds.Add(-1) == 0 {
		_ = s.close(ctx)
	}
}

const globalExportPrefix = "__hearth_g"

// capture runs _initialize in a copy of the module whose globals are
// exported, and returns its memory, its mutable globals and the baked
// module: the original with the globals' values as their initialisers and
// no data segments.
func (t *Template) capture(ctx context.Context, code []byte) (*snapshotParts, error) {
	start := t.rt.clock.Now()
	mod, err := wbinary.DecodeModule(code, wabin.CoreFeaturesV2)
	if err != nil {
		return nil, fmt.Errorf("decode module: %w", err)
	}
	// inspect refused imported globals and memories: every global is in
	// GlobalSection and the memory is the module's own.
	if mod.MemorySection == nil {
		return nil, fmt.Errorf("module has no memory section")
	}
	for i := range mod.GlobalSection {
		mod.ExportSection = append(mod.ExportSection, &wabin.Export{Type: wabin.ExternTypeGlobal, Name: globalExportPrefix + strconv.Itoa(i), Index: uint32(i)})
	}
	probe, err := t.rt.wz.CompileModule(ctx, wbinary.EncodeModule(mod))
	if err != nil {
		return nil, fmt.Errorf("compile the capture module: %w", err)
	}
	defer probe.Close(ctx)

	i := &instance{rt: t.rt, t: t, spec: &t.spec}
	i.state = newInstanceState(i.spec)
	i.mem = &limitedMemory{limit: t.memoryLimit()}
	live, err := t.rt.wz.InstantiateModule(experimental.WithMemoryAllocator(ctx, i.mem), probe, t.moduleConfig(i.state, eofReader{}, &i.state.stdout, nil))
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	i.mod = live
	t.rt.instances.Store(live, i.state)
	defer i.Close(ctx)
	i.state.begin("")
	err = i.call(ctx, live.ExportedFunction(exportInitialize), nil)
	i.state.end()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", exportInitialize, err)
	}
	size := live.Memory().Size()
	view, _ := live.Memory().Read(0, size)
	image := append([]byte(nil), view...)

	baked, err := wbinary.DecodeModule(code, wabin.CoreFeaturesV2)
	if err != nil {
		return nil, fmt.Errorf("decode module: %w", err)
	}
	globals := map[int]uint64{}
	for gi, g := range baked.GlobalSection {
		name := globalExportPrefix + strconv.Itoa(gi)
		v := live.ExportedGlobal(name)
		if v == nil {
			return nil, fmt.Errorf("global %d was not exported", gi)
		}
		if g.Init, err = constant(g.Type.ValType, v.Get()); err != nil {
			return nil, fmt.Errorf("global %d: %w", gi, err)
		}
		if g.Type.Mutable {
			globals[gi] = v.Get()
			baked.ExportSection = append(baked.ExportSection, &wabin.Export{Type: wabin.ExternTypeGlobal, Name: name, Index: uint32(gi)})
		}
	}
	baked.DataSection, baked.DataCountSection = nil, nil
	baked.MemorySection.Min = size / pageSize
	return &snapshotParts{globals: globals, module: wbinary.EncodeModule(baked), image: image, captureTime: t.rt.clock.Now().Sub(start)}, nil
}

// newSnapshot compiles the baked module of p and puts its image where
// restores map it from.
func (r *Runtime) newSnapshot(ctx context.Context, p *snapshotParts) (*snapshot, error) {
	img, err := newMemoryImage(p.image)
	if err != nil {
		return nil, err
	}
	compiled, err := r.wz.CompileModule(ctx, p.module)
	if err != nil {
		_ = img.close()
		return nil, fmt.Errorf("compile the restored module: %w", err)
	}
	s := &snapshot{image: img, size: len(p.image), globals: p.globals, baked: compiled, captureTime: p.captureTime}
	s.holds.Store(1) // the store's
	return s, nil
}

// constant is the constant expression that produces the raw value v of type vt.
func constant(vt wabin.ValueType, v uint64) (*wabin.ConstantExpression, error) {
	switch vt {
	case wabin.ValueTypeI32:
		return &wabin.ConstantExpression{Opcode: wabin.OpcodeI32Const, Data: leb128.EncodeInt32(int32(uint32(v)))}, nil
	case wabin.ValueTypeI64:
		return &wabin.ConstantExpression{Opcode: wabin.OpcodeI64Const, Data: leb128.EncodeInt64(int64(v))}, nil
	case wabin.ValueTypeF32:
		return &wabin.ConstantExpression{Opcode: wabin.OpcodeF32Const, Data: binary.LittleEndian.AppendUint32(nil, uint32(v))}, nil
	case wabin.ValueTypeF64:
		return &wabin.ConstantExpression{Opcode: wabin.OpcodeF64Const, Data: binary.LittleEndian.AppendUint64(nil, v)}, nil
	}
	return nil, fmt.Errorf("cannot bake a global of type %#x", vt)
}

// close releases the baked module and the image; restored instances keep
// working.
func (s *snapshot) close(ctx context.Context) error {
	err := s.baked.Close(ctx)
	if cerr := s.image.close(); err == nil {
		err = cerr
	}
	return err
}

// reset puts a live module restored from s back into its restored state:
// the memory image and the captured globals, and reports how many pages
// of memory it copied back. It reports false when it cannot (the memory
// grew past the image), and the instance must be restored anew.
func (s *snapshot) reset(mod api.Module, mem *limitedMemory) (bool, int, error) {
	if mod.Memory().Size() != uint32(s.size) {
		return false, 0, nil
	}
	pages, err := s.image.reset(mem)
	if err != nil {
		return false, pages, err
	}
	for gi, v := range s.globals {
		g, ok := mod.ExportedGlobal(globalExportPrefix + strconv.Itoa(gi)).(api.MutableGlobal)
		if !ok {
			return false, pages, fmt.Errorf("global %d is not exported as mutable", gi)
		}
		g.Set(v)
	}
	return true, pages, nil
}
