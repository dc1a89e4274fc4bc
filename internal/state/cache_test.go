package state_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/state"
	"github.com/hearth-sh/hearth/internal/state/statetest"
)

func TestCacheConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) statetest.Harness {
		clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		c, err := state.NewCache(context.Background(), state.NewMemory(clk, state.Limits{}), state.CacheConfig{Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		return statetest.Harness{Store: c, Clock: clk}
	})
}

func TestCacheOverNATSConformance(t *testing.T) {
	js := startNATS(t)
	var n atomic.Int64
	statetest.Run(t, func(t *testing.T) statetest.Harness {
		s, err := state.NewNATS(context.Background(), js, state.NATSConfig{Bucket: fmt.Sprintf("cached%d", n.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		c, err := state.NewCache(context.Background(), s, state.CacheConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return statetest.Harness{Store: c, RealTTL: time.Second}
	})
}

func TestCacheHitsAndStaleness(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	backend := state.NewMemory(clk, state.Limits{})
	c, err := state.NewCache(ctx, backend, state.CacheConfig{Size: 2, TTL: 5 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if _, err := c.Set(ctx, "k", []byte("v1"), state.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func(key, want string) {
		t.Helper()
		e, err := c.Get(ctx, key)
		if err != nil || string(e.Value) != want {
			t.Fatalf("Get(%s) = %q, %v; want %q", key, e.Value, err, want)
		}
	}
	get("k", "v1") // written through: a hit
	if st := c.Stats(); st.Hits != 1 || st.Misses != 0 {
		t.Fatalf("stats %+v after a read of a written key, want 1 hit 0 misses", st)
	}

	// A write that bypasses the cache (another node on a backend without a
	// watch) is not seen until the entry's TTL has passed.
	if _, err := backend.Set(ctx, "k", []byte("v2"), state.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	get("k", "v1")
	clk.Advance(5 * time.Second)
	get("k", "v2")

	// Deletes through the cache are seen at once.
	if err := c.Delete(ctx, "k", state.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "k"); err == nil {
		t.Fatal("Get after Delete through the cache succeeded")
	}

	// Size bound: the least recently used entry goes.
	for _, k := range []string{"a", "b", "c"} {
		if _, err := c.Set(ctx, k, []byte(k), state.SetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if st := c.Stats(); st.Evictions != 1 {
		t.Fatalf("stats %+v after 3 writes into a cache of 2, want 1 eviction", st)
	}
	before := c.Stats().Misses
	get("a", "a")
	if c.Stats().Misses != before+1 {
		t.Fatal("the evicted key was served from the cache")
	}
}

// TestCacheNATSWatch runs two caches on one bucket, as two nodes would, and
// checks that a write through one invalidates the other through the watch.
func TestCacheNATSWatch(t *testing.T) {
	ctx := context.Background()
	js := startNATS(t)
	open := func() *state.Cached {
		s, err := state.NewNATS(ctx, js, state.NATSConfig{Bucket: "shared"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := state.NewCache(ctx, s, state.CacheConfig{TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	nodeA, nodeB := open(), open()
	if _, err := nodeA.Set(ctx, "k", []byte("v1"), state.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if e, err := nodeB.Get(ctx, "k"); err != nil || string(e.Value) != "v1" {
		t.Fatalf("node B Get = %q, %v", e.Value, err)
	}
	if _, err := nodeA.Set(ctx, "k", []byte("v2"), state.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	// The change reaches B asynchronously; with a one-hour cache TTL only
	// the watch can make B see it.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		e, err := nodeB.Get(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Value) == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node B still serves v1 from its cache 10s after node A wrote v2")
		}
		<-tick.C
	}
	if st := nodeB.Stats(); st.Invalidations == 0 {
		t.Fatalf("node B stats %+v, want an invalidation from the watch", st)
	}
}
