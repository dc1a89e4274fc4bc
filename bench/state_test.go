package bench

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestStateSmoke runs the state benchmark with tiny durations and checks
// that it reports every figure the issue names, each measured (not zero).
// With HEARTH_TEST_POSTGRES_URL set it covers postgres too.
func TestStateSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasm function and starts a node and redis-server")
	}
	for _, tool := range []string{"redis-server", "redis-benchmark"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("HEARTH_CI") == "1" {
				t.Fatalf("%s is not on PATH; .ci/run must install redis-server (Debian package redis-server)", tool)
			}
			t.Skipf("%s is not on PATH (Debian: apt-get install redis-server): skipping the state bench smoke run", tool)
		}
	}
	pg := os.Getenv("HEARTH_TEST_POSTGRES_URL")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := State(ctx, StateOptions{GuestDir: "stateguest", Duration: 100 * time.Millisecond, RedisRequests: 2000, PostgresURL: pg})
	if err != nil {
		t.Fatal(err)
	}
	backends := []string{"nats", "memory", "redis"}
	if pg != "" {
		backends = append(backends, "postgres")
	}
	var want []string
	for _, b := range backends {
		for _, fig := range []string{"get.p50_us", "get.p99_us", "set.p50_us", "set.p99_us", "set.ops_per_s",
			"set16.p50_us", "http.get.p50_us", "http.get.p99_us", "http.set.p50_us", "http.set.ops_per_s"} {
			want = append(want, "state."+b+"."+fig)
		}
	}
	want = append(want, "state.nats.get.cached.p50_us", "state.nats.get.cached.p99_us", "state.guest.clock.p50_us",
		"state.guest.codec.p50_us", "state.memory.get.hostcall.p50_us", "state.nats.get.hostcall.p50_us",
		"baseline.redis.get.p50_us", "baseline.redis.get.p99_us", "baseline.redis.set.p50_us", "baseline.redis.set.ops_per_s",
		"baseline.redis.get.ops_per_s", "baseline.natskv.get.p50_us", "baseline.natskv.put.p50_us",
		"baseline.natskv.put16.ops_per_s")
	for _, name := range want {
		if rep.Value(name) <= 0 {
			t.Errorf("result %s is missing or zero", name)
		}
	}
	if len(rep.Notes) < 6 {
		t.Errorf("want a note per target and one on the raw KV baseline, got %q", rep.Notes)
	}
	if t.Failed() || testing.Verbose() {
		_ = rep.WriteTable(os.Stderr)
	}
}

// BenchmarkState runs the full state benchmark once and prints its table
// (the same as `hearth bench state`):
//
//	go test -run XXX -bench State -benchtime 1x ./bench/
func BenchmarkState(b *testing.B) {
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		b.Skip("redis-benchmark is not on PATH (Debian: apt-get install redis-server)")
	}
	for range b.N {
		rep, err := State(context.Background(), StateOptions{GuestDir: "stateguest", PostgresURL: os.Getenv("HEARTH_TEST_POSTGRES_URL")})
		if err != nil {
			b.Fatal(err)
		}
		_ = rep.WriteTable(os.Stdout)
	}
}
