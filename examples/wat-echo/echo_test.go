// Package watecho tests the hand-written WAT reactor in echo.wat: it proves
// that the hearth binary interface can be targeted without the Go SDK.
package watecho

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
)

// build assembles echo.wat with wat2wasm (Debian package wabt).
func build(t *testing.T) []byte {
	t.Helper()
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm not found: install it (Debian/Ubuntu: apt-get install wabt) to test the WAT example")
	}
	out := filepath.Join(t.TempDir(), "echo.wasm")
	if msg, err := exec.Command(tool, "echo.wat", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEcho(t *testing.T) {
	code := build(t)
	ctx := context.Background()
	r, err := wasm.New(ctx, wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	var logged []string
	spec := runtime.Spec{Name: "wat-echo", MaxResponseBytes: 1 << 20, MemoryBytes: 1 << 20,
		Log: func(_ runtime.Stream, id string, line []byte) { logged = append(logged, id+" "+string(line)) }}
	tmpl, err := r.Prepare(ctx, spec, runtime.Artifact{Bytes: code})
	if err != nil {
		t.Fatal(err)
	}
	defer tmpl.Close(ctx)
	if s := tmpl.(*wasm.Template).Shape(); s != wasm.Reactor {
		t.Fatalf("shape %q, want reactor", s)
	}
	inst, _, err := tmpl.Spawn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	tests := []struct {
		name string
		req  runtime.Request
		err  error
	}{
		{"small", runtime.Request{ID: "a", Method: "POST", Path: "/x", Query: "q=1",
			Headers: map[string][]string{"Content-Type": {"text/plain"}}, Body: []byte("hello, wat")}, nil},
		{"empty", runtime.Request{ID: "b"}, nil},
		{"larger than the first buffer", runtime.Request{ID: "c", Body: make([]byte, 100<<10)}, nil},
		{"past the memory limit", runtime.Request{ID: "d", Body: make([]byte, 2<<20)}, runtime.ErrMemoryLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := inst.Invoke(ctx, tt.req)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Invoke error %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 200 || string(resp.Body) != string(tt.req.Body) || resp.Error != nil {
				t.Fatalf("response %d %q %v, want 200 with the request body", resp.Status, resp.Body, resp.Error)
			}
		})
	}
	if len(logged) == 0 || logged[0] != "a [INFO] echoing a request" {
		t.Fatalf("log lines %q, want the guest's hearth.log line tagged with the request id", logged)
	}
}

// BenchmarkWarmInvoke measures the runtime's own per-invoke cost with a
// guest that does almost nothing: no Go runtime, no allocation.
func BenchmarkWarmInvoke(b *testing.B) {
	ctx := context.Background()
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		b.Skip("wat2wasm not found (Debian: apt-get install wabt)")
	}
	out := filepath.Join(b.TempDir(), "echo.wasm")
	if msg, err := exec.Command(tool, "echo.wat", "-o", out).CombinedOutput(); err != nil {
		b.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	code, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	r, err := wasm.New(ctx, wasm.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(ctx)
	tmpl, err := r.Prepare(ctx, runtime.Spec{Name: "wat-echo"}, runtime.Artifact{Bytes: code})
	if err != nil {
		b.Fatal(err)
	}
	defer tmpl.Close(ctx)
	inst, _, err := tmpl.Spawn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Close(ctx)
	req := runtime.Request{ID: "bench", Method: "POST", Path: "/", Body: []byte(`{"name":"bench"}`),
		Headers: map[string][]string{"Content-Type": {"application/json"}, "User-Agent": {"Go-http-client/1.1"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inst.Invoke(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
