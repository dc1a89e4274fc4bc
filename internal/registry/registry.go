package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hearth-sh/hearth/internal/clock"
)

// Bucket names on the backbone.
const (
	functionsBucket = "hearth_functions" // name -> latest Function
	versionsBucket  = "hearth_versions"  // name.version -> Function (immutable)
	artifactsBucket = "hearth_artifacts" // digest -> artifact bytes
)

// ErrNotFound: no such function or version.
var ErrNotFound = errors.New("function not found")

// Registry stores functions on JetStream.
type Registry struct {
	functions jetstream.KeyValue
	versions  jetstream.KeyValue
	artifacts jetstream.ObjectStore
	clock     clock.Clock
}

// Open creates (or opens) the registry's buckets.
func Open(ctx context.Context, js jetstream.JetStream, clk clock.Clock) (*Registry, error) {
	fns, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: functionsBucket, History: 1})
	if err != nil {
		return nil, fmt.Errorf("registry bucket %s: %w", functionsBucket, err)
	}
	vers, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: versionsBucket, History: 1})
	if err != nil {
		return nil, fmt.Errorf("registry bucket %s: %w", versionsBucket, err)
	}
	arts, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: artifactsBucket})
	if err != nil {
		return nil, fmt.Errorf("registry object store %s: %w", artifactsBucket, err)
	}
	return &Registry{functions: fns, versions: vers, artifacts: arts, clock: clk}, nil
}

// Digest returns the hex SHA-256 of an artifact.
func Digest(artifact []byte) string {
	sum := sha256.Sum256(artifact)
	return hex.EncodeToString(sum[:])
}

// Put stores artifact and records a new version of the function name with
// cfg. Versions count up from 1 and are never reused, even across deletes
// of other functions; concurrent deploys of one name each get their own.
func (r *Registry) Put(ctx context.Context, name string, cfg Config, artifact []byte) (Function, error) {
	if err := ValidateName(name); err != nil {
		return Function{}, err
	}
	digest := Digest(artifact)
	if _, err := r.artifacts.GetInfo(ctx, digest); errors.Is(err, jetstream.ErrObjectNotFound) {
		if _, err := r.artifacts.Put(ctx, jetstream.ObjectMeta{Name: digest}, bytes.NewReader(artifact)); err != nil {
			return Function{}, fmt.Errorf("store artifact %s: %w", digest[:12], err)
		}
	} else if err != nil {
		return Function{}, fmt.Errorf("look up artifact %s: %w", digest[:12], err)
	}
	// The current-version key is the point of agreement: a deploy wins its
	// version number by a compare-and-set on it, and only the winner then
	// writes the immutable version record, so concurrent deploys never
	// share or skip a number.
	for {
		fn := Function{Name: name, Config: cfg, Digest: digest, Size: int64(len(artifact)), CreatedAt: r.clock.Now().UTC()}
		prev, rev, err := r.latest(ctx, name)
		switch {
		case errors.Is(err, ErrNotFound):
			fn.Version = r.nextAfterDelete(ctx, name)
		case err != nil:
			return Function{}, err
		default:
			fn.Version = prev.Version + 1
		}
		b, err := json.Marshal(fn)
		if err != nil {
			return Function{}, fmt.Errorf("encode function %s: %w", name, err)
		}
		if rev == 0 {
			_, err = r.functions.Create(ctx, name, b)
		} else {
			_, err = r.functions.Update(ctx, name, b, rev)
		}
		if isConflict(err) {
			continue // another deploy took this number; read the new current version
		}
		if err != nil {
			return Function{}, fmt.Errorf("publish version %d of %s: %w", fn.Version, name, err)
		}
		if _, err := r.versions.Put(ctx, versionKey(name, fn.Version), b); err != nil {
			return Function{}, fmt.Errorf("record version %d of %s: %w", fn.Version, name, err)
		}
		return fn, nil
	}
}

// nextAfterDelete numbers the first version of a function that may have
// existed before: versions continue after any left in the versions bucket.
func (r *Registry) nextAfterDelete(ctx context.Context, name string) int64 {
	var max int64
	for _, v := range r.versionsOf(ctx, name) {
		if v > max {
			max = v
		}
	}
	return max + 1
}

func (r *Registry) versionsOf(ctx context.Context, name string) []int64 {
	lister, err := r.versions.ListKeysFiltered(ctx, name+".*")
	if err != nil {
		return nil
	}
	var out []int64
	for k := range lister.Keys() {
		var v int64
		if _, err := fmt.Sscanf(strings.TrimPrefix(k, name+"."), "%d", &v); err == nil {
			out = append(out, v)
		}
	}
	return out
}

func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence)
}

func versionKey(name string, version int64) string { return fmt.Sprintf("%s.%d", name, version) }

func (r *Registry) latest(ctx context.Context, name string) (Function, uint64, error) {
	e, err := r.functions.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Function{}, 0, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return Function{}, 0, fmt.Errorf("read function %s: %w", name, err)
	}
	var fn Function
	if err := json.Unmarshal(e.Value(), &fn); err != nil {
		return Function{}, 0, fmt.Errorf("decode function %s: %w", name, err)
	}
	return fn, e.Revision(), nil
}

// Get returns the current version of a function.
func (r *Registry) Get(ctx context.Context, name string) (Function, error) {
	fn, _, err := r.latest(ctx, name)
	return fn, err
}

// Version returns one version of a function.
func (r *Registry) Version(ctx context.Context, name string, version int64) (Function, error) {
	e, err := r.versions.Get(ctx, versionKey(name, version))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Function{}, fmt.Errorf("%w: %s version %d", ErrNotFound, name, version)
	}
	if err != nil {
		return Function{}, fmt.Errorf("read %s version %d: %w", name, version, err)
	}
	var fn Function
	if err := json.Unmarshal(e.Value(), &fn); err != nil {
		return Function{}, fmt.Errorf("decode %s version %d: %w", name, version, err)
	}
	return fn, nil
}

// List returns the current version of every function, by name.
func (r *Registry) List(ctx context.Context) ([]Function, error) {
	lister, err := r.functions.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("list functions: %w", err)
	}
	var names []string
	for k := range lister.Keys() {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]Function, 0, len(names))
	for _, n := range names {
		fn, err := r.Get(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue // deleted while listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, fn)
	}
	return out, nil
}

// Artifact returns the bytes of the artifact with the given digest.
func (r *Registry) Artifact(ctx context.Context, digest string) ([]byte, error) {
	b, err := r.artifacts.GetBytes(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("read artifact %s: %w", digest, err)
	}
	return b, nil
}

// Delete removes a function. Its version records stay so that a function
// created later under the same name never reuses a version number; its
// artifact stays in the content-addressed store (other versions may share it).
func (r *Registry) Delete(ctx context.Context, name string) error {
	if _, _, err := r.latest(ctx, name); err != nil {
		return err
	}
	if err := r.functions.Purge(ctx, name); err != nil {
		return fmt.Errorf("delete function %s: %w", name, err)
	}
	return nil
}

// Change is an update seen by Watch: a new current version, or a delete.
type Change struct {
	Name     string
	Function Function // zero when Deleted
	Deleted  bool
}

// Watch calls fn for every change to the set of current versions made after
// the call, by this node or any other, until ctx ends. It is how the nodes of
// a cluster learn of each other's deploys.
func (r *Registry) Watch(ctx context.Context, fn func(Change)) error {
	w, err := r.functions.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		return fmt.Errorf("watch functions: %w", err)
	}
	go func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue
				}
				if e.Operation() != jetstream.KeyValuePut {
					fn(Change{Name: e.Key(), Deleted: true})
					continue
				}
				var f Function
				if err := json.Unmarshal(e.Value(), &f); err != nil {
					continue // not ours to interpret; Get reports it
				}
				fn(Change{Name: e.Key(), Function: f})
			}
		}
	}()
	return nil
}
