package process

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-sh/hearth/internal/runtime"
)

func TestUnpackAndEntryPoint(t *testing.T) {
	tests := []struct {
		name     string
		files    []zipFile
		handler  string
		wantErr  string // empty: valid
		wantExe  string
		wantArgs []string
	}{
		{"bootstrap", []zipFile{{"bootstrap", 0o755, "#!/bin/sh\n"}}, "ignored.handler", "", "bootstrap", nil},
		{"handler names the executable", []zipFile{{"bin/app", 0o755, "x"}}, "bin/app --port 1", "", "bin/app", []string{"--port", "1"}},
		{"relative symlink", []zipFile{{"real", 0o755, "x"}, {"bootstrap", 0o777 | os.ModeSymlink, "real"}}, "", "", "bootstrap", nil},
		{"nested dirs", []zipFile{{"lib/", 0o755 | os.ModeDir, ""}, {"lib/x.so", 0o644, "x"}, {"bootstrap", 0o700, "x"}}, "", "", "bootstrap", nil},
		{"zip slip", []zipFile{{"../x", 0o644, "x"}}, "", "escapes", "", nil},
		{"zip slip deep", []zipFile{{"a/../../x", 0o644, "x"}}, "", "escapes", "", nil},
		{"absolute", []zipFile{{"/tmp/x", 0o644, "x"}}, "", "escapes", "", nil},
		{"backslash", []zipFile{{`..\x`, 0o644, "x"}}, "", "escapes", "", nil},
		{"symlink escapes", []zipFile{{"bootstrap", 0o777 | os.ModeSymlink, "../../etc/passwd"}}, "", "outside the package", "", nil},
		{"absolute symlink", []zipFile{{"bootstrap", 0o777 | os.ModeSymlink, "/bin/sh"}}, "", "outside the package", "", nil},
		{"no bootstrap, no handler", []zipFile{{"main.py", 0o644, "x"}}, "", "no bootstrap", "", nil},
		{"handler missing", []zipFile{{"main.py", 0o644, "x"}}, "app", "missing", "", nil},
		{"handler outside", []zipFile{{"main.py", 0o644, "x"}}, "../bin/sh", "relative path inside", "", nil},
		{"not executable", []zipFile{{"bootstrap", 0o644, "x"}}, "", "not executable", "", nil},
		{"bootstrap is a dir", []zipFile{{"bootstrap/", 0o755 | os.ModeDir, ""}}, "", "not a regular file", "", nil},
		{"device", []zipFile{{"dev", 0o644 | os.ModeDevice, ""}}, "", "not a file", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "code")
			err := unpack(makeZip(t, tt.files...), dir)
			var exe string
			var args []string
			if err == nil {
				exe, args, err = entryPoint(dir, tt.handler)
			}
			if tt.wantErr != "" {
				if !errors.Is(err, runtime.ErrInvalidArtifact) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrInvalidArtifact containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if exe != tt.wantExe || strings.Join(args, " ") != strings.Join(tt.wantArgs, " ") {
				t.Fatalf("entry point %q %q, want %q %q", exe, args, tt.wantExe, tt.wantArgs)
			}
		})
	}
}

func TestNotAZip(t *testing.T) {
	err := unpack([]byte("\x7fELF..."), filepath.Join(t.TempDir(), "code"))
	if !errors.Is(err, runtime.ErrInvalidArtifact) || !strings.Contains(err.Error(), "not a zip") {
		t.Fatalf("err = %v", err)
	}
}

// TestZipDirRoundTrip: a directory zipped by ZipDir unpacks to the same
// files with the same executable bits.
func TestZipDirRoundTrip(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]os.FileMode{"bootstrap": 0o755, "lib/data.txt": 0o644}
	for name, mode := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("bootstrap", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	b, err := ZipDir(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "code")
	if err := unpack(b, dst); err != nil {
		t.Fatal(err)
	}
	for name, mode := range files {
		st, err := os.Stat(filepath.Join(dst, name))
		if err != nil || st.Mode().Perm() != mode {
			t.Fatalf("%s: %v %v, want mode %v", name, st.Mode(), err, mode)
		}
	}
	if target, err := os.Readlink(filepath.Join(dst, "link")); err != nil || target != "bootstrap" {
		t.Fatalf("link: %q %v", target, err)
	}
}

// FuzzUnpack: no zip makes unpack panic or write outside its directory.
func FuzzUnpack(f *testing.F) {
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte("not a zip"))
	f.Fuzz(func(t *testing.T, b []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "code")
		_ = unpack(b, dir)
		entries, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != "code" {
				t.Fatalf("unpack left %s outside its directory", e.Name())
			}
		}
	})
}
