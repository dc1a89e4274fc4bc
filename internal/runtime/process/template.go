package process

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// Template is a prepared function version: its unpacked package and the
// command and environment its instances start with.
type Template struct {
	rt         *Runtime
	spec       runtime.Spec
	codeDir    string
	exe        string   // relative to the package root
	args       []string // from the handler, when there is no bootstrap
	env        []string
	arn        string
	unpackTime time.Duration
}

var _ runtime.Template = (*Template)(nil)

// UnpackTime is what Prepare spent unpacking the package (≈ 0 when this
// digest was already unpacked).
func (t *Template) UnpackTime() time.Duration { return t.unpackTime }

// Spawn starts a new instance: a cold start, timed by phase.
func (t *Template) Spawn(ctx context.Context) (runtime.Instance, runtime.Phases, error) {
	p, phases, err := t.start(ctx)
	if err != nil {
		return nil, phases, fmt.Errorf("function %s version %d: %w", t.spec.Name, t.spec.Version, err)
	}
	return &Instance{t: t, p: p}, phases, nil
}

// Close releases nothing: the unpacked package is shared by every version
// with the same digest and stays for restarts.
func (t *Template) Close(context.Context) error { return nil }

// guestEnv is the standard Lambda environment, with the function's own
// variables in between the defaults (which it may override) and the
// reserved names (which it may not, as in Lambda).
func (t *Template) guestEnv() []string {
	spec, cfg := t.spec, t.rt.cfg
	root := t.codeDir
	if t.rt.sandbox.Namespaces {
		root = taskRoot
	}
	env := map[string]string{
		"PATH":            "/usr/local/bin:/usr/bin:/bin:" + root + ":" + root + "/bin",
		"LANG":            "en_US.UTF-8",
		"TZ":              ":UTC",
		"LD_LIBRARY_PATH": root + ":" + root + "/lib",
	}
	maps.Copy(env, spec.Env)
	memMB := spec.MemoryBytes >> 20
	reserved := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        spec.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     strconv.FormatInt(spec.Version, 10),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.FormatInt(memMB, 10),
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int(spec.Timeout / time.Second)),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + spec.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      "hearth/" + strconv.FormatInt(spec.Version, 10),
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_EXECUTION_ENV":               "hearth_process",
		"AWS_REGION":                      cfg.Region,
		"AWS_DEFAULT_REGION":              cfg.Region,
		"_HANDLER":                        spec.Handler,
		"LAMBDA_TASK_ROOT":                root,
		"LAMBDA_RUNTIME_DIR":              root,
	}
	maps.Copy(env, reserved)
	out := make([]string, 0, len(env)+1)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// start launches one process and waits until it asks for its first event.
func (t *Template) start(ctx context.Context) (*proc, runtime.Phases, error) {
	var phases runtime.Phases
	rt := t.rt
	begin := rt.clock.Now()
	seq := rt.seq.Add(1)
	grp, err := rt.cgroups.create(fmt.Sprintf("i%d", seq), t.spec.MemoryBytes)
	if err != nil {
		return nil, phases, err
	}
	p := newProc(t, grp)
	if err := rt.track(p); err != nil {
		_ = grp.remove()
		return nil, phases, err
	}
	sc := sandboxConf{isolate: rt.sandbox.Namespaces, network: rt.cfg.Network, codeDir: t.codeDir,
		tmpSize: rt.cfg.TmpBytes, uid: rt.cfg.UIDBase + int(seq%65536), group: grp}
	cmd := &exec.Cmd{Env: slices.Clone(t.env)}
	if sc.isolate {
		cmd.Path, cmd.Dir = taskRoot+"/"+t.exe, taskRoot
	} else {
		cmd.Path, cmd.Dir = filepath.Join(t.codeDir, t.exe), t.codeDir
	}
	cmd.Args = append([]string{cmd.Path}, t.args...)
	if err := p.pipeOutput(cmd); err != nil {
		p.abort()
		return nil, phases, err
	}
	l, err := rt.launch(cmd, sc)
	p.closeChildEnds()
	if err != nil {
		p.abort()
		return nil, phases, err
	}
	p.run(cmd, l)
	started := rt.clock.Now()
	phases.Provision = started.Sub(begin)

	timedOut := make(chan struct{})
	timer := rt.clock.AfterFunc(rt.cfg.InitTimeout, func() { close(timedOut) })
	defer timer.Stop()
	var failure error
	select {
	case <-p.ready:
	case fe := <-p.initErr:
		failure = fmt.Errorf("%w: %s", runtime.ErrInit, fe.Error())
	case <-p.exited:
		failure = fmt.Errorf("%w: the process %s before it asked for an event (GET /2018-06-01/runtime/invocation/next)", runtime.ErrInit, p.exitDescription())
	case <-timedOut:
		failure = fmt.Errorf("%w: the process did not ask for an event (GET /2018-06-01/runtime/invocation/next) within %s of starting; it must use the Runtime API at $AWS_LAMBDA_RUNTIME_API", runtime.ErrInit, rt.cfg.InitTimeout)
	case <-ctx.Done():
		failure = fmt.Errorf("cold start: %w", ctx.Err())
	}
	if failure != nil {
		_ = p.close(context.Background())
		return nil, phases, failure
	}
	connected := p.connectedAt
	if connected.IsZero() || connected.After(p.readyAt) {
		connected = p.readyAt
	}
	phases.Runtime = connected.Sub(started)
	phases.Init = p.readyAt.Sub(connected)
	return p, phases, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// validDigest accepts only a hex SHA-256, since the digest names a
// directory.
func validDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
