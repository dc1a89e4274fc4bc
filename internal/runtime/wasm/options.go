package wasm

import (
	"context"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// SnapshotMode says whether a function's instances start from a snapshot.
type SnapshotMode string

// The snapshot modes.
const (
	// SnapshotDefault follows Config.Snapshots.
	SnapshotDefault SnapshotMode = ""
	// SnapshotAuto restores reactors that have an _initialize from a
	// snapshot taken at Prepare, falling back to a normal init (with a log
	// line) when capture fails.
	SnapshotAuto SnapshotMode = "auto"
	// SnapshotOff initialises every instance.
	SnapshotOff SnapshotMode = "off"
)

// Options are a function's settings that only this runtime knows, beyond
// runtime.Spec.
type Options struct {
	Snapshot SnapshotMode
	// Recycle resets an instance to its snapshot before every invocation
	// but its first, so that nothing one request leaves in memory reaches
	// the next: the isolation of a fresh instance without a cold start.
	// It needs a snapshot; without one it is ignored with a log line.
	Recycle bool
}

// PrepareWith is Prepare with per-function options.
func (r *Runtime) PrepareWith(ctx context.Context, spec runtime.Spec, art runtime.Artifact, opts Options) (*Template, error) {
	return r.prepare(ctx, spec, art, opts)
}

func (r *Runtime) snapshotsFor(opts Options) bool {
	switch opts.Snapshot {
	case SnapshotAuto:
		return true
	case SnapshotOff:
		return false
	}
	return r.snapshots
}

// withSpec fills what opts leave to the function's config.
func withSpec(opts Options, spec runtime.Spec) Options {
	if opts.Snapshot == SnapshotDefault {
		opts.Snapshot = SnapshotMode(spec.Snapshot)
	}
	if spec.Isolation == "per-request" {
		opts.Recycle = true
	}
	return opts
}
