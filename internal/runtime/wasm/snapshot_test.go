package wasm_test

import (
	"context"
	"testing"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
)

// TestSnapshotRestore checks that instances restored from a snapshot
// compute what normally initialised ones compute, keep their own memory,
// and skip the guest's init.
func TestSnapshotRestore(t *testing.T) {
	code := guest(t, "testdata/reactor", false)
	var rec logRecorder
	spec := runtime.Spec{Env: map[string]string{"GREETING": "howdy"}, Log: rec.log}
	snapRT := newRuntime(t, wasm.Config{Snapshots: true})
	restored := prepare(t, snapRT, spec, code)
	info, ok := restored.Snapshot()
	if !ok || info.Bytes == 0 {
		t.Fatalf("Snapshot() = %+v, %v: want a snapshot of a Go reactor", info, ok)
	}
	normal := prepare(t, newRuntime(t, wasm.Config{}), runtime.Spec{Env: spec.Env}, code)
	if _, ok := normal.Snapshot(); ok {
		t.Fatal("a runtime without Config.Snapshots made a snapshot")
	}

	initLines := len(rec.all())
	a, b, n := spawn(t, restored), spawn(t, restored), spawn(t, normal)
	if got := len(rec.all()); got != initLines {
		t.Fatalf("restored instances ran init again: %d log lines, want %d", got, initLines)
	}
	steps := []struct {
		path string
		want string
	}{
		{"/env", "howdy fn"},
		{"/count", "2"},
		{"/gc", "20000 10 closure 7"},
		{"/count", "4"},
		{"/goroutine", "worker 1"},
		{"/goroutine", "worker 2"},
		{"/gc", "20000 10 closure 7"},
		{"/count", "8"},
	}
	for _, s := range steps {
		for name, inst := range map[string]runtime.Instance{"restored": a, "normal": n} {
			resp, err := inst.Invoke(context.Background(), runtime.Request{Path: s.path})
			if err != nil {
				t.Fatalf("%s %s: %v", name, s.path, err)
			}
			if string(resp.Body) != s.want {
				t.Fatalf("%s %s = %q, want %q", name, s.path, resp.Body, s.want)
			}
		}
	}
	for inst, want := range map[runtime.Instance]string{a: "1", n: "0"} {
		resp, err := inst.Invoke(context.Background(), runtime.Request{Path: "/restores"})
		if err != nil || string(resp.Body) != want {
			t.Fatalf("OnRestore ran %q times, %v: want %s", resp.Body, err, want)
		}
	}
	// b was restored from the same image but has not seen a's requests.
	resp, err := b.Invoke(context.Background(), runtime.Request{Path: "/count"})
	if err != nil || string(resp.Body) != "1" {
		t.Fatalf("second restored instance /count = %q, %v: want 1 (instances must not share memory)", resp.Body, err)
	}
}

// TestSnapshotLimits checks that a restored instance keeps the function's
// memory limit.
func TestSnapshotLimits(t *testing.T) {
	r := newRuntime(t, wasm.Config{Snapshots: true})
	tmpl := prepare(t, r, runtime.Spec{MemoryBytes: 64 << 20}, guest(t, "testdata/reactor", false))
	inst := spawn(t, tmpl)
	_, err := inst.Invoke(context.Background(), runtime.Request{Path: "/alloc"})
	check(t, runtime.Response{}, err, outcome{err: runtime.ErrMemoryLimit, errSubstr: "of 64 MiB"})
}

// TestRecycle checks that in recycle mode nothing one invocation leaves in
// memory reaches the next, including after the memory grew (the instance
// is replaced by a fresh restore).
func TestRecycle(t *testing.T) {
	r := newRuntime(t, wasm.Config{})
	tmpl, err := r.PrepareWith(context.Background(), runtime.Spec{Name: "fn"}, runtime.Artifact{Bytes: guest(t, "testdata/reactor", false)},
		wasm.Options{Snapshot: wasm.SnapshotAuto, Recycle: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tmpl.Close(context.Background())
	inst := spawn(t, tmpl)
	for _, s := range []struct{ path, want string }{
		{"/count", "1"}, {"/count", "1"}, {"/gc", "20000 10 closure 7"}, {"/count", "1"}, {"/echo", ""}, {"/count", "1"},
		{"/grow", "1"}, {"/count", "1"}, {"/grow", "1"}, {"/grow", "1"}, {"/count", "1"},
	} {
		resp, err := inst.Invoke(context.Background(), runtime.Request{Path: s.path})
		if err != nil {
			t.Fatalf("%s: %v", s.path, err)
		}
		if s.want != "" && string(resp.Body) != s.want {
			t.Fatalf("%s = %q, want %q", s.path, resp.Body, s.want)
		}
	}
	info, _ := tmpl.Snapshot()
	if info.Resets != 10 || info.ResetPages == 0 {
		t.Fatalf("Snapshot() reports %d resets copying %d pages back, want 10 resets copying some", info.Resets, info.ResetPages)
	}
}
