package state

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
)

// Defaults of CacheConfig.
const (
	DefaultCacheSize = 10000
	DefaultCacheTTL  = 5 * time.Second
)

// CacheConfig configures a read cache.
type CacheConfig struct {
	// Size is the most entries kept (least recently used go first).
	Size int
	// TTL is the longest an entry is served without asking the backend.
	TTL   time.Duration
	Clock clock.Clock
}

// Watcher is implemented by stores that report changes made by anyone,
// including other nodes (NATS). Watch calls changed with the key and its new
// ETag after every write, delete or expiry, until ctx ends.
type Watcher interface {
	Watch(ctx context.Context, changed func(key, etag string)) error
}

// CacheStats counts what the cache did.
type CacheStats struct {
	Hits, Misses, Evictions, Invalidations uint64
}

// Cached is a Store with a read cache in front of another Store:
// cache-aside for reads, write-through for writes made through it.
//
// # Consistency
//
//   - Read your writes: a Set through the cache puts the new value in the
//     cache; Delete and Transact remove the keys they touched. A reader on
//     the same node never sees a value older than a write that completed
//     through this cache.
//   - Writes by others (another node, or a client talking to the backend
//     directly): on a backend that implements Watcher (nats), the cache drops
//     the key when the change notification arrives, normally within
//     milliseconds; until then a reader may see the previous value. On other
//     backends a reader may see the previous value for up to TTL.
//   - Expiry: an entry never outlives the key's own TTL when the backend
//     reports it (memory, postgres, or a Set through this cache); nats
//     reports expiries through the watch; otherwise an expired key may be
//     served for up to TTL.
//
// # Invariant
//
// For writes made through this cache: while no write of a key is in flight,
// a cached entry for the key holds the backend's current value. That makes
// a cache hit as good as a backend read, so reads stay linearizable (the
// conformance suite checks it with porcupine). It is kept by:
//
//   - a write drops the key and marks it in flight before it goes to the
//     backend; while a key is in flight, reads bypass the cache and nothing
//     caches it;
//   - every write start and end bumps the key's generation; a fill (a read
//     that missed) caches its result only if the generation did not move
//     since before it read the backend, and a write-through caches the new
//     value only if the generation did not move since its own start, i.e.
//     no other write of the key started or ended meanwhile.
type Cached struct {
	Store
	size  int
	ttl   time.Duration
	clock clock.Clock
	stop  context.CancelFunc

	mu      sync.Mutex
	entries map[string]*list.Element // of *cacheEntry
	lru     *list.List               // front: most recently used
	// gens are generations, striped by key hash: the start and end of a
	// write (and an invalidation from the watch) bump the key's stripe.
	gens [cacheStripes]uint64
	// inflight counts the writes of each key that have started and not yet
	// ended.
	inflight map[string]int

	hits, misses, evictions, invalidations atomic.Uint64
}

const cacheStripes = 64

func stripe(key string) int {
	// FNV-1a; any cheap, stable hash will do.
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return int(h % cacheStripes)
}

type cacheEntry struct {
	key     string
	value   []byte
	etag    string
	version uint64
	expires time.Time
	itemExp time.Time // the key's own expiry, if known
}

// NewCache puts a read cache in front of s. If s implements Watcher, the
// cache watches it for changes made elsewhere; the watch stops on Close.
// Close also closes s.
func NewCache(ctx context.Context, s Store, cfg CacheConfig) (*Cached, error) {
	if cfg.Size <= 0 {
		cfg.Size = DefaultCacheSize
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultCacheTTL
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	c := &Cached{Store: s, size: cfg.Size, ttl: cfg.TTL, clock: cfg.Clock,
		entries: make(map[string]*list.Element), lru: list.New(), inflight: make(map[string]int)}
	if w, ok := s.(Watcher); ok {
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		if err := w.Watch(wctx, c.changed); err != nil {
			cancel()
			return nil, fmt.Errorf("cache: watch store: %w", err)
		}
		c.stop = cancel
	}
	return c, nil
}

// Stats returns the cache's counters.
func (c *Cached) Stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load(), Invalidations: c.invalidations.Load()}
}

// Get implements Store, from the cache when it can.
func (c *Cached) Get(ctx context.Context, key string) (Entry, error) {
	now := c.clock.Now()
	c.mu.Lock()
	if c.inflight[key] > 0 {
		c.mu.Unlock()
		c.misses.Add(1)
		return c.Store.Get(ctx, key)
	}
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cacheEntry)
		if now.Before(e.expires) {
			c.lru.MoveToFront(el)
			out := Entry{Value: append([]byte(nil), e.value...), ETag: e.etag, ExpiresAt: e.itemExp}
			c.mu.Unlock()
			c.hits.Add(1)
			return out, nil
		}
		c.remove(el)
	}
	gen := c.gens[stripe(key)]
	c.mu.Unlock()
	c.misses.Add(1)

	e, err := c.Store.Get(ctx, key)
	if err != nil {
		return e, err
	}
	c.fill(key, e, gen)
	return e, nil
}

// fill caches e, read from the backend after gen was read, unless a write
// of key started or ended since.
func (c *Cached) fill(key string, e Entry, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gens[stripe(key)] != gen || c.inflight[key] > 0 {
		return
	}
	c.put(key, e.Value, e.ETag, e.ExpiresAt)
}

// put stores a copy of value unless a newer version is cached. c.mu held.
func (c *Cached) put(key string, value []byte, etag string, itemExp time.Time) {
	version, err := ParseETag(etag)
	if err != nil {
		return // not orderable: do not cache
	}
	now := c.clock.Now()
	expires := now.Add(c.ttl)
	if !itemExp.IsZero() && itemExp.Before(expires) {
		expires = itemExp
	}
	if !now.Before(expires) {
		return
	}
	if el, ok := c.entries[key]; ok {
		old := el.Value.(*cacheEntry)
		if old.version >= version {
			return
		}
		old.value, old.etag, old.version, old.expires, old.itemExp = append([]byte(nil), value...), etag, version, expires, itemExp
		c.lru.MoveToFront(el)
		return
	}
	e := &cacheEntry{key: key, value: append([]byte(nil), value...), etag: etag, version: version, expires: expires, itemExp: itemExp}
	c.entries[key] = c.lru.PushFront(e)
	for c.lru.Len() > c.size {
		c.remove(c.lru.Back())
		c.evictions.Add(1)
	}
}

func (c *Cached) remove(el *list.Element) {
	c.lru.Remove(el)
	delete(c.entries, el.Value.(*cacheEntry).key)
}

// invalidate drops keys and fails fills that are in flight. c.mu held.
func (c *Cached) invalidateLocked(keys ...string) {
	for _, k := range keys {
		c.gens[stripe(k)]++
		if el, ok := c.entries[k]; ok {
			c.remove(el)
		}
	}
	c.invalidations.Add(1)
}

// beginWrite marks keys in flight and drops them from the cache. It returns
// the generation of the first key after the bump, for endWrite.
func (c *Cached) beginWrite(keys ...string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		c.inflight[k]++
	}
	c.invalidateLocked(keys...)
	return c.gens[stripe(keys[0])]
}

// endWrite ends a write of keys. If through is set (a single-key Set that
// succeeded) and no other write of the key started or ended since
// beginWrite returned gen, the new value is cached.
func (c *Cached) endWrite(keys []string, gen uint64, through *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k0 := keys[0]
	if through != nil && c.inflight[k0] == 1 && c.gens[stripe(k0)] == gen {
		c.put(k0, through.value, through.etag, through.itemExp)
	}
	for _, k := range keys {
		if c.inflight[k]--; c.inflight[k] <= 0 {
			delete(c.inflight, k)
		}
		c.gens[stripe(k)]++
	}
}

// changed handles a change notification from the backend: writes this cache
// already holds (its own write-through) are ignored, anything newer drops
// the key.
func (c *Cached) changed(key, etag string) {
	if v, err := ParseETag(etag); err == nil {
		c.mu.Lock()
		el, ok := c.entries[key]
		current := ok && el.Value.(*cacheEntry).version >= v
		c.mu.Unlock()
		if current {
			return
		}
	}
	c.mu.Lock()
	c.invalidateLocked(key)
	c.mu.Unlock()
}

// BulkGet implements Store: cached keys from the cache, the rest in one
// backend call.
func (c *Cached) BulkGet(ctx context.Context, keys []string) ([]Item, error) {
	out := make([]Item, len(keys))
	var missing []string
	var at []int
	gens := make([]uint64, len(keys))
	now := c.clock.Now()
	c.mu.Lock()
	for i, k := range keys {
		if el, ok := c.entries[k]; ok && c.inflight[k] == 0 && now.Before(el.Value.(*cacheEntry).expires) {
			e := el.Value.(*cacheEntry)
			out[i] = Item{Key: k, Found: true, Entry: Entry{Value: append([]byte(nil), e.value...), ETag: e.etag, ExpiresAt: e.itemExp}}
			continue
		}
		missing, at = append(missing, k), append(at, i)
		gens[i] = c.gens[stripe(k)]
	}
	c.mu.Unlock()
	c.hits.Add(uint64(len(keys) - len(missing)))
	if len(missing) == 0 {
		return out, nil
	}
	c.misses.Add(uint64(len(missing)))
	items, err := c.Store.BulkGet(ctx, missing)
	if err != nil {
		return nil, err
	}
	for j, it := range items {
		out[at[j]] = it
		if it.Found {
			c.fill(it.Key, it.Entry, gens[at[j]])
		}
	}
	return out, nil
}

// Set implements Store, writing the new value through to the cache.
func (c *Cached) Set(ctx context.Context, key string, value []byte, opts SetOptions) (string, error) {
	keys := []string{key}
	gen := c.beginWrite(keys...)
	etag, err := c.Store.Set(ctx, key, value, opts)
	if err != nil {
		c.endWrite(keys, gen, nil)
		return "", err
	}
	through := &cacheEntry{value: value, etag: etag}
	if opts.TTL > 0 {
		through.itemExp = c.clock.Now().Add(opts.TTL)
	}
	c.endWrite(keys, gen, through)
	return etag, nil
}

// Delete implements Store.
func (c *Cached) Delete(ctx context.Context, key string, opts DeleteOptions) error {
	keys := []string{key}
	gen := c.beginWrite(keys...)
	err := c.Store.Delete(ctx, key, opts)
	c.endWrite(keys, gen, nil)
	return err
}

// Transact implements Store.
func (c *Cached) Transact(ctx context.Context, ops []Op) error {
	if len(ops) == 0 {
		return c.Store.Transact(ctx, ops)
	}
	keys := make([]string, len(ops))
	for i, op := range ops {
		keys[i] = op.Key
	}
	gen := c.beginWrite(keys...)
	err := c.Store.Transact(ctx, ops)
	c.endWrite(keys, gen, nil)
	return err
}

// Close stops the watch and closes the store behind the cache.
func (c *Cached) Close() error {
	if c.stop != nil {
		c.stop()
	}
	return c.Store.Close()
}
