package process

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// zipFile is one entry of a hand-made package.
type zipFile struct {
	name string
	mode os.FileMode
	body string
}

func makeZip(t *testing.T, files ...zipFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		hdr := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		hdr.SetMode(f.mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// script is a package whose bootstrap is a shell script.
func script(t *testing.T, body string) runtime.Artifact {
	t.Helper()
	return runtime.Artifact{Bytes: makeZip(t, zipFile{"bootstrap", 0o755, "#!/bin/bash\n" + body})}
}

// buildLambda builds a Go Lambda function into a package.
func buildLambda(t testing.TB, pkg string) runtime.Artifact {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	b, err := ZipDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return runtime.Artifact{Bytes: b}
}

func newRuntime(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	cfg.DataDir = t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.InitTimeout == 0 {
		cfg.InitTimeout = 5 * time.Second
	}
	r, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

// logBook collects log lines.
type logBook struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBook) log(stream runtime.Stream, id string, line []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, string(stream)+"|"+id+"|"+string(line))
}

func (b *logBook) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...)
}

func spec(name string) runtime.Spec {
	return runtime.Spec{Name: name, Version: 1, MemoryBytes: 128 << 20, Timeout: 5 * time.Second, MaxResponseBytes: 1 << 20}
}
