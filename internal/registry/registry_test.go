package registry

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/backbone"
	"github.com/hearth-sh/hearth/internal/clock"
)

func openRegistry(t *testing.T) *Registry {
	t.Helper()
	ctx := context.Background()
	bb, err := backbone.Open(ctx, backbone.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bb.Close() })
	r, err := Open(ctx, bb.JS, clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestConcurrentDeploysGetDistinctVersions(t *testing.T) {
	r := openRegistry(t)
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	versions := make(chan int64, n)
	for i := range n {
		wg.Go(func() {
			fn, err := r.Put(ctx, "f", Config{}.Defaults(), []byte{byte(i)})
			if err != nil {
				t.Error(err)
				return
			}
			versions <- fn.Version
		})
	}
	wg.Wait()
	close(versions)
	seen := map[int64]bool{}
	for v := range versions {
		if seen[v] {
			t.Fatalf("version %d given twice", v)
		}
		seen[v] = true
	}
	for v := int64(1); v <= n; v++ {
		if !seen[v] {
			t.Fatalf("versions %v, want 1..%d", seen, n)
		}
	}
	latest, err := r.Get(ctx, "f")
	if err != nil || latest.Version != n {
		t.Fatalf("latest = %d, %v; want %d", latest.Version, err, n)
	}
	for v := int64(1); v <= n; v++ {
		fn, err := r.Version(ctx, "f", v)
		if err != nil {
			t.Fatal(err)
		}
		if art, err := r.Artifact(ctx, fn.Digest); err != nil || len(art) != 1 {
			t.Fatalf("artifact of version %d: %v %v", v, art, err)
		}
	}
}

func TestNamesAndConfigs(t *testing.T) {
	names := []struct {
		name string
		ok   bool
	}{
		{"hello", true}, {"a", true}, {"a-b-9", true},
		{"", false}, {"-a", false}, {"a-", false}, {"Hello", false}, {"a_b", false}, {"a.b", false},
		{strings.Repeat("a", 64), true}, {strings.Repeat("a", 65), false},
	}
	for _, tt := range names {
		if err := ValidateName(tt.name); (err == nil) != tt.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	configs := []struct {
		cfg  Config
		want string
	}{
		{Config{Runtime: "jvm"}, "runtime"},
		{Config{MemoryMB: 5000}, "memory_mb"},
		{Config{Timeout: Duration(time.Hour)}, "timeout"},
		{Config{Concurrency: 2, MinWarm: 3}, "min_warm"},
		{Config{Env: map[string]string{"1X": "y"}}, "env"},
	}
	for _, tt := range configs {
		err := tt.cfg.Defaults().Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want an ErrInvalidConfig about %s", tt.cfg, err, tt.want)
		}
	}
	if err := (Config{}).Defaults().Validate(); err != nil {
		t.Fatalf("defaults are invalid: %v", err)
	}
}

func TestDeleteUnknown(t *testing.T) {
	r := openRegistry(t)
	if err := r.Delete(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete unknown: %v", err)
	}
	if fns, err := r.List(context.Background()); err != nil || len(fns) != 0 {
		t.Fatalf("List on empty registry: %v %v", fns, err)
	}
}
