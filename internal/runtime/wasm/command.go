package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// commandInstance runs a WASI command once per invocation, each time in a
// fresh module instance, so that the pool handles it like a reactor.
type commandInstance struct {
	*instance
	closed bool
}

// Invoke instantiates the module with the request body on stdin and the
// request's HTTP shape in CGI variables (docs/abi.md), runs _start and
// returns stdout as the body. A non-zero exit is the function's own error
// (Response.Error of type HandlerError, quoting stderr); traps, timeouts and
// limits return an error as for reactors.
func (i *commandInstance) Invoke(ctx context.Context, req runtime.Request) (runtime.Response, error) {
	if i.closed {
		return runtime.Response{}, fmt.Errorf("invoke %s: %w", i.spec.Name, errClosed)
	}
	i.state.begin(req.ID)
	defer i.state.end()
	i.mem = &limitedMemory{limit: i.t.memoryLimit()}
	stdout := &limitedBuffer{limit: i.spec.MaxResponseBytes}
	cfg := i.t.moduleConfig(i.state, bytes.NewReader(req.Body), stdout, cgiEnv(req))
	mod, err := i.rt.wz.InstantiateModule(experimental.WithMemoryAllocator(ctx, i.mem), i.t.mod.compiled, cfg)
	if err != nil {
		return runtime.Response{}, fmt.Errorf("invoke %s: instantiate: %w", i.spec.Name, i.explain(ctx, err))
	}
	i.mod = mod
	i.rt.instances.Store(mod, i.state)
	defer func() { _ = i.instance.Close(ctx) }()

	err = i.call(ctx, mod.ExportedFunction(exportStart), nil)
	var exit *guestExit
	if errors.As(err, &exit) && !errors.Is(err, runtime.ErrMemoryLimit) {
		err = nil // a command's exit status is its answer, not a crash
	}
	switch {
	case stdout.exceeded:
		return runtime.Response{}, fmt.Errorf("invoke %s: %w: more than %d bytes on stdout", i.spec.Name, runtime.ErrResponseTooLarge, i.spec.MaxResponseBytes)
	case err != nil:
		return runtime.Response{}, fmt.Errorf("invoke %s: %w", i.spec.Name, err)
	}
	resp := runtime.Response{Status: 200, Body: stdout.buf.Bytes()}
	if exit != nil && exit.code != 0 {
		resp.Status = 500
		resp.Error = &runtime.FunctionError{Type: "HandlerError", Message: exit.msg}
	}
	return resp, nil
}

// Close marks the instance closed; a command holds no module between
// invocations.
func (i *commandInstance) Close(ctx context.Context) error {
	i.closed = true
	return i.instance.Close(ctx)
}

// cgiEnv describes the request in the variables of CGI (RFC 3875), the
// oldest convention for handing an HTTP request to a program.
func cgiEnv(req runtime.Request) [][2]string {
	env := [][2]string{
		{"HEARTH_REQUEST_ID", req.ID},
		{"REQUEST_METHOD", req.Method},
		{"PATH_INFO", req.Path},
		{"QUERY_STRING", req.Query},
		{"CONTENT_LENGTH", strconv.Itoa(len(req.Body))},
	}
	for k, vs := range req.Headers {
		name := "HTTP_" + strings.ToUpper(strings.ReplaceAll(k, "-", "_"))
		if strings.EqualFold(k, "Content-Type") {
			name = "CONTENT_TYPE"
		}
		env = append(env, [2]string{name, strings.Join(vs, ", ")})
	}
	return env
}
