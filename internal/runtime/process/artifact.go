package process

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// Limits on a deployment package, as in AWS Lambda (250 MB unzipped).
const (
	maxUnzippedBytes = 250 << 20
	maxZipEntries    = 20000
)

// unpack extracts the zip in code into dir, which must not exist. It
// unpacks into a sibling temporary directory and renames it into place, so
// that a half-written package is never mistaken for a complete one.
func unpack(code []byte, dir string) error {
	zr, err := zip.NewReader(bytes.NewReader(code), int64(len(code)))
	if err != nil {
		return fmt.Errorf("%w: the artifact is not a zip archive (%v): deploy a Lambda deployment package, a zip with an executable named bootstrap at its root", runtime.ErrInvalidArtifact, err)
	}
	if len(zr.File) > maxZipEntries {
		return fmt.Errorf("%w: the zip has %d entries, more than the %d allowed", runtime.ErrInvalidArtifact, len(zr.File), maxZipEntries)
	}
	var total uint64
	for _, f := range zr.File {
		if err := checkEntry(f); err != nil {
			return fmt.Errorf("%w: %v", runtime.ErrInvalidArtifact, err)
		}
		total += f.UncompressedSize64
	}
	if total > maxUnzippedBytes {
		return fmt.Errorf("%w: the package unzips to %d bytes, more than the %d allowed", runtime.ErrInvalidArtifact, total, maxUnzippedBytes)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("code directory: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".unpack-")
	if err != nil {
		return fmt.Errorf("code directory: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("code directory: %w", err)
	}
	if err := extractAll(zr, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		// Another Prepare of the same artifact won the race: its copy is
		// identical (same digest), so use it.
		if _, serr := os.Stat(dir); serr == nil {
			return nil
		}
		return fmt.Errorf("code directory: %w", err)
	}
	return nil
}

// checkEntry refuses entries that would land outside the package directory
// (zip slip) or that are neither files, directories nor local symlinks.
func checkEntry(f *zip.File) error {
	name := strings.TrimSuffix(f.Name, "/")
	if name == "" || strings.Contains(name, `\`) || !filepath.IsLocal(name) {
		return fmt.Errorf("entry %q escapes the package directory (absolute path or '..'): rebuild the zip with relative paths", f.Name)
	}
	mode := f.Mode()
	switch {
	case mode.IsDir(), mode.IsRegular():
		return nil
	case mode&fs.ModeSymlink != 0:
		return nil // the target is checked when it is read, in extract
	default:
		return fmt.Errorf("entry %q is a %s, not a file, directory or symlink", f.Name, mode.Type())
	}
}

func extractAll(zr *zip.Reader, root string) error {
	var written uint64
	for _, f := range zr.File {
		target := filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(f.Name, "/")))
		mode := f.Mode()
		if mode.IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("unpack %s: %w", f.Name, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("unpack %s: %w", f.Name, err)
		}
		if mode&fs.ModeSymlink != 0 {
			if err := extractSymlink(f, target); err != nil {
				return err
			}
			continue
		}
		n, err := extractFile(f, target, maxUnzippedBytes-written)
		if err != nil {
			return err
		}
		written += n
	}
	return nil
}

func extractSymlink(f *zip.File, target string) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("%w: entry %s: %v", runtime.ErrInvalidArtifact, f.Name, err)
	}
	dest, err := io.ReadAll(io.LimitReader(rc, 4096))
	rc.Close()
	if err != nil {
		return fmt.Errorf("%w: entry %s: %v", runtime.ErrInvalidArtifact, f.Name, err)
	}
	// The link is resolved inside the sandbox, but it must not point out of
	// the package when the runtime itself follows it (the bootstrap check).
	joined := path.Join(path.Dir(strings.TrimSuffix(f.Name, "/")), string(dest))
	if path.IsAbs(string(dest)) || !filepath.IsLocal(joined) {
		return fmt.Errorf("%w: symlink %q points to %q, outside the package: use a relative link inside the zip", runtime.ErrInvalidArtifact, f.Name, dest)
	}
	if err := os.Symlink(string(dest), target); err != nil {
		return fmt.Errorf("unpack %s: %w", f.Name, err)
	}
	return nil
}

// extractFile writes one file, readable by everyone (guests run under their
// own user id) and executable when the zip says so.
func extractFile(f *zip.File, target string, budget uint64) (uint64, error) {
	perm := os.FileMode(0o644)
	if f.Mode()&0o111 != 0 {
		perm = 0o755
	}
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("%w: entry %s: %v", runtime.ErrInvalidArtifact, f.Name, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, fmt.Errorf("%w: entry %s: %v (duplicate entry?)", runtime.ErrInvalidArtifact, f.Name, err)
	}
	// The declared sizes were checked, but a crafted zip may lie about
	// them: the budget bounds what is really written.
	n, err := io.Copy(out, io.LimitReader(rc, int64(budget)+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("%w: entry %s: %v", runtime.ErrInvalidArtifact, f.Name, err)
	}
	if uint64(n) > budget {
		return 0, fmt.Errorf("%w: the package unzips to more than %d bytes", runtime.ErrInvalidArtifact, maxUnzippedBytes)
	}
	// OpenFile's mode is filtered by the umask; the guest needs exactly perm.
	if err := os.Chmod(target, perm); err != nil {
		return 0, fmt.Errorf("unpack %s: %w", f.Name, err)
	}
	return uint64(n), nil
}

// entryPoint resolves what to run in the unpacked package dir: the
// bootstrap at its root if there is one (a custom runtime, handler passed
// in _HANDLER), else the handler's first word (an executable in the package,
// the other words its arguments).
func entryPoint(dir, handler string) (exe string, args []string, err error) {
	exe = "bootstrap"
	if _, serr := os.Lstat(filepath.Join(dir, exe)); serr != nil {
		fields := strings.Fields(handler)
		if len(fields) == 0 {
			return "", nil, fmt.Errorf("%w: the package has no bootstrap at its root: add an executable named bootstrap, or set the handler to the executable to run", runtime.ErrInvalidArtifact)
		}
		exe, args = fields[0], fields[1:]
	}
	if !filepath.IsLocal(exe) {
		return "", nil, fmt.Errorf("%w: handler executable %q must be a relative path inside the package", runtime.ErrInvalidArtifact, exe)
	}
	resolved, err := filepath.EvalSymlinks(filepath.Join(dir, exe))
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s is missing from the package: add it at that path in the zip", runtime.ErrInvalidArtifact, exe)
	}
	if rel, err := filepath.Rel(dir, resolved); err != nil || !filepath.IsLocal(rel) {
		return "", nil, fmt.Errorf("%w: %s resolves outside the package", runtime.ErrInvalidArtifact, exe)
	}
	st, err := os.Stat(resolved)
	switch {
	case err != nil:
		return "", nil, fmt.Errorf("%w: %s: %v", runtime.ErrInvalidArtifact, exe, err)
	case !st.Mode().IsRegular():
		return "", nil, fmt.Errorf("%w: %s is not a regular file", runtime.ErrInvalidArtifact, exe)
	case st.Mode()&0o111 == 0:
		return "", nil, fmt.Errorf("%w: %s is not executable: chmod +x it before zipping (zip keeps the mode)", runtime.ErrInvalidArtifact, exe)
	}
	return filepath.ToSlash(exe), args, nil
}

// ZipDir packs a directory as a deployment package, keeping file modes
// (the executable bit of bootstrap) and relative symlinks. The CLI uses it
// to deploy a directory.
func ZipDir(dir string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
			_, err = zw.CreateHeader(hdr)
			return err
		}
		hdr.Method = zip.Deflate
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			dest, err := os.Readlink(p)
			if err != nil {
				return err
			}
			_, err = io.WriteString(w, dest)
			return err
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("zip %s: %w", dir, err)
	}
	return buf.Bytes(), nil
}
