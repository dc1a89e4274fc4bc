package process

import (
	"log/slog"
	"net"
	"os/exec"
	goruntime "runtime"
	"sync"
)

// spareSandboxes keeps a few sandboxes built ahead of need, so that a cold
// start does not wait for namespaces and mounts (about half of a sandboxed
// process's provision time here): each spare is a locked OS thread that has
// already unshared its namespaces, built the guest's root and brought its
// loopback up, and waits to bind a package and fork a guest. Everything a
// spare holds is the same for every function (the package is bound at
// launch), so one set serves the whole runtime; a spare is used once.
type spareSandboxes struct {
	rootMount string
	network   bool
	tmpSize   int64
	want      int
	log       *slog.Logger

	mu       sync.Mutex
	ready    []*spare
	building int
	used     int // spares taken by launches
	closed   bool
	broken   bool // a build failed: stop building, launches build inline
}

// spare is one prepared sandbox thread.
type spare struct {
	start chan launchRequest
	quit  chan struct{}
}

type launchRequest struct {
	cmd     *exec.Cmd
	sc      sandboxConf
	release chan struct{}
	done    chan launchResult
}

type launchResult struct {
	ln  net.Listener
	err error
}

func newSpareSandboxes(rootMount string, network bool, tmpSize int64, want int, log *slog.Logger) *spareSandboxes {
	s := &spareSandboxes{rootMount: rootMount, network: network, tmpSize: tmpSize, want: want, log: log}
	s.mu.Lock()
	s.fillLocked()
	s.mu.Unlock()
	return s
}

// take returns a ready spare, or nil when none is (the caller builds its
// own sandbox then), and starts building its replacement.
func (s *spareSandboxes) take() *spare {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.ready)
	if n == 0 || s.closed {
		s.fillLocked()
		return nil
	}
	sp := s.ready[n-1]
	s.ready = s.ready[:n-1]
	s.used++
	s.fillLocked()
	return sp
}

func (s *spareSandboxes) fillLocked() {
	for !s.closed && !s.broken && len(s.ready)+s.building < s.want {
		s.building++
		go s.build()
	}
}

// build prepares one spare on a new locked thread, which then waits to
// launch a guest (and lives as long as it) or to be told to quit. The
// thread is never unlocked, so it dies with its namespaces.
func (s *spareSandboxes) build() {
	goruntime.LockOSThread()
	err := prepareSandbox(s.rootMount, s.network, s.tmpSize)
	sp := &spare{start: make(chan launchRequest), quit: make(chan struct{})}
	s.mu.Lock()
	s.building--
	switch {
	case err != nil:
		if !s.broken {
			s.log.Warn("process runtime: cannot prepare spare sandboxes; cold starts build their own", "err", err)
		}
		s.broken = true
		s.mu.Unlock()
		return
	case s.closed:
		s.mu.Unlock()
		return
	}
	s.ready = append(s.ready, sp)
	s.mu.Unlock()
	select {
	case req := <-sp.start:
		ln, err := startOnThread(req.cmd, req.sc, s.rootMount)
		req.done <- launchResult{ln, err}
		if err == nil {
			<-req.release
		}
	case <-sp.quit:
	}
}

// launch starts a guest from the spare's thread.
func (sp *spare) launch(cmd *exec.Cmd, sc sandboxConf, release chan struct{}) (net.Listener, error) {
	done := make(chan launchResult, 1)
	sp.start <- launchRequest{cmd: cmd, sc: sc, release: release, done: done}
	res := <-done
	return res.ln, res.err
}

// close ends the spares not taken; their threads exit with their
// namespaces.
func (s *spareSandboxes) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, sp := range s.ready {
		close(sp.quit)
	}
	s.ready = nil
}

// count reports the spares ready now and how many launches took one.
func (s *spareSandboxes) count() (ready, used int) {
	if s == nil {
		return 0, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ready), s.used
}
