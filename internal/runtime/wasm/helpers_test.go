package wasm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
	"github.com/hearth-sh/hearth/internal/wasmbuild"
)

// cacheDir is a compilation cache shared by the runtimes of this test
// binary, so that each test guest is compiled once rather than per test.
var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hearth-wasm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// guest builds a test guest from testdata once per test binary, skipping
// when Go cannot build it.
func guest(tb testing.TB, dir string, command bool) []byte {
	tb.Helper()
	build := wasmbuild.Cached
	if command {
		build = wasmbuild.CachedCommand
	}
	b, err := build(context.Background(), dir)
	if errors.Is(err, wasmbuild.ErrNoGo) {
		tb.Skipf("cannot build test guest: %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func newRuntime(tb testing.TB, cfg wasm.Config) *wasm.Runtime {
	tb.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = cacheDir
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r, err := wasm.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

func prepare(tb testing.TB, r *wasm.Runtime, spec runtime.Spec, code []byte) *wasm.Template {
	tb.Helper()
	if spec.Name == "" {
		spec.Name = "fn"
	}
	tmpl, err := r.Prepare(context.Background(), spec, runtime.Artifact{Bytes: code})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = tmpl.Close(context.Background()) })
	return tmpl.(*wasm.Template)
}

func spawn(tb testing.TB, tmpl *wasm.Template) runtime.Instance {
	tb.Helper()
	inst, _, err := tmpl.Spawn(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = inst.Close(context.Background()) })
	return inst
}

// logLine is one line a guest wrote.
type logLine struct {
	stream    runtime.Stream
	requestID string
	line      string
}

// logRecorder collects a function's log lines.
type logRecorder struct {
	mu    sync.Mutex
	lines []logLine
}

func (l *logRecorder) log(stream runtime.Stream, requestID string, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, logLine{stream, requestID, string(line)})
}

func (l *logRecorder) all() []logLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logLine(nil), l.lines...)
}

// module assembles a WebAssembly binary from sections, for modules too
// broken to come out of a compiler.
func module(sections ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		b = append(b, s...)
	}
	return b
}

func section(id byte, body ...byte) []byte {
	return append([]byte{id, byte(len(body))}, body...)
}

func str(s string) []byte { return append([]byte{byte(len(s))}, s...) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
