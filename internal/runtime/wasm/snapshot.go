package wasm

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
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
	image *memoryImage
	size  int
	// globals are the captured values of the mutable globals, by index;
	// the baked module exports them so that recycling can reset them.
	globals     map[int]uint64
	baked       wazero.CompiledModule
	captureTime time.Duration
}

// SnapshotInfo describes a template's snapshot.
type SnapshotInfo struct {
	// Bytes is the size of the memory image.
	Bytes int
	// CaptureTime is how long capturing and compiling the snapshot took.
	CaptureTime time.Duration
}

// Snapshot reports whether instances of t are restored from a snapshot
// (Config.Snapshots, reactors with _initialize) and describes it.
func (t *Template) Snapshot() (SnapshotInfo, bool) {
	if t.snap == nil {
		return SnapshotInfo{}, false
	}
	return SnapshotInfo{Bytes: t.snap.size, CaptureTime: t.snap.captureTime}, true
}

const globalExportPrefix = "__hearth_g"

// capture runs _initialize in a copy of the module whose globals are
// exported, reads its memory and globals, and compiles the baked module.
func (t *Template) capture(ctx context.Context, code []byte) (*snapshot, error) {
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
	img, err := newMemoryImage(image)
	if err != nil {
		return nil, err
	}
	compiled, err := t.rt.wz.CompileModule(ctx, wbinary.EncodeModule(baked))
	if err != nil {
		_ = img.close()
		return nil, fmt.Errorf("compile the restored module: %w", err)
	}
	return &snapshot{image: img, size: len(image), globals: globals, baked: compiled, captureTime: t.rt.clock.Now().Sub(start)}, nil
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
// the memory image and the captured globals. It reports false when it
// cannot (the memory grew past the image), and the instance must be
// restored anew.
func (s *snapshot) reset(mod api.Module, mem *limitedMemory) (bool, error) {
	if mod.Memory().Size() != uint32(s.size) {
		return false, nil
	}
	if err := s.image.reset(mem); err != nil {
		return false, err
	}
	for gi, v := range s.globals {
		g, ok := mod.ExportedGlobal(globalExportPrefix + strconv.Itoa(gi)).(api.MutableGlobal)
		if !ok {
			return false, fmt.Errorf("global %d is not exported as mutable", gi)
		}
		g.Set(v)
	}
	return true, nil
}
