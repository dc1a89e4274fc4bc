package state

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
)

// memorySweepEvery is how often a Memory store drops expired keys. Expired
// keys are invisible at once; the sweep only frees their memory.
const memorySweepEvery = time.Minute

// Memory is a Store held in process memory: for tests and ephemeral nodes.
// Nothing survives Close.
type Memory struct {
	limits Limits
	clock  clock.Clock

	mu      sync.Mutex
	items   map[string]memItem
	version uint64 // last ETag issued; only grows, so ETags are never reused
	closed  bool
	sweep   clock.Timer
}

type memItem struct {
	value     []byte
	version   uint64
	expiresAt time.Time // zero: never
}

// NewMemory returns an empty in-memory store that reads time from clk (nil
// means the wall clock).
func NewMemory(clk clock.Clock, limits Limits) *Memory {
	if clk == nil {
		clk = clock.Real{}
	}
	m := &Memory{limits: limits.WithDefaults(), clock: clk, items: make(map[string]memItem)}
	m.mu.Lock()
	m.sweep = clk.AfterFunc(memorySweepEvery, m.sweepExpired)
	m.mu.Unlock()
	return m
}

func (m *Memory) sweepExpired() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	now := m.clock.Now()
	for k, it := range m.items {
		if it.expired(now) {
			delete(m.items, k)
		}
	}
	m.sweep = m.clock.AfterFunc(memorySweepEvery, m.sweepExpired)
}

func (it memItem) expired(now time.Time) bool {
	return !it.expiresAt.IsZero() && !now.Before(it.expiresAt)
}

// live returns the item under key if it exists and has not expired.
// m.mu must be held.
func (m *Memory) live(key string) (memItem, bool) {
	it, ok := m.items[key]
	if !ok || it.expired(m.clock.Now()) {
		return memItem{}, false
	}
	return it, true
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) (Entry, error) {
	if err := m.limits.CheckKey(key); err != nil {
		return Entry{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Entry{}, ErrClosed
	}
	it, ok := m.live(key)
	if !ok {
		return Entry{}, fmt.Errorf("key %q: %w", key, ErrNotFound)
	}
	return it.entry(), nil
}

func (it memItem) entry() Entry {
	return Entry{Value: append([]byte(nil), it.value...), ETag: FormatETag(it.version), ExpiresAt: it.expiresAt}
}

// BulkGet implements Store.
func (m *Memory) BulkGet(ctx context.Context, keys []string) ([]Item, error) {
	return bulkGet(ctx, m, keys)
}

// bulkGet is BulkGet for backends without a native multi-get.
func bulkGet(ctx context.Context, s Store, keys []string) ([]Item, error) {
	out := make([]Item, len(keys))
	for i, k := range keys {
		e, err := s.Get(ctx, k)
		switch {
		case err == nil:
			out[i] = Item{Key: k, Found: true, Entry: e}
		case isNotFound(err):
			out[i] = Item{Key: k}
		default:
			return nil, err
		}
	}
	return out, nil
}

// Set implements Store.
func (m *Memory) Set(_ context.Context, key string, value []byte, opts SetOptions) (string, error) {
	if err := m.limits.CheckSet(key, value, opts); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return "", ErrClosed
	}
	if err := m.check(key, opts.IfMatch, opts.IfNoneMatch, -1); err != nil {
		return "", err
	}
	return FormatETag(m.put(key, value, opts.TTL)), nil
}

// check evaluates a write condition against the current item. m.mu must be held.
func (m *Memory) check(key, ifMatch string, ifNoneMatch bool, op int) error {
	it, ok := m.live(key)
	if ifNoneMatch && ok {
		return exists(key, op)
	}
	if ifMatch != "" && (!ok || FormatETag(it.version) != ifMatch) {
		return mismatch(key, op)
	}
	return nil
}

// put stores a copy of value and returns its version. m.mu must be held.
func (m *Memory) put(key string, value []byte, ttl time.Duration) uint64 {
	m.version++
	it := memItem{value: append([]byte(nil), value...), version: m.version}
	if ttl > 0 {
		it.expiresAt = m.clock.Now().Add(ttl)
	}
	m.items[key] = it
	return it.version
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, key string, opts DeleteOptions) error {
	if err := m.limits.CheckKey(key); err != nil {
		return err
	}
	if opts.IfMatch != "" {
		if _, err := ParseETag(opts.IfMatch); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if err := m.check(key, opts.IfMatch, false, -1); err != nil {
		return err
	}
	delete(m.items, key)
	return nil
}

// Transact implements Store. All conditions are checked under the lock before
// anything is written, which is what makes it all or nothing.
func (m *Memory) Transact(_ context.Context, ops []Op) error {
	if err := m.limits.CheckOps(ops); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for i, op := range ops {
		if err := m.check(op.Key, op.IfMatch, op.Kind == OpSet && op.IfNoneMatch, i); err != nil {
			return err
		}
	}
	for _, op := range ops {
		if op.Kind == OpSet {
			m.put(op.Key, op.Value, op.TTL)
		} else {
			delete(m.items, op.Key)
		}
	}
	return nil
}

// List implements Store. It sorts the matching keys on every call, which is
// fine for the sizes a memory store is meant for.
func (m *Memory) List(_ context.Context, prefix, cursor string, limit int) (Page, error) {
	limit, err := checkList(limit)
	if err != nil {
		return Page{}, err
	}
	m.mu.Lock()
	now := m.clock.Now()
	var keys []string
	for k, it := range m.items {
		if strings.HasPrefix(k, prefix) && k > cursor && !it.expired(now) {
			keys = append(keys, k)
		}
	}
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return Page{}, ErrClosed
	}
	sort.Strings(keys)
	return pageOf(keys, limit), nil
}

// pageOf cuts a sorted key list to one page.
func pageOf(keys []string, limit int) Page {
	if len(keys) <= limit {
		return Page{Keys: keys}
	}
	return Page{Keys: keys[:limit], Cursor: keys[limit-1]}
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	if m.sweep != nil {
		m.sweep.Stop()
	}
	return nil
}
