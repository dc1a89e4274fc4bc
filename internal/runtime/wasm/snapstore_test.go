package wasm_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
)

// snapFiles lists the snapshot files in dir by key.
func snapFiles(t *testing.T, dir string) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, de := range ents {
		out[de.Name()] = true
	}
	return out
}

// prepareSnap prepares the reactor test guest with snapshots on.
func prepareSnap(t *testing.T, r *wasm.Runtime, version int64) (*wasm.Template, wasm.SnapshotInfo) {
	t.Helper()
	tmpl, err := r.Prepare(context.Background(), runtime.Spec{Name: "fn", Version: version, Env: map[string]string{"GREETING": "howdy"}},
		runtime.Artifact{Bytes: guest(t, "testdata/reactor", false)})
	if err != nil {
		t.Fatal(err)
	}
	w := tmpl.(*wasm.Template)
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	info, ok := w.Snapshot()
	if !ok {
		t.Fatalf("no snapshot: %+v", info)
	}
	return w, info
}

// wantWorks checks that an instance restored from tmpl computes what the
// guest computes after a normal init.
func wantWorks(t *testing.T, tmpl *wasm.Template) {
	t.Helper()
	inst := spawn(t, tmpl)
	for _, s := range []struct{ path, want string }{{"/env", "howdy fn"}, {"/gc", "20000 10 closure 7"}, {"/count", "3"}} {
		resp, err := inst.Invoke(context.Background(), runtime.Request{Path: s.path})
		if err != nil || string(resp.Body) != s.want {
			t.Fatalf("%s = %q, %v: want %q", s.path, resp.Body, err, s.want)
		}
	}
}

// TestSnapshotFileReused checks that a snapshot captured by one runtime is
// loaded, not captured again, by the next one on the same directory (a node
// restart), and by a second template with the same inputs.
func TestSnapshotFileReused(t *testing.T) {
	dir := t.TempDir()
	first := newRuntime(t, wasm.Config{Snapshots: true, SnapshotDir: dir})
	tmpl, info := prepareSnap(t, first, 1)
	if info.Loaded || info.Key == "" || !snapFiles(t, dir)[info.Key+".snap"] {
		t.Fatalf("first prepare: %+v, files %v: want a captured snapshot saved as KEY.snap", info, snapFiles(t, dir))
	}
	_, again := prepareSnap(t, first, 1)
	if again.Key != info.Key {
		t.Fatalf("same inputs, keys %s and %s", info.Key, again.Key)
	}
	if st := first.SnapshotStats(); st.Captured != 1 {
		t.Fatalf("stats %+v: want one capture shared by two templates", st)
	}
	wantWorks(t, tmpl)
	_ = first.Close(context.Background())

	second := newRuntime(t, wasm.Config{Snapshots: true, SnapshotDir: dir})
	tmpl, info2 := prepareSnap(t, second, 1)
	if !info2.Loaded || info2.Key != info.Key || info2.Bytes != info.Bytes {
		t.Fatalf("after restart: %+v, want the snapshot %+v loaded from disk", info2, info)
	}
	if st := second.SnapshotStats(); st.Loaded != 1 || st.Captured != 0 {
		t.Fatalf("stats %+v: want one load and no capture", st)
	}
	wantWorks(t, tmpl)
}

// TestSnapshotFileCorrupt checks that a damaged snapshot file is detected,
// removed and captured again, never restored from.
func TestSnapshotFileCorrupt(t *testing.T) {
	tests := []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"image byte flipped", func(b []byte) []byte { b[len(b)-5000] ^= 0x40; return b }},
		{"module byte flipped", func(b []byte) []byte { b[200] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-4096] }},
		{"header only", func(b []byte) []byte { return b[:112] }},
		{"empty", func([]byte) []byte { return nil }},
		{"extended", func(b []byte) []byte { return append(b, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first := newRuntime(t, wasm.Config{Snapshots: true, SnapshotDir: dir})
			_, info := prepareSnap(t, first, 1)
			_ = first.Close(context.Background())
			path := filepath.Join(dir, info.Key+".snap")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}

			second := newRuntime(t, wasm.Config{Snapshots: true, SnapshotDir: dir})
			tmpl, info2 := prepareSnap(t, second, 1)
			if info2.Loaded {
				t.Fatalf("a damaged file was loaded: %+v", info2)
			}
			if st := second.SnapshotStats(); st.Corrupt != 1 || st.Captured != 1 {
				t.Fatalf("stats %+v: want the file found corrupt and the snapshot captured again", st)
			}
			wantWorks(t, tmpl)
			_ = second.Close(context.Background())

			// The rebuilt file is whole again.
			third := newRuntime(t, wasm.Config{Snapshots: true, SnapshotDir: dir})
			if _, info3 := prepareSnap(t, third, 1); !info3.Loaded {
				t.Fatalf("the rebuilt file did not load: %+v", info3)
			}
		})
	}
}

// TestSnapshotNewVersion checks that a new version gets its own snapshot and
// that the old one is removed once no template uses it for the grace
// period, and not while one does.
func TestSnapshotNewVersion(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(time.Unix(0, 0))
	r := newRuntime(t, wasm.Config{Snapshots: true, SnapshotDir: dir, Clock: clk, SnapshotGrace: time.Minute})
	v1, info1 := prepareSnap(t, r, 1)
	v2, info2 := prepareSnap(t, r, 2)
	if info1.Key == info2.Key {
		t.Fatal("versions 1 and 2 share a snapshot key, but their guests see different HEARTH_VERSION")
	}
	inst := spawn(t, v1) // outlives its template
	clk.Advance(time.Hour)
	if files := snapFiles(t, dir); !files[info1.Key+".snap"] || !files[info2.Key+".snap"] {
		t.Fatalf("files %v: a snapshot in use was removed", files)
	}

	_ = v1.Close(context.Background())
	clk.Advance(30 * time.Second)
	if !snapFiles(t, dir)[info1.Key+".snap"] {
		t.Fatal("the old snapshot was removed before the grace period ended")
	}
	clk.Advance(30 * time.Second)
	files := snapFiles(t, dir)
	if files[info1.Key+".snap"] || !files[info2.Key+".snap"] {
		t.Fatalf("files %v: want only version 2's snapshot", files)
	}
	if st := r.SnapshotStats(); st.Removed != 1 {
		t.Fatalf("stats %+v: want one removal", st)
	}
	// The instance restored from the removed snapshot keeps working.
	resp, err := inst.Invoke(context.Background(), runtime.Request{Path: "/gc"})
	if err != nil || string(resp.Body) != "20000 10 closure 7" {
		t.Fatalf("instance of the removed snapshot: %q, %v", resp.Body, err)
	}
	wantWorks(t, v2)
}

// TestSnapshotRollbackWithinGrace checks that a template taking up a
// snapshot in its grace period keeps it.
func TestSnapshotRollbackWithinGrace(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(time.Unix(0, 0))
	r := newRuntime(t, wasm.Config{Snapshots: true, SnapshotDir: dir, Clock: clk, SnapshotGrace: time.Minute})
	v1, info := prepareSnap(t, r, 1)
	_ = v1.Close(context.Background())
	clk.Advance(59 * time.Second)
	_, again := prepareSnap(t, r, 1)
	clk.Advance(time.Hour)
	if !snapFiles(t, dir)[info.Key+".snap"] {
		t.Fatal("a snapshot taken up again was removed")
	}
	if st := r.SnapshotStats(); st.Captured != 1 || again.Key != info.Key {
		t.Fatalf("stats %+v: want the snapshot reused, not captured again", st)
	}
}

// TestSnapshotSweepOnStart checks that files left by a previous run are
// removed unless a template takes them up: at once by SweepSnapshots, or
// after the grace period.
func TestSnapshotSweepOnStart(t *testing.T) {
	dir := t.TempDir()
	first := newRuntime(t, wasm.Config{Snapshots: true, SnapshotDir: dir})
	_, info1 := prepareSnap(t, first, 1)
	_, info2 := prepareSnap(t, first, 2)
	_ = first.Close(context.Background())
	if err := os.WriteFile(filepath.Join(dir, "leftover.snap.123.tmp"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, sweep := range []bool{true, false} {
		clk := clock.NewFake(time.Unix(0, 0))
		r := newRuntime(t, wasm.Config{Snapshots: true, SnapshotDir: dir, Clock: clk, SnapshotGrace: time.Minute})
		if files := snapFiles(t, dir); len(files) != 2 && sweep {
			t.Fatalf("files at start %v: want the temporary file gone", files)
		}
		_, info := prepareSnap(t, r, 2)
		if !info.Loaded {
			t.Fatalf("%+v: want version 2's snapshot loaded", info)
		}
		if sweep {
			n, err := r.SweepSnapshots(context.Background())
			if err != nil || n != 1 {
				t.Fatalf("SweepSnapshots = %d, %v: want 1 removed", n, err)
			}
			// Capture version 1's again for the next round.
			_, _ = prepareSnap(t, r, 1)
		} else {
			clk.Advance(time.Minute)
		}
		files := snapFiles(t, dir)
		if !sweep && (files[info1.Key+".snap"] || !files[info2.Key+".snap"]) {
			t.Fatalf("files %v: want only version 2's after the grace", files)
		}
		if sweep && (!files[info1.Key+".snap"] || !files[info2.Key+".snap"]) {
			t.Fatalf("files %v: want both again", files)
		}
		_ = r.Close(context.Background())
	}
}
