package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// Deploy validates and compiles artifact, records it as a new version of
// name and makes that version serve invocations. Nothing is stored when the
// config or the artifact is invalid.
func (n *Node) Deploy(ctx context.Context, name string, cfg registry.Config, artifact []byte) (registry.Function, error) {
	if err := registry.ValidateName(name); err != nil {
		return registry.Function{}, err
	}
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return registry.Function{}, err
	}
	// Compile once before storing, so an invalid artifact is refused whole.
	// The compile cache makes the second Prepare in activate cheap.
	probe := registry.Function{Name: name, Config: cfg, Digest: registry.Digest(artifact)}
	tmpl, err := n.dispatcher.Prepare(ctx, probe, artifact)
	if err != nil {
		return registry.Function{}, err
	}
	if err := tmpl.Close(ctx); err != nil {
		return registry.Function{}, fmt.Errorf("release probe template: %w", err)
	}
	fn, err := n.registry.Put(ctx, name, cfg, artifact)
	if err != nil {
		return registry.Function{}, err
	}
	tmpl, err = n.dispatcher.Prepare(ctx, fn, artifact)
	if err != nil {
		return registry.Function{}, err
	}
	n.dispatcher.Activate(fn, tmpl)
	n.cfg.Logger.Info("deployed", "function", fn.Name, "version", fn.Version, "digest", fn.Digest[:12], "bytes", fn.Size)
	return fn, nil
}

// Get returns a function's current version.
func (n *Node) Get(ctx context.Context, name string) (registry.Function, error) {
	return n.registry.Get(ctx, name)
}

// List returns every function's current version.
func (n *Node) List(ctx context.Context) ([]registry.Function, error) {
	return n.registry.List(ctx)
}

// Delete removes a function; invocations in flight finish.
func (n *Node) Delete(ctx context.Context, name string) error {
	if err := n.registry.Delete(ctx, name); err != nil {
		return err
	}
	n.dispatcher.Deactivate(name)
	n.logs.Forget(name)
	n.cfg.Logger.Info("deleted", "function", name)
	return nil
}

// Invoke runs one invocation synchronously.
func (n *Node) Invoke(ctx context.Context, name string, req runtime.Request) (*invoke.Result, error) {
	res, err := n.dispatcher.Invoke(ctx, name, req)
	if errors.Is(err, invoke.ErrNotFound) {
		if verr := registry.ValidateName(name); verr != nil {
			return nil, verr
		}
	}
	return res, err
}
