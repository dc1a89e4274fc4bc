package state_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hearth-sh/hearth/internal/state"
	"github.com/hearth-sh/hearth/internal/state/statetest"
)

func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(statetest.ServiceURL(t, "HEARTH_TEST_REDIS_URL"))
	if err != nil {
		t.Fatalf("HEARTH_TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s: %v", opts.Addr, err)
	}
	return rdb
}

// testNamespace returns a namespace no other run uses, and removes its keys
// when the test ends.
func redisNamespace(t *testing.T, rdb *redis.Client, n int) string {
	ns := fmt.Sprintf("test-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), n)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, "hearth:{"+ns+"}:*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return ns
}

func TestRedisConformance(t *testing.T) {
	rdb := redisClient(t)
	n := 0
	statetest.Run(t, func(t *testing.T) statetest.Harness {
		n++
		s, err := state.NewRedis(rdb, state.RedisConfig{Namespace: redisNamespace(t, rdb, n)})
		if err != nil {
			t.Fatalf("NewRedis: %v", err)
		}
		return statetest.Harness{Store: s, RealTTL: 300 * time.Millisecond}
	})
}

// TestRedisDown checks that a Redis that cannot be reached is reported as
// ErrUnavailable, not as a missing key or a conflict.
func TestRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	s, err := state.NewRedis(rdb, state.RedisConfig{Namespace: "down", CloseClient: true})
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	_, err = s.Get(ctx, "k")
	if !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Get on a down redis: %v, want ErrUnavailable", err)
	}
	_, err = s.Set(ctx, "k", []byte("v"), state.SetOptions{})
	if !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Set on a down redis: %v, want ErrUnavailable", err)
	}
}

// TestRedisRecovers stops the Redis server under a store and starts it
// again: calls fail with ErrUnavailable meanwhile and work again after,
// with the same store and client.
func TestRedisRecovers(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not in PATH; run `source .ci/services.sh` to install it")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	l.Close()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	s, err := state.NewRedis(rdb, state.RedisConfig{Namespace: "recover", CloseClient: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	waitUp := func() {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := s.Set(ctx, "k", []byte("v"), state.SetOptions{}); err == nil {
				return
			} else if !errors.Is(err, state.ErrUnavailable) {
				t.Fatalf("Set while redis starts: %v, want ErrUnavailable or success", err)
			}
			if time.Now().After(deadline) {
				t.Fatal("redis-server did not come up within 10s")
			}
			<-tick.C
		}
	}
	cmd := start()
	waitUp()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, err := s.Get(ctx, "k"); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Get with redis stopped: %v, want ErrUnavailable", err)
	}
	start()
	waitUp()
	if _, err := s.Get(ctx, "k"); err != nil {
		t.Fatalf("Get after redis came back: %v", err)
	}
}
