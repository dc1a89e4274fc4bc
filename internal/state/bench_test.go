package state_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/hearth-sh/hearth/internal/state"
)

// The benchmarks report latency percentiles next to ns/op:
//
//	go test -run XXX -bench . -benchtime 2000x ./internal/state/
//
// With HEARTH_TEST_REDIS_URL / HEARTH_TEST_POSTGRES_URL set (source
// .ci/services.sh) they cover redis and postgres too. "Set16" is 16
// concurrent writers; "Transact3" is one 3-operation transaction, which on
// nats is an atomic batch publish. "natskv" is nats.go's KV on the same
// embedded server with no hearth code in between: the baseline.

// latencies records one duration per operation and reports percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	pct := func(p float64) float64 { return float64(l.d[int(float64(len(l.d)-1)*p)].Nanoseconds()) / 1e3 }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

func benchStores(b *testing.B) map[string]state.Store {
	ctx := context.Background()
	js := startNATS(b)
	stores := map[string]state.Store{"memory": state.NewMemory(nil, state.Limits{})}
	n, err := state.NewNATS(ctx, js, state.NATSConfig{Bucket: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	stores["nats"] = n
	nc, err := state.NewNATS(ctx, js, state.NATSConfig{Bucket: "benchcached"})
	if err != nil {
		b.Fatal(err)
	}
	if stores["nats.cached"], err = state.NewCache(ctx, nc, state.CacheConfig{}); err != nil {
		b.Fatal(err)
	}
	raw, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "raw", History: 1})
	if err != nil {
		b.Fatal(err)
	}
	stores["natskv"] = rawKV{kv: raw}
	if url := os.Getenv("HEARTH_TEST_REDIS_URL"); url != "" {
		opts, err := redis.ParseURL(url)
		if err != nil {
			b.Fatal(err)
		}
		stores["redis"], _ = state.NewRedis(redis.NewClient(opts), state.RedisConfig{Namespace: "bench", CloseClient: true})
	}
	if url := os.Getenv("HEARTH_TEST_POSTGRES_URL"); url != "" {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		stores["postgres"], _ = state.NewPostgres(pool, state.PostgresConfig{Store: "bench", ClosePool: true})
	}
	b.Cleanup(func() {
		for _, s := range stores {
			_ = s.Close()
		}
	})
	return stores
}

func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	stores := benchStores(b)
	names := make([]string, 0, len(stores))
	for n := range stores {
		names = append(names, n)
	}
	slices.Sort(names)
	value := make([]byte, 128)
	for _, name := range names {
		s := stores[name]
		b.Run(name+"/Get", func(b *testing.B) {
			if _, err := s.Set(ctx, "get", value, state.SetOptions{}); err != nil {
				b.Fatal(err)
			}
			var l latencies
			l.d = make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := s.Get(ctx, "get"); err != nil {
					b.Fatal(err)
				}
				l.d = append(l.d, time.Since(t0))
			}
			l.report(b)
		})
		b.Run(name+"/Set", func(b *testing.B) {
			var l latencies
			l.d = make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := s.Set(ctx, "set"+strconv.Itoa(i%1000), value, state.SetOptions{}); err != nil {
					b.Fatal(err)
				}
				l.d = append(l.d, time.Since(t0))
			}
			l.report(b)
		})
		b.Run(name+"/Set16", func(b *testing.B) {
			var l latencies
			var mu sync.Mutex
			next := 0
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((16 + procs - 1) / procs)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				mu.Lock()
				w := next
				next++
				mu.Unlock()
				for i := 0; pb.Next(); i++ {
					t0 := time.Now()
					if _, err := s.Set(ctx, fmt.Sprintf("w%d-%d", w, i%100), value, state.SetOptions{}); err != nil {
						b.Error(err)
						return
					}
					l.add(time.Since(t0))
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
			l.report(b)
		})
		if _, raw := s.(rawKV); raw {
			continue
		}
		b.Run(name+"/Transact3", func(b *testing.B) {
			var l latencies
			l.d = make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ops := []state.Op{
					{Kind: state.OpSet, Key: "tx1", Value: value},
					{Kind: state.OpSet, Key: "tx2", Value: value},
					{Kind: state.OpDelete, Key: "tx3"},
				}
				t0 := time.Now()
				if err := s.Transact(ctx, ops); err != nil {
					b.Fatal(err)
				}
				l.d = append(l.d, time.Since(t0))
			}
			l.report(b)
		})
	}
}

// rawKV is nats.go's KV with nothing of hearth in between, for the
// baseline. Only Get, Set and Close are used.
type rawKV struct {
	state.Store
	kv jetstream.KeyValue
}

func (r rawKV) Get(ctx context.Context, key string) (state.Entry, error) {
	e, err := r.kv.Get(ctx, key)
	if err != nil {
		return state.Entry{}, err
	}
	return state.Entry{Value: e.Value(), ETag: strconv.FormatUint(e.Revision(), 10)}, nil
}

func (r rawKV) Set(ctx context.Context, key string, value []byte, _ state.SetOptions) (string, error) {
	rev, err := r.kv.Put(ctx, key, value)
	return strconv.FormatUint(rev, 10), err
}

func (r rawKV) Close() error { return nil }
