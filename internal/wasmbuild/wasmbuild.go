// Package wasmbuild compiles a Go function directory into a hearth reactor
// module: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. The CLI uses
// it for `hearth deploy NAME ./dir`; tests everywhere use Cached.
package wasmbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// ErrNoGo reports that the go command is not installed.
var ErrNoGo = errors.New("the go command is not on PATH")

// ErrBuild reports that the Go compiler rejected the function.
var ErrBuild = errors.New("go build failed")

// Build compiles the Go main package in dir for wasip1 as a reactor and
// returns the module. The package must register its handler with
// hearth.Handle from init (see sdk/go). Compiler output is included in the
// error when the build fails.
func Build(ctx context.Context, dir string) ([]byte, error) {
	return build(ctx, dir, "-buildmode=c-shared")
}

// BuildCommand compiles the Go main package in dir as a plain WASI command
// (_start runs main): hearth's command shape, request body on stdin.
func BuildCommand(ctx context.Context, dir string) ([]byte, error) {
	return build(ctx, dir, "-buildmode=default")
}

func build(ctx context.Context, dir, mode string) ([]byte, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("build %s: %w: install Go 1.24 or later (https://go.dev/dl), or build the module yourself and deploy it with --wasm", dir, ErrNoGo)
	}
	if err := checkDir(dir); err != nil {
		return nil, fmt.Errorf("build %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp("", "hearth-build-")
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "function.wasm")
	cmd := exec.CommandContext(ctx, goBin, "build", mode, "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("build %s: %w", dir, ctx.Err())
		}
		msg := strings.TrimSpace(output.String())
		if strings.Contains(msg, "go.mod file not found") {
			msg += "\n(a function directory must be in a Go module: run `go mod init NAME && go get github.com/hearth-sh/hearth/sdk/go` there)"
		}
		return nil, fmt.Errorf("build %s: %w (%v):\n%s", dir, ErrBuild, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("build %s: read output: %w", dir, err)
	}
	return b, nil
}

// checkDir fails early, with a plain message, on what go build would report
// obscurely.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("function directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is a file: give the directory of a Go main package (or deploy a .wasm file with --wasm)", dir)
	}
	gofiles, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	if len(gofiles) == 0 {
		return fmt.Errorf("%s holds no .go files: give the directory of a Go main package that calls hearth.Handle", dir)
	}
	return nil
}

// Cache memoises Build by absolute directory, so that a process builds
// each function once however many callers ask. The zero value is ready.
type Cache struct {
	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	done chan struct{}
	wasm []byte
	err  error
}

// Build returns the module for dir, building it on the first call; callers
// arriving during that build wait for it. Each caller gets its own copy.
func (c *Cache) Build(ctx context.Context, dir string) ([]byte, error) {
	return c.build(ctx, dir, "-buildmode=c-shared")
}

// BuildCommand is BuildCommand memoised.
func (c *Cache) BuildCommand(ctx context.Context, dir string) ([]byte, error) {
	return c.build(ctx, dir, "-buildmode=default")
}

func (c *Cache) build(ctx context.Context, dir, mode string) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", dir, err)
	}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*entry{}
	}
	key := mode + " " + abs
	e, ok := c.entries[key]
	if !ok {
		e = &entry{done: make(chan struct{})}
		c.entries[key] = e
	}
	c.mu.Unlock()
	if !ok {
		e.wasm, e.err = build(ctx, abs, mode)
		if e.err != nil {
			// Do not memoise failures: a canceled context or a fixed
			// source deserves another try.
			c.mu.Lock()
			delete(c.entries, key)
			c.mu.Unlock()
		}
		close(e.done)
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("build %s: %w", dir, ctx.Err())
	}
	if e.err != nil {
		return nil, e.err
	}
	return bytes.Clone(e.wasm), nil
}

// process is the cache behind Cached. It is the one piece of package state
// here: a memo of deterministic build outputs, invisible except in speed,
// which is what lets test packages share builds without plumbing.
var process Cache

// Cached is Build memoised for the life of the process (see Cache). Tests
// use it to build example functions once per test binary.
func Cached(ctx context.Context, dir string) ([]byte, error) { return process.Build(ctx, dir) }

// CachedCommand is BuildCommand memoised for the life of the process.
func CachedCommand(ctx context.Context, dir string) ([]byte, error) {
	return process.BuildCommand(ctx, dir)
}
