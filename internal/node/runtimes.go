package node

import (
	"context"
	"path/filepath"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/process"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
)

// builtinRuntimes starts the runtimes this node offers.
func (n *Node) builtinRuntimes(ctx context.Context) (map[string]runtime.Runtime, error) {
	w, err := wasm.New(ctx, wasm.Config{CacheDir: filepath.Join(n.cfg.DataDir, "cache", "wasm"), Logger: n.cfg.Logger, Host: n,
		Snapshots: true, SnapshotDir: filepath.Join(n.cfg.DataDir, "snapshots")})
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, w.Close)
	n.wasm = w
	// The process runtime keeps real time: with a fake clock its init
	// timeout would never fire.
	p, err := process.New(ctx, process.Config{DataDir: filepath.Join(n.cfg.DataDir, "process"), Logger: n.cfg.Logger})
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, p.Close)
	return map[string]runtime.Runtime{string(runtime.KindWasm): w, string(runtime.KindProcess): p}, nil
}
