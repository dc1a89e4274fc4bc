package wasm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
)

// DefaultSnapshotGrace is how long a snapshot file no template uses is kept
// before it is removed (Config.SnapshotGrace).
const DefaultSnapshotGrace = 5 * time.Minute

// storedSnapshot is one snapshot key's entry in the runtime: loaded or
// captured once, shared by every template with that key.
//
// Invariant (under Runtime.mu): refs counts the open templates using the
// entry; expiry is set only while refs is 0, and the entry leaves
// Runtime.snaps (and its file is removed) only when expiry fires with refs
// still 0.
type storedSnapshot struct {
	key    string
	refs   int
	expiry clock.Timer
	// ready is closed once snap or err is set.
	ready chan struct{}
	snap  *snapshot
	err   error
	// loaded tells that snap came from the snapshot directory rather than
	// a capture in this process.
	loaded bool
}

// SnapshotStats counts what the runtime did with snapshots since it
// started; the node exports them as metrics.
type SnapshotStats struct {
	// Captured snapshots ran the function's init; Loaded ones were read
	// from the snapshot directory (a node restart, another version with the
	// same inputs).
	Captured, Loaded int64
	// Failed captures left their templates initialising normally.
	Failed int64
	// Corrupt files failed verification and were removed and captured
	// again.
	Corrupt int64
	// Removed files were no longer used by any template.
	Removed int64
}

// SnapshotStats returns the runtime's snapshot counters.
func (r *Runtime) SnapshotStats() SnapshotStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapStats
}

// acquireSnapshot returns the snapshot for t under key, sharing one with
// other templates of the same key, loading it from the snapshot directory
// or capturing it. The caller releases it with releaseSnapshot.
func (r *Runtime) acquireSnapshot(ctx context.Context, t *Template, key string, code []byte) (*storedSnapshot, error) {
	r.mu.Lock()
	e, ok := r.snaps[key]
	if ok {
		e.refs++
		if e.expiry != nil {
			e.expiry.Stop()
			e.expiry = nil
		}
		r.mu.Unlock()
		<-e.ready
		if e.err != nil {
			// The failed entry already left r.snaps: nothing to release.
			return nil, e.err
		}
		return e, nil
	}
	if tm, ok := r.orphans[key]; ok {
		tm.Stop()
		delete(r.orphans, key)
	}
	e = &storedSnapshot{key: key, refs: 1, ready: make(chan struct{})}
	r.snaps[key] = e
	r.mu.Unlock()

	// Loading and capturing run outside the lock: a capture runs the
	// function's init, which may take seconds; templates of the same key
	// wait on ready instead.
	e.snap, e.loaded, e.err = r.loadOrCapture(ctx, t, key, code)
	r.mu.Lock()
	switch {
	case e.err != nil:
		r.snapStats.Failed++
		// A later Prepare tries again rather than inheriting this error.
		delete(r.snaps, key)
	case e.loaded:
		r.snapStats.Loaded++
	default:
		r.snapStats.Captured++
	}
	r.mu.Unlock()
	close(e.ready)
	if e.err != nil {
		return nil, e.err
	}
	return e, nil
}

func (r *Runtime) loadOrCapture(ctx context.Context, t *Template, key string, code []byte) (*snapshot, bool, error) {
	if r.snapDir != "" {
		p, err := readSnapshotFile(r.snapDir, key)
		switch {
		case err == nil:
			if uint64(len(p.image)) > t.memoryLimit() {
				return nil, false, fmt.Errorf("the snapshot's memory (%d MiB) is over the function's limit of %d MiB", len(p.image)>>20, t.memoryLimit()>>20)
			}
			s, err := r.newSnapshot(ctx, p)
			if err == nil {
				s.key = key
				return s, true, nil
			}
			r.log.Warn("wasm snapshot file does not restore; capturing it again", "file", snapshotPath(r.snapDir, key), "err", err)
		case errors.Is(err, errCorrupt):
			r.mu.Lock()
			r.snapStats.Corrupt++
			r.mu.Unlock()
			r.log.Warn("wasm snapshot file is corrupt; removing it and capturing again",
				"function", t.spec.Name, "version", t.spec.Version, "file", snapshotPath(r.snapDir, key), "err", err)
		case !errors.Is(err, fs.ErrNotExist):
			r.log.Warn("wasm snapshot file unreadable; capturing again", "file", snapshotPath(r.snapDir, key), "err", err)
		}
		_ = os.Remove(snapshotPath(r.snapDir, key))
	}
	p, err := t.capture(ctx, code)
	if err != nil {
		return nil, false, err
	}
	s, err := r.newSnapshot(ctx, p)
	if err != nil {
		return nil, false, err
	}
	s.key = key
	if r.snapDir != "" {
		// A snapshot that cannot be written still serves this process.
		if err := writeSnapshotFile(r.snapDir, key, p); err != nil {
			r.log.Warn("wasm snapshot not saved; it will be captured again after a restart", "function", t.spec.Name, "err", err)
		}
	}
	return s, false, nil
}

// releaseSnapshot drops a template's reference. The last one does not
// remove the snapshot at once: a node that stops closes every template
// first, and its snapshots must survive for the next start; a rollback may
// want it again. It is removed after the grace period unless a template
// takes it up again, and Close cancels pending removals.
func (r *Runtime) releaseSnapshot(ctx context.Context, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.snaps[key]
	if !ok {
		return
	}
	if e.refs--; e.refs > 0 || r.closed {
		return
	}
	e.expiry = r.clock.AfterFunc(r.snapGrace, func() { r.expireSnapshot(ctx, e) })
}

// expireSnapshot removes e if no template took it up during the grace.
func (r *Runtime) expireSnapshot(ctx context.Context, e *storedSnapshot) {
	r.mu.Lock()
	if r.closed || e.refs > 0 || r.snaps[e.key] != e {
		r.mu.Unlock()
		return
	}
	delete(r.snaps, e.key)
	r.mu.Unlock()
	if e.snap != nil {
		e.snap.release(ctx)
	}
	r.removeSnapshotFile(e.key)
}

func (r *Runtime) removeSnapshotFile(key string) {
	if r.snapDir == "" {
		return
	}
	err := os.Remove(snapshotPath(r.snapDir, key))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		r.log.Warn("remove unused wasm snapshot", "key", key, "err", err)
		return
	}
	r.mu.Lock()
	r.snapStats.Removed++
	r.mu.Unlock()
	r.log.Info("removed unused wasm snapshot", "key", key)
}

// openSnapshotDir prepares the snapshot directory at New: it removes
// temporary files a crash left, and schedules the removal of every
// snapshot after the grace period unless a template takes it up by then
// (the node prepares its functions right after starting).
func (r *Runtime) openSnapshotDir() error {
	if err := os.MkdirAll(r.snapDir, 0o755); err != nil {
		return fmt.Errorf("wasm snapshot directory: %w", err)
	}
	ents, err := os.ReadDir(r.snapDir)
	if err != nil {
		return fmt.Errorf("wasm snapshot directory: %w", err)
	}
	for _, de := range ents {
		name := de.Name()
		switch {
		case strings.HasSuffix(name, ".tmp"):
			_ = os.Remove(filepath.Join(r.snapDir, name))
		case strings.HasSuffix(name, snapSuffix):
			key := strings.TrimSuffix(name, snapSuffix)
			r.orphans[key] = r.clock.AfterFunc(r.snapGrace, func() { r.expireOrphan(key) })
		}
	}
	return nil
}

func (r *Runtime) expireOrphan(key string) {
	r.mu.Lock()
	_, used := r.snaps[key]
	_, pending := r.orphans[key]
	delete(r.orphans, key)
	closed := r.closed
	r.mu.Unlock()
	if !used && pending && !closed {
		r.removeSnapshotFile(key)
	}
}

// SweepSnapshots removes, at once, every snapshot file that no open
// template uses, and reports how many it removed. A node calls it once it
// has prepared its active functions after a start, instead of waiting for
// the grace period.
func (r *Runtime) SweepSnapshots(ctx context.Context) (int, error) {
	if r.snapDir == "" {
		return 0, nil
	}
	ents, err := os.ReadDir(r.snapDir)
	if err != nil {
		return 0, fmt.Errorf("sweep wasm snapshots: %w", err)
	}
	removed := 0
	for _, de := range ents {
		key, ok := strings.CutSuffix(de.Name(), snapSuffix)
		if !ok {
			continue
		}
		r.mu.Lock()
		e, used := r.snaps[key]
		if used && e.refs == 0 {
			// Unused, in its grace period: sweep it now.
			if e.expiry != nil {
				e.expiry.Stop()
			}
			delete(r.snaps, key)
			used = false
		} else {
			e = nil
		}
		if tm, ok := r.orphans[key]; ok {
			tm.Stop()
			delete(r.orphans, key)
		}
		r.mu.Unlock()
		if used {
			continue
		}
		if e != nil && e.snap != nil {
			e.snap.release(ctx)
		}
		r.removeSnapshotFile(key)
		removed++
	}
	return removed, nil
}

// closeSnapshots cancels pending removals (files stay for the next start)
// and releases every loaded snapshot.
func (r *Runtime) closeSnapshots(ctx context.Context) {
	r.mu.Lock()
	r.closed = true
	var all []*storedSnapshot
	for _, e := range r.snaps {
		if e.expiry != nil {
			e.expiry.Stop()
		}
		all = append(all, e)
	}
	for _, tm := range r.orphans {
		tm.Stop()
	}
	r.snaps, r.orphans = map[string]*storedSnapshot{}, map[string]clock.Timer{}
	r.mu.Unlock()
	for _, e := range all {
		select {
		case <-e.ready:
			if e.snap != nil {
				e.snap.release(ctx)
			}
		default:
		}
	}
}
