package wasm

import (
	"bytes"
	"context"
	"strings"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// maxLine bounds a buffered log line: a guest writing without newlines gets
// its output cut into lines of this size rather than growing a buffer.
const maxLine = 16 << 10

// tailLines is how many recent stderr lines a crash report may quote.
const tailLines = 8

// instanceState is what an instance's I/O and host calls need: the function,
// the invocation in progress and its output.
//
// Invariant: an instance serves one invocation at a time, and wazero runs
// host functions and WASI writes on the goroutine that called into the
// guest, so these fields need no lock.
type instanceState struct {
	spec      *runtime.Spec
	requestID string
	// ctx is the context of the guest call in progress, kept so that a
	// guest's sleep (a WASI poll_oneoff, which wazero cannot interrupt)
	// ends when the call is stopped. Nil between calls.
	ctx context.Context
	// pending is the result of the last hearth.call, until call_result.
	pending []byte
	stdout  lineWriter
	stderr  lineWriter
	// crash is the first line of the invocation's stderr that explains a
	// crash (a Go panic or fatal error); tail holds the last lines.
	crash string
	tail  []string
}

func newInstanceState(spec *runtime.Spec) *instanceState {
	s := &instanceState{spec: spec}
	s.stdout = lineWriter{state: s, stream: runtime.Stdout}
	s.stderr = lineWriter{state: s, stream: runtime.Stderr}
	return s
}

// begin starts an invocation; end flushes partial lines so that they carry
// this invocation's request id.
func (s *instanceState) begin(requestID string) {
	s.requestID = requestID
	s.crash = ""
	s.tail = s.tail[:0]
}

func (s *instanceState) end() {
	s.stdout.flush()
	s.stderr.flush()
	s.requestID = ""
	s.pending = nil
}

// emit hands one line to the function's log and remembers stderr lines for
// crash reports.
func (s *instanceState) emit(stream runtime.Stream, line []byte) {
	if stream == runtime.Stderr {
		s.remember(line)
	}
	if s.spec.Log != nil {
		s.spec.Log(stream, s.requestID, line)
	}
}

func (s *instanceState) remember(line []byte) {
	l := strings.TrimSpace(string(line[:min(len(line), 512)]))
	if l == "" {
		return
	}
	if s.crash == "" && (strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ")) {
		s.crash = l
	}
	if len(s.tail) == tailLines {
		copy(s.tail, s.tail[1:])
		s.tail = s.tail[:tailLines-1]
	}
	s.tail = append(s.tail, l)
}

// guestMessage is what the guest said about its failure: a panic line if
// there was one, otherwise the last lines of stderr.
func (s *instanceState) guestMessage() string {
	if s.crash != "" {
		return s.crash
	}
	return strings.Join(s.tail, " | ")
}

// lineWriter turns a guest's output stream into log lines.
type lineWriter struct {
	state  *instanceState
	stream runtime.Stream
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) >= maxLine {
				w.flush()
			}
			break
		}
		if len(w.buf) > 0 {
			w.buf = append(w.buf, p[:i]...)
			w.state.emit(w.stream, w.buf)
			w.buf = w.buf[:0]
		} else {
			w.state.emit(w.stream, p[:i])
		}
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.state.emit(w.stream, w.buf)
		w.buf = w.buf[:0]
	}
}

// limitedBuffer collects a command's stdout up to limit bytes (0: no limit).
type limitedBuffer struct {
	buf      bytes.Buffer
	limit    int64
	exceeded bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.limit > 0 && int64(b.buf.Len()+len(p)) > b.limit {
		b.exceeded = true
		return 0, errResponseTooLarge
	}
	return b.buf.Write(p)
}
