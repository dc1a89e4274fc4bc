package wasmbuild_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-sh/hearth/internal/wasmbuild"
)

func TestBuildErrors(t *testing.T) {
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "main.go"), []byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "go.mod"), []byte("module broken\n\ngo 1.24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noModule := t.TempDir()
	if err := os.WriteFile(filepath.Join(noModule, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(broken, "main.go")
	tests := []struct {
		name, dir, want string
		sentinel        error
	}{
		{"missing directory", filepath.Join(broken, "nope"), "no such file", nil},
		{"a file", file, "is a file", nil},
		{"no Go files", t.TempDir(), "holds no .go files", nil},
		{"compile error", broken, "undefinedThing", wasmbuild.ErrBuild},
		{"outside a module", noModule, "go mod init", wasmbuild.ErrBuild},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wasmbuild.Build(context.Background(), tt.dir)
			if errors.Is(err, wasmbuild.ErrNoGo) {
				t.Skip(err)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error %v, want it to mention %q", err, tt.want)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Fatalf("Build error %v, want %v", err, tt.sentinel)
			}
		})
	}
}

func TestNoGo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := wasmbuild.Build(context.Background(), ".")
	if !errors.Is(err, wasmbuild.ErrNoGo) || !strings.Contains(err.Error(), "--wasm") {
		t.Fatalf("Build without go = %v, want ErrNoGo with advice", err)
	}
}

func TestCachedBuildsOnce(t *testing.T) {
	var c wasmbuild.Cache
	ctx := context.Background()
	a, err := c.Build(ctx, "../../examples/echo")
	if errors.Is(err, wasmbuild.ErrNoGo) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(a, []byte("\x00asm")) {
		t.Fatalf("output is not a wasm module: % x", a[:8])
	}
	a[0] = 'X' // callers own their copy
	b, err := c.Build(ctx, "../../examples/../examples/echo")
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || len(a) != len(b) {
		t.Fatal("second Build did not return an intact copy of the first")
	}
}
