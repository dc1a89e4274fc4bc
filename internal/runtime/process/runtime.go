// Package process runs existing AWS Lambda functions unmodified, in any
// language: each instance is a process speaking the Lambda Runtime API
// (the protocol of provided.al2023 custom runtimes and of the official
// runtime clients such as github.com/aws/aws-lambda-go), which hearth serves
// to it.
//
// A Runtime unpacks a deployment package (a zip with a bootstrap executable
// at its root, or any executable named by the handler) once per artifact
// digest, and a *Template starts instances from it. Where the host allows
// (root, Linux), every instance runs in its own PID, mount, IPC, UTS and
// network namespaces, chrooted into a root that holds the host's system
// directories read-only, its package read-only at /var/task, a private
// size-bounded /tmp, a minimal /dev and a /proc that shows only its own
// processes; it runs under a user id of its own, with its memory and
// process count bounded by a cgroup (v1 or v2). See docs/process.md for what
// is and is not isolated.
//
// # Cold-start phases
//
// Spawn reports Provision (cgroup, namespaces, root file system and the
// fork/exec of the guest), Runtime (from exec until the guest first connects
// to the Runtime API: the language runtime's start and the function's own
// init code, which for aws-lambda-go runs before lambda.Start) and Init
// (from that connection until the guest waits on its first
// /invocation/next).
package process

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// Config configures a Runtime. Only DataDir is required.
type Config struct {
	// DataDir holds the unpacked packages (code/<digest>) and the empty
	// directory where each sandbox mounts its root. It must not be the
	// node's data directory itself but may be inside it: sandboxed guests
	// never see it.
	DataDir string
	// Logger receives the runtime's own diagnostics. Nil uses slog.Default().
	Logger *slog.Logger
	// Clock times phases and the init timeout. Nil uses the wall clock.
	Clock clock.Clock
	// NoSandbox runs guests as plain child processes of hearth (no
	// namespaces, no chroot, hearth's own user id), even where a sandbox is
	// possible. For development only.
	NoSandbox bool
	// Network gives guests the host's network. By default a sandboxed guest
	// has a network namespace of its own whose only interface is a loopback
	// that reaches the Runtime API and nothing else.
	Network bool
	// TmpBytes bounds each instance's private /tmp (default 512 MiB, as
	// Lambda's default ephemeral storage). The pages count against the
	// instance's memory limit.
	TmpBytes int64
	// SpareSandboxes is how many sandboxes (namespaces, root, loopback) are
	// kept built ahead of cold starts; 0 means 2, negative means none.
	SpareSandboxes int
	// InitTimeout bounds a cold start: from exec until the guest waits on
	// its first /invocation/next (default 10 s, as Lambda's init limit).
	InitTimeout time.Duration
	// Region is what guests see as AWS_REGION and in their function ARN
	// (default us-east-1: AWS SDKs in guests insist on some region).
	Region string
	// UIDBase is the first of the 65536 user ids given to sandboxed
	// instances, one per instance (default 200000).
	UIDBase int
}

// Sandbox says what isolation this host gives instances.
type Sandbox struct {
	// Namespaces is true when instances get their own PID, mount, IPC, UTS
	// and network namespaces, a chroot and their own user id.
	Namespaces bool
	// NamespacesReason says why not, when Namespaces is false.
	NamespacesReason string
	// Cgroup is the hierarchy that limits instance memory, or CgroupNone.
	Cgroup CgroupVersion
	// CgroupReason says why there is no memory limit, when Cgroup is none.
	CgroupReason string
}

// Runtime starts Lambda Runtime API processes. It implements
// runtime.Runtime and is safe for concurrent use.
//
// # Notes
//
// Close it after the templates and instances made from it: it kills any
// process still running.
type Runtime struct {
	cfg       Config
	log       *slog.Logger
	clock     clock.Clock
	sandbox   Sandbox
	cgroups   *cgroups
	codeRoot  string          // unpacked packages, by digest
	rootMount string          // where each sandbox mounts its root (in its own mount namespace)
	spares    *spareSandboxes // nil without namespaces
	seq       atomic.Uint64

	unpackMu sync.Mutex // one unpack at a time: deploys are rare, races are not worth it

	mu     sync.Mutex
	procs  map[*proc]struct{}
	closed bool
}

var _ runtime.Runtime = (*Runtime)(nil)

// New prepares the runtime's directories, finds out what isolation the host
// offers and logs it: namespaces or not, cgroup v1, v2 or none.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("process runtime: a data directory is required")
	}
	if cfg.TmpBytes <= 0 {
		cfg.TmpBytes = 512 << 20
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = 10 * time.Second
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.UIDBase <= 0 {
		cfg.UIDBase = 200000
	}
	r := &Runtime{cfg: cfg, log: cfg.Logger, clock: cfg.Clock, procs: map[*proc]struct{}{},
		codeRoot: filepath.Join(cfg.DataDir, "code"), rootMount: filepath.Join(cfg.DataDir, "rootfs")}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.clock == nil {
		r.clock = clock.Real{}
	}
	for _, d := range []string{r.codeRoot, r.rootMount} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("process runtime: %w", err)
		}
	}
	if cfg.NoSandbox {
		r.sandbox.NamespacesReason = "disabled by configuration"
	} else if err := probeSandbox(r.rootMount, r.codeRoot); err != nil {
		r.sandbox.NamespacesReason = err.Error()
	} else {
		r.sandbox.Namespaces = true
		if cfg.SpareSandboxes >= 0 {
			r.spares = newSpareSandboxes(r.rootMount, cfg.Network, cfg.TmpBytes, cmp.Or(cfg.SpareSandboxes, 2), r.log)
		}
	}
	cg, reason := detectCgroups()
	r.cgroups = cg
	r.sandbox.Cgroup, r.sandbox.CgroupReason = cg.version, reason
	r.report(ctx)
	return r, nil
}

// report logs, once at start, what isolation instances get.
func (r *Runtime) report(ctx context.Context) {
	s := r.sandbox
	network := "own namespace, loopback only"
	if r.cfg.Network || !s.Namespaces {
		network = "host"
	}
	if s.Namespaces {
		r.log.InfoContext(ctx, "process runtime: instances run in pid, mount, ipc, uts and net namespaces, chrooted, each under its own uid",
			"network", network, "tmp_bytes", r.cfg.TmpBytes)
	} else {
		r.log.WarnContext(ctx, "process runtime: NO SANDBOX: instances run as plain child processes of hearth with its user id, file system and network",
			"reason", s.NamespacesReason)
	}
	if s.Cgroup == CgroupNone {
		r.log.WarnContext(ctx, "process runtime: NO MEMORY LIMIT: no usable cgroup hierarchy, instances' memory is not bounded", "reason", s.CgroupReason)
	} else {
		r.log.InfoContext(ctx, "process runtime: instance memory and process count limited by cgroups", "cgroup", string(s.Cgroup))
	}
}

// Sandbox reports the isolation instances get on this host.
func (r *Runtime) Sandbox() Sandbox { return r.sandbox }

// Prepare unpacks the package (once per digest) and checks that it holds
// an executable entry point. Errors about the package wrap
// runtime.ErrInvalidArtifact and say what to fix. The returned
// runtime.Template is a *Template.
func (r *Runtime) Prepare(ctx context.Context, spec runtime.Spec, art runtime.Artifact) (runtime.Template, error) {
	t, err := r.prepare(spec, art)
	if err != nil {
		return nil, fmt.Errorf("function %s version %d: %w", spec.Name, spec.Version, err)
	}
	return t, nil
}

func (r *Runtime) prepare(spec runtime.Spec, art runtime.Artifact) (*Template, error) {
	digest := art.Digest
	if digest == "" || !validDigest(digest) {
		digest = sha256Hex(art.Bytes)
	}
	dir := filepath.Join(r.codeRoot, digest)
	start := r.clock.Now()
	r.unpackMu.Lock()
	_, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		err = unpack(art.Bytes, dir)
	}
	r.unpackMu.Unlock()
	if err != nil {
		return nil, err
	}
	exe, args, err := entryPoint(dir, spec.Handler)
	if err != nil {
		return nil, err
	}
	if spec.MaxResponseBytes <= 0 {
		spec.MaxResponseBytes = 6 << 20
	}
	if spec.Timeout <= 0 {
		spec.Timeout = 30 * time.Second
	}
	t := &Template{rt: r, spec: spec, codeDir: dir, exe: exe, args: args, unpackTime: r.clock.Now().Sub(start)}
	t.env = t.guestEnv()
	t.arn = fmt.Sprintf("arn:aws:lambda:%s:000000000000:function:%s", r.cfg.Region, spec.Name)
	return t, nil
}

// Close kills every process still running and removes the runtime's
// cgroups. Unpacked packages stay for the next start.
func (r *Runtime) Close(ctx context.Context) error {
	r.spares.close()
	r.mu.Lock()
	r.closed = true
	procs := make([]*proc, 0, len(r.procs))
	for p := range r.procs {
		procs = append(procs, p)
	}
	r.mu.Unlock()
	var errs []error
	for _, p := range procs {
		if err := p.close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.cgroups.close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (r *Runtime) track(p *proc) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("process runtime is closed")
	}
	r.procs[p] = struct{}{}
	return nil
}

func (r *Runtime) untrack(p *proc) {
	r.mu.Lock()
	delete(r.procs, p)
	r.mu.Unlock()
}
