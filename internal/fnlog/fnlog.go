// Package fnlog keeps the recent output of each function — its stdout and
// stderr lines and hearth's own line per invocation — and streams new lines
// to followers.
package fnlog

import (
	"context"
	"sync"
	"time"
)

// Stream values of an Entry besides the guest's stdout and stderr.
const (
	// StreamHearth marks hearth's own per-invocation line.
	StreamHearth = "hearth"
)

// Entry is one log line.
type Entry struct {
	Time      time.Time `json:"time"`
	Function  string    `json:"function"`
	Version   int64     `json:"version,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	TraceID   string    `json:"trace_id,omitempty"`
	Stream    string    `json:"stream"`
	Message   string    `json:"message"`
}

// Book holds the last Capacity entries of every function.
//
// # Notes
//
// Followers get entries through a buffered channel; a follower that falls
// more than its buffer behind loses lines rather than slowing invocations.
type Book struct {
	capacity int

	mu        sync.Mutex
	rings     map[string]*ring
	followers map[string]map[chan Entry]struct{}
}

type ring struct {
	buf  []Entry
	next int
	full bool
}

// New returns a Book that keeps capacity entries per function.
func New(capacity int) *Book {
	return &Book{capacity: capacity, rings: map[string]*ring{}, followers: map[string]map[chan Entry]struct{}{}}
}

// Append records e and hands it to the function's followers.
func (b *Book) Append(e Entry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.rings[e.Function]
	if r == nil {
		r = &ring{buf: make([]Entry, b.capacity)}
		b.rings[e.Function] = r
	}
	r.buf[r.next] = e
	r.next = (r.next + 1) % b.capacity
	if r.next == 0 {
		r.full = true
	}
	for ch := range b.followers[e.Function] {
		select {
		case ch <- e:
		default:
		}
	}
}

// Tail returns up to n of the function's most recent entries, oldest first;
// none when n ≤ 0.
func (b *Book) Tail(function string, n int) []Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.rings[function]
	if r == nil || n <= 0 {
		return nil
	}
	var all []Entry
	if r.full {
		all = append(all, r.buf[r.next:]...)
	}
	all = append(all, r.buf[:r.next]...)
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// Follow returns a channel of the function's new entries; it is closed when
// ctx ends.
func (b *Book) Follow(ctx context.Context, function string) <-chan Entry {
	ch := make(chan Entry, 256)
	b.mu.Lock()
	if b.followers[function] == nil {
		b.followers[function] = map[chan Entry]struct{}{}
	}
	b.followers[function][ch] = struct{}{}
	b.mu.Unlock()
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		delete(b.followers[function], ch)
		b.mu.Unlock()
		close(ch)
	})
	return ch
}

// Forget drops a function's stored entries (after it is removed).
func (b *Book) Forget(function string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.rings, function)
}
