package process

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// proc is one guest process and the Runtime API server that serves it.
//
// # Notes
//
// The channels tell the invoking side what the guest did: ready closes on
// its first GET /next, initErr carries a POST /init/error, next hands an
// invocation to a waiting GET /next, exited closes once the process is
// reaped. cur, under mu, is the invocation the guest holds; whoever takes
// it from cur (a response, an error, a second /next) is the only one to
// complete it, so each invocation is completed exactly once.
type proc struct {
	t     *Template
	group *group

	cmd      *exec.Cmd
	launched *launched
	srv      *http.Server

	ready       chan struct{}
	readyOnce   sync.Once
	readyAt     time.Time // written before ready closes
	connectedAt time.Time // first connection; written before ready closes
	connOnce    sync.Once
	initErr     chan *runtime.FunctionError
	next        chan *invocation
	exited      chan struct{}
	waitErr     error // written before exited closes
	oomBefore   int64

	mu     sync.Mutex
	cur    *invocation
	served bool // an event was handed over

	requestID atomic.Pointer[string] // for log lines

	outR, errR, outW, errW *os.File
	pumps                  sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// invocation is one event handed to the guest.
type invocation struct {
	req      runtime.Request
	deadline time.Time
	done     chan outcome // buffered: completing never blocks
}

type outcome struct {
	resp runtime.Response
	err  error
}

func newProc(t *Template, g *group) *proc {
	return &proc{t: t, group: g, ready: make(chan struct{}), initErr: make(chan *runtime.FunctionError, 1),
		next: make(chan *invocation), exited: make(chan struct{})}
}

// pipeOutput connects the guest's stdout and stderr to pipes read line by
// line into Spec.Log. Pipes, not exec's copying goroutines: Wait must not
// wait for output a forked child may hold open.
func (p *proc) pipeOutput(cmd *exec.Cmd) error {
	if p.t.spec.Log == nil {
		return nil // nil Stdout and Stderr are /dev/null
	}
	var err error
	if p.outR, p.outW, err = os.Pipe(); err != nil {
		return fmt.Errorf("stdout pipe: %w", err)
	}
	if p.errR, p.errW, err = os.Pipe(); err != nil {
		return fmt.Errorf("stderr pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = p.outW, p.errW
	return nil
}

// closeChildEnds closes hearth's copies of the pipes' write ends, so that
// reading ends when the guest (and its children) are gone.
func (p *proc) closeChildEnds() {
	for _, f := range []*os.File{p.outW, p.errW} {
		if f != nil {
			f.Close()
		}
	}
}

// run starts serving the Runtime API, reading output and reaping the
// process.
func (p *proc) run(cmd *exec.Cmd, l *launched) {
	p.cmd, p.launched = cmd, l
	p.oomBefore = p.group.oomKills()
	if p.outR != nil {
		p.pumps.Add(2)
		go p.pump(p.outR, runtime.Stdout)
		go p.pump(p.errR, runtime.Stderr)
	}
	p.srv = &http.Server{Handler: p.routes(), MaxHeaderBytes: 64 << 10, ReadHeaderTimeout: time.Minute,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				p.connOnce.Do(func() { p.connectedAt = p.t.rt.clock.Now() })
			}
		}}
	go func() { _ = p.srv.Serve(l.ln) }()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
}

// pump hands the guest's output to Spec.Log one line at a time. A line
// longer than the buffer is handed over in buffer-sized pieces.
func (p *proc) pump(f *os.File, stream runtime.Stream) {
	defer p.pumps.Done()
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			line = bytes.TrimRight(line, "\r\n")
			id := ""
			if s := p.requestID.Load(); s != nil {
				id = *s
			}
			p.t.spec.Log(stream, id, line)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// servedOne reports whether the process ever took an event.
func (p *proc) servedOne() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.served
}

// dead reports whether the process has exited.
func (p *proc) dead() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// exitDescription says how the process ended ("exited with status 2",
// "was killed by signal killed"); call it after exited closed.
func (p *proc) exitDescription() string {
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "was killed by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	if p.waitErr != nil {
		return "ended: " + p.waitErr.Error()
	}
	return "exited with status 0"
}

// crashError classifies the end of a process during an invocation.
func (p *proc) crashError() error {
	if p.group.oomKills() > p.oomBefore {
		return fmt.Errorf("%w (%d MB): the kernel killed the process", runtime.ErrMemoryLimit, p.t.spec.MemoryBytes>>20)
	}
	return fmt.Errorf("%w: the process %s during the invocation", runtime.ErrTrap, p.exitDescription())
}

// kill sends SIGKILL to the guest and everything it started: in a PID
// namespace the guest is its init, and the kernel kills the rest with it;
// otherwise it leads a process group. The cgroup catches escapees.
func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	pid := p.cmd.Process.Pid
	if !p.t.rt.sandbox.Namespaces {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	p.group.kill()
}

// abort undoes a start that failed before the process ran.
func (p *proc) abort() {
	p.closeChildEnds()
	for _, f := range []*os.File{p.outR, p.errR} {
		if f != nil {
			f.Close()
		}
	}
	_ = p.group.remove()
	p.t.rt.untrack(p)
}

// close kills the process tree, waits for it, stops the Runtime API server,
// ends the sandbox thread and removes the cgroup. It is idempotent.
func (p *proc) close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.kill()
		select {
		case <-p.exited:
		case <-ctx.Done():
			p.closeErr = fmt.Errorf("wait for process %d: %w", p.cmd.Process.Pid, ctx.Err())
		}
		_ = p.srv.Close()
		close(p.launched.release)
		// Output still in the pipes is read to its end; a descendant that
		// escaped every kill could hold a pipe open, so the wait is bounded.
		drained := make(chan struct{})
		go func() { p.pumps.Wait(); close(drained) }()
		timer := p.t.rt.clock.AfterFunc(time.Second, func() {
			for _, f := range []*os.File{p.outR, p.errR} {
				if f != nil {
					f.Close()
				}
			}
		})
		<-drained
		timer.Stop()
		for _, f := range []*os.File{p.outR, p.errR} {
			if f != nil {
				f.Close()
			}
		}
		if err := p.group.remove(); err != nil && p.closeErr == nil {
			p.closeErr = err
		}
		p.t.rt.untrack(p)
	})
	return p.closeErr
}
