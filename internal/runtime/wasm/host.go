package wasm

import (
	"bytes"
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// HostCalls supplies the capabilities a guest reaches through the host
// function hearth.call (state, publish, invoke, ...). The node implements
// it; each capability is a named operation with bytes in and bytes out, so
// that adding one changes neither the binary interface nor this package.
//
// # Notes
//
// HostCall runs on the guest's goroutine while the guest waits: keep it
// short, honour ctx (it ends with the invocation), and decide there which
// functions may use which operations (CallFrom(ctx) says who is calling).
// input is only valid during the call.
type HostCalls interface {
	HostCall(ctx context.Context, op string, input []byte) ([]byte, error)
}

// Call identifies the invocation a host call comes from.
type Call struct {
	Function  string
	Version   int64
	RequestID string // empty during the guest's initialisation
}

type callKey struct{}

// CallFrom returns the invocation a HostCall serves.
func CallFrom(ctx context.Context) (Call, bool) {
	c, ok := ctx.Value(callKey{}).(Call)
	return c, ok
}

// Errno values hearth.call returns (docs/abi.md).
const (
	callOK          = 0 // the result is the output
	callFailed      = 1 // the result is an error message
	callUnavailable = 2 // no such capability here; the result says so
)

// instantiateHostModule defines the "hearth" host module.
func (r *Runtime) instantiateHostModule(ctx context.Context) (api.Module, error) {
	i32 := api.ValueTypeI32
	b := r.wz.NewHostModuleBuilder(hostModule)
	b.NewFunctionBuilder().WithName("log").WithParameterNames("level", "msg", "msg_len").
		WithGoModuleFunction(api.GoModuleFunc(r.hostLog), []api.ValueType{i32, i32, i32}, nil).Export("log")
	b.NewFunctionBuilder().WithName("call").WithParameterNames("op", "op_len", "in", "in_len", "out_len_ptr").
		WithGoModuleFunction(api.GoModuleFunc(r.hostCall), []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}).Export("call")
	b.NewFunctionBuilder().WithName("call_result").WithParameterNames("dst", "dst_len").
		WithGoModuleFunction(api.GoModuleFunc(r.hostCallResult), []api.ValueType{i32, i32}, []api.ValueType{i32}).Export("call_result")
	m, err := b.Instantiate(ctx)
	if err != nil {
		return nil, fmt.Errorf("instantiate the hearth host module: %w", err)
	}
	return m, nil
}

func (r *Runtime) state(mod api.Module) *instanceState {
	s, ok := r.instances.Load(mod)
	if !ok {
		// Only modules hearth instantiated can import the host module, and
		// they are registered before they run.
		panic("hearth host call from an unregistered module")
	}
	return s.(*instanceState)
}

// read returns guest memory [ptr, ptr+n) or traps the guest.
func read(mod api.Module, ptr, n uint32) []byte {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Sprintf("hearth host call: memory range [%d, %d) is out of bounds", ptr, uint64(ptr)+uint64(n)))
	}
	return b
}

// hostLog: log(level i32, msg i32, msg_len i32).
func (r *Runtime) hostLog(_ context.Context, mod api.Module, stack []uint64) {
	s := r.state(mod)
	msg := read(mod, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]))
	prefix := "[" + levelName(api.DecodeI32(stack[0])) + "] "
	for len(msg) > 0 {
		line, rest, _ := bytes.Cut(msg, []byte{'\n'})
		s.emit(runtime.Stderr, append([]byte(prefix), line...))
		msg = rest
	}
}

func levelName(l int32) string {
	switch {
	case l < 0:
		return "DEBUG"
	case l < 4:
		return "INFO"
	case l < 8:
		return "WARN"
	default:
		return "ERROR"
	}
}

// hostCall: call(op, op_len, in, in_len, out_len_ptr) -> errno.
func (r *Runtime) hostCall(ctx context.Context, mod api.Module, stack []uint64) {
	s := r.state(mod)
	op := string(read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1])))
	in := read(mod, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	outLenPtr := api.DecodeU32(stack[4])
	errno := uint32(callOK)
	if r.host == nil {
		errno, s.pending = callUnavailable, []byte(fmt.Sprintf("capability %q is not available on this node", op))
	} else {
		ctx = context.WithValue(ctx, callKey{}, Call{Function: s.spec.Name, Version: s.spec.Version, RequestID: s.requestID})
		out, err := r.host.HostCall(ctx, op, in)
		if err != nil {
			errno, s.pending = callFailed, []byte(err.Error())
		} else {
			s.pending = out
		}
	}
	if !mod.Memory().WriteUint32Le(outLenPtr, uint32(len(s.pending))) {
		panic(fmt.Sprintf("hearth.call: out_len_ptr %d is out of bounds", outLenPtr))
	}
	stack[0] = api.EncodeU32(errno)
}

// hostCallResult: call_result(dst, dst_len) -> copied. It hands over the
// result of the last call and forgets it.
func (r *Runtime) hostCallResult(_ context.Context, mod api.Module, stack []uint64) {
	s := r.state(mod)
	dst, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if uint32(len(s.pending)) < n {
		n = uint32(len(s.pending))
	}
	if !mod.Memory().Write(dst, s.pending[:n]) {
		panic(fmt.Sprintf("hearth.call_result: memory range [%d, %d) is out of bounds", dst, uint64(dst)+uint64(n)))
	}
	s.pending = nil
	stack[0] = api.EncodeU32(n)
}
