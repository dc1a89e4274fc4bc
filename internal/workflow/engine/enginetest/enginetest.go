// Package enginetest starts a workflow engine on an embedded backbone in a
// temporary directory, for the tests of the packages that serve it, and
// gives them functions written in Go.
package enginetest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/backbone"
	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/workflow/engine"
)

// Func is a function written in Go: it gets the request body and returns
// a value (encoded as JSON) or a function error.
type Func func(ctx context.Context, body []byte) (any, *runtime.FunctionError)

// Functions is an engine.Invoker over Funcs. It is safe for concurrent use.
type Functions struct {
	mu  sync.Mutex
	fns map[string]Func
}

// Set defines (or replaces) a function.
func (f *Functions) Set(name string, fn Func) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fns == nil {
		f.fns = map[string]Func{}
	}
	f.fns[name] = fn
}

// Invoke runs the named function; an unknown one is invoke.ErrNotFound.
func (f *Functions) Invoke(ctx context.Context, name string, req runtime.Request) (*invoke.Result, error) {
	f.mu.Lock()
	fn := f.fns[name]
	f.mu.Unlock()
	if fn == nil {
		return nil, invoke.ErrNotFound
	}
	out, fe := fn(ctx, req.Body)
	if fe != nil {
		return &invoke.Result{Response: runtime.Response{Status: 200, Error: fe}}, nil
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &invoke.Result{Response: runtime.Response{Status: 200, Body: body}}, nil
}

// Start opens an embedded backbone in t.TempDir() and an engine on it with
// the real clock; both close when the test ends.
func Start(t testing.TB, fns *Functions) *engine.Engine {
	t.Helper()
	ctx := context.Background()
	bb, err := backbone.Open(ctx, backbone.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var inv engine.Invoker
	if fns != nil {
		inv = fns
	}
	eng, err := engine.New(ctx, engine.Options{JS: bb.JS, Invoker: inv, Clock: clock.Real{}})
	if err != nil {
		_ = bb.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := eng.Close(ctx); err != nil {
			t.Error(err)
		}
		if err := bb.Close(); err != nil {
			t.Error(err)
		}
	})
	return eng
}
