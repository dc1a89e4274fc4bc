package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/backbone"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/wasmbuild"
)

// StateOptions configure the state benchmark.
type StateOptions struct {
	// PostgresURL adds the postgres backend (postgres://...; no commas).
	PostgresURL string
	// GuestDir is the bench's Go function (default ./bench/stateguest).
	GuestDir string
	// Duration of each measured run, after a warm-up of up to 300 ms
	// (default 2 s).
	Duration time.Duration
	// RedisRequests is redis-benchmark's -n for each of its runs (default
	// 100000).
	RedisRequests int
}

// stateWriters is the concurrency of the throughput runs, as the issue
// names it (16 writers) and as redis-benchmark -c 16 runs.
const stateWriters = 16

// stateValueSize is the size of every value written and read, here and in
// redis-benchmark (-d).
const stateValueSize = 128

// stateBench is one run of the state benchmark.
type stateBench struct {
	opts   StateOptions
	warm   time.Duration
	node   *node.Node
	client *client.Client
	rep    *Report
}

// State measures state operations on every backend (nats, memory, redis,
// and postgres with opts.PostgresURL) from inside a wasm function through
// host calls and over the HTTP API, next to redis-benchmark against the
// same redis-server and nats.go's raw KV on an embedded server, all in one
// run. It starts redis-server from PATH on a free port and stops it.
func State(ctx context.Context, opts StateOptions) (*Report, error) {
	if opts.GuestDir == "" {
		opts.GuestDir = "./bench/stateguest"
	}
	if opts.Duration <= 0 {
		opts.Duration = 2 * time.Second
	}
	if opts.RedisRequests <= 0 {
		opts.RedisRequests = 100000
	}
	if strings.Contains(opts.PostgresURL, ",") {
		return nil, errors.New("the postgres URL must not contain a comma (it is part of a store spec)")
	}
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		return nil, fmt.Errorf("redis-benchmark is not on PATH (Debian: apt-get install redis-server): %w", err)
	}
	wasm, err := wasmbuild.Build(ctx, opts.GuestDir)
	if err != nil {
		return nil, fmt.Errorf("build the state bench function: %w", err)
	}
	dir, err := os.MkdirTemp("", "hearth-bench-state-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	redisAddr, stopRedis, err := startRedis(ctx, filepath.Join(dir, "redis"))
	if err != nil {
		return nil, err
	}
	defer stopRedis()

	backends := []string{"nats", "memory", "redis"}
	stores := []string{"nats=nats", "memory=memory", "redis=redis://" + redisAddr + "/0", "natscached=nats,cache=10000:5s"}
	if opts.PostgresURL != "" {
		backends = append(backends, "postgres")
		stores = append(stores, "postgres="+opts.PostgresURL)
	}
	n, err := node.Start(ctx, node.Config{DataDir: filepath.Join(dir, "node"), Listen: "127.0.0.1:0", Stores: stores,
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, err
	}
	defer n.Stop(context.Background())
	b := &stateBench{opts: opts, warm: min(300*time.Millisecond, opts.Duration), node: n, client: client.New(n.URL()),
		rep: &Report{Bench: "state"}}
	cfg := client.FunctionConfig{Concurrency: stateWriters, MinWarm: stateWriters, MemoryMB: 256}
	if _, err := b.client.Deploy(ctx, "statebench", cfg, wasm); err != nil {
		return nil, fmt.Errorf("deploy the state bench function: %w", err)
	}
	// Start every instance before anything is measured: a cold start
	// would delay a writer past the common start of a concurrent run.
	if _, _, err := b.guestWriters(ctx, guestRun{Store: "memory", Op: "clock"}); err != nil {
		return nil, fmt.Errorf("warm up: %w", err)
	}
	clock, err := b.guest(ctx, guestRun{Store: "memory", Op: "clock"})
	if err != nil {
		return nil, err
	}
	b.addLatency("state.guest.clock", clock)
	if err := b.breakdown(ctx); err != nil {
		return nil, err
	}

	for _, backend := range backends {
		if err := b.backend(ctx, backend); err != nil {
			return nil, fmt.Errorf("backend %s: %w", backend, err)
		}
	}
	cached, err := b.guest(ctx, guestRun{Store: "natscached", Op: "get"})
	if err != nil {
		return nil, fmt.Errorf("cached get: %w", err)
	}
	b.addLatency("state.nats.get.cached", cached)

	if err := b.natsBaseline(ctx, dir); err != nil {
		return nil, fmt.Errorf("raw nats KV baseline: %w", err)
	}
	if err := b.redisBaseline(ctx, redisAddr); err != nil {
		return nil, fmt.Errorf("redis-benchmark baseline: %w", err)
	}
	b.targets()
	return b.rep, nil
}

// backend measures one store: host calls from the function, then HTTP.
func (b *stateBench) backend(ctx context.Context, store string) error {
	prefix := "state." + store
	get, err := b.guest(ctx, guestRun{Store: store, Op: "get"})
	if err != nil {
		return fmt.Errorf("host-call get: %w", err)
	}
	b.addLatency(prefix+".get", get)
	set, err := b.guest(ctx, guestRun{Store: store, Op: "set"})
	if err != nil {
		return fmt.Errorf("host-call set: %w", err)
	}
	b.addLatency(prefix+".set", set)
	rate, set16, err := b.guestWriters(ctx, guestRun{Store: store, Op: "set"})
	if err != nil {
		return fmt.Errorf("host-call set, %d writers: %w", stateWriters, err)
	}
	b.rep.Add(prefix+".set.ops_per_s", rate, "ops/s")
	b.addLatency(prefix+".set16", set16)

	base := b.node.URL() + "/v1/state/" + store + "/"
	value := bytes.Repeat([]byte("v"), stateValueSize)
	clients := make([]*http.Client, stateWriters)
	for i := range clients {
		clients[i] = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}}
		defer clients[i].CloseIdleConnections()
	}
	if err := httpState(ctx, clients[0], http.MethodPut, base+"http/get", value); err != nil {
		return err
	}
	res, err := opLoop(ctx, 1, b.warm, b.opts.Duration, func(_, _ int) error {
		return httpState(ctx, clients[0], http.MethodGet, base+"http/get", nil)
	})
	if err != nil {
		return fmt.Errorf("http get: %w", err)
	}
	b.addLatency(prefix+".http.get", res.latencies)
	res, err = opLoop(ctx, 1, b.warm, b.opts.Duration, func(_, i int) error {
		return httpState(ctx, clients[0], http.MethodPut, base+"http/set/"+strconv.Itoa(i%100), value)
	})
	if err != nil {
		return fmt.Errorf("http set: %w", err)
	}
	b.addLatency(prefix+".http.set", res.latencies)
	res, err = opLoop(ctx, stateWriters, b.warm, b.opts.Duration, func(w, i int) error {
		return httpState(ctx, clients[w], http.MethodPut, base+"http/set16/"+strconv.Itoa(w)+"/"+strconv.Itoa(i%100), value)
	})
	if err != nil {
		return fmt.Errorf("http set, %d clients: %w", stateWriters, err)
	}
	b.rep.Add(prefix+".http.set.ops_per_s", res.rps(), "ops/s")
	return nil
}

// breakdown takes a host-call Get apart: the state payload's general
// encoder and decoder alone (no host call), and the host call alone with its
// input encoded once and its answer left undecoded, on the memory store (no
// backend cost) and on nats.
func (b *stateBench) breakdown(ctx context.Context) error {
	codec, err := b.guest(ctx, guestRun{Store: "memory", Op: "codec"})
	if err != nil {
		return fmt.Errorf("guest codec: %w", err)
	}
	b.addLatency("state.guest.codec", codec)
	for _, store := range []string{"memory", "nats"} {
		raw, err := b.guest(ctx, guestRun{Store: store, Op: "rawget"})
		if err != nil {
			return fmt.Errorf("raw host call: %w", err)
		}
		b.addLatency("state."+store+".get.hostcall", raw)
	}
	return nil
}

// guestRun is the request of bench/stateguest.
type guestRun struct {
	Store          string `json:"store"`
	Op             string `json:"op"`
	Writer         int    `json:"writer"`
	Keys           int    `json:"keys"`
	ValueSize      int    `json:"value_size"`
	StartUnixNano  int64  `json:"start_unix_nano,omitempty"`
	WarmupMillis   int64  `json:"warmup_ms"`
	DurationMillis int64  `json:"duration_ms"`
	MaxOps         int    `json:"max_ops"`
}

// guest runs r in one invocation of the bench function and returns the
// latencies the function measured.
func (b *stateBench) guest(ctx context.Context, r guestRun) ([]time.Duration, error) {
	r.Keys, r.ValueSize = 100, stateValueSize
	r.WarmupMillis, r.DurationMillis = b.warm.Milliseconds(), max(1, b.opts.Duration.Milliseconds())
	if r.MaxOps == 0 {
		r.MaxOps = 1 << 20 // 4 MiB of answer, within the 6 MiB response limit
	}
	in, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	res, err := b.client.Invoke(ctx, "statebench", in)
	if err != nil {
		return nil, err
	}
	if res.FunctionError != "" {
		return nil, fmt.Errorf("%s %s: %s: %s", r.Op, r.Store, res.FunctionError, res.Body)
	}
	if len(res.Body)%4 != 0 {
		return nil, fmt.Errorf("%s %s: answer of %d bytes is not a list of uint32", r.Op, r.Store, len(res.Body))
	}
	lat := make([]time.Duration, len(res.Body)/4)
	for i := range lat {
		lat[i] = time.Duration(binary.LittleEndian.Uint32(res.Body[4*i:]))
	}
	return lat, nil
}

// guestWriters runs r in stateWriters concurrent invocations that start
// together on the wall clock and stop together, and returns their
// aggregate rate and all their latencies.
func (b *stateBench) guestWriters(ctx context.Context, r guestRun) (float64, []time.Duration, error) {
	// Far enough ahead for every invocation to reach its instance.
	r.StartUnixNano = time.Now().Add(200 * time.Millisecond).UnixNano()
	r.MaxOps = 1 << 18
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		all  []time.Duration
		errs []error
	)
	for w := range stateWriters {
		wg.Go(func() {
			r := r
			r.Writer = w
			lat, err := b.guest(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			all = append(all, lat...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, nil, err
	}
	return float64(len(all)) / b.opts.Duration.Seconds(), all, nil
}

// httpState does one request of the native state API and checks its status.
func httpState(ctx context.Context, c *http.Client, method, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	return nil
}

// opLoop runs workers goroutines calling op back to back for warm+d and
// records the latency of every call that started after warm.
func opLoop(ctx context.Context, workers int, warm, d time.Duration, op func(worker, i int) error) (loadResult, error) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		res  loadResult
		errs []error
	)
	measureFrom := time.Now().Add(warm)
	end := measureFrom.Add(d)
	for w := range workers {
		wg.Go(func() {
			var lat []time.Duration
			var err error
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				if err = op(w, i); err != nil {
					break
				}
				if !t0.Before(measureFrom) {
					lat = append(lat, time.Since(t0))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.latencies = append(res.latencies, lat...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	res.requests, res.elapsed = len(res.latencies), d
	return res, errors.Join(append(errs, ctx.Err())...)
}

func (b *stateBench) addLatency(name string, lat []time.Duration) {
	b.rep.Add(name+".p50_us", us(percentile(lat, 50)), "µs")
	b.rep.Add(name+".p99_us", us(percentile(lat, 99)), "µs")
}

// natsBaseline measures nats.go's KV Get and Put with nothing of hearth in
// between: on the node's own embedded server when the node exposes its
// backbone, else on a second embedded server opened by the same code with
// the same options, in this process.
func (b *stateBench) natsBaseline(ctx context.Context, dir string) error {
	var js jetstream.JetStream
	if bb, ok := any(b.node).(interface{ Backbone() *backbone.Backbone }); ok {
		js = bb.Backbone().JS
		b.rep.Notes = append(b.rep.Notes, "raw KV baseline: nats.go on the node's own embedded server")
	} else {
		bb, err := backbone.Open(ctx, backbone.Config{DataDir: filepath.Join(dir, "rawnats")})
		if err != nil {
			return err
		}
		defer bb.Close()
		js = bb.JS
		b.rep.Notes = append(b.rep.Notes, "raw KV baseline: nats.go on a second embedded server opened like the node's (internal/backbone, same options, in-process connection)")
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "hearth_bench_raw", History: 1})
	if err != nil {
		return err
	}
	defer js.DeleteKeyValue(context.Background(), "hearth_bench_raw")
	value := bytes.Repeat([]byte("v"), stateValueSize)
	for i := range 100 {
		if _, err := kv.Put(ctx, "get."+strconv.Itoa(i), value); err != nil {
			return err
		}
	}
	get, err := opLoop(ctx, 1, b.warm, b.opts.Duration, func(_, i int) error {
		_, err := kv.Get(ctx, "get."+strconv.Itoa(i%100))
		return err
	})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	b.addLatency("baseline.natskv.get", get.latencies)
	put, err := opLoop(ctx, 1, b.warm, b.opts.Duration, func(_, i int) error {
		_, err := kv.Put(ctx, "put."+strconv.Itoa(i%100), value)
		return err
	})
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	b.addLatency("baseline.natskv.put", put.latencies)
	put16, err := opLoop(ctx, stateWriters, b.warm, b.opts.Duration, func(w, i int) error {
		_, err := kv.Put(ctx, "put16."+strconv.Itoa(w)+"."+strconv.Itoa(i%100), value)
		return err
	})
	if err != nil {
		return fmt.Errorf("put, %d writers: %w", stateWriters, err)
	}
	b.rep.Add("baseline.natskv.put16.ops_per_s", put16.rps(), "ops/s")
	b.addLatency("baseline.natskv.put16", put16.latencies)
	return nil
}

// redisBaseline runs redis-benchmark GET and SET against the bench's
// redis-server with one client (latency) and with 16 (throughput).
func (b *stateBench) redisBaseline(ctx context.Context, addr string) error {
	one, err := redisBenchmark(ctx, addr, 1, b.opts.RedisRequests)
	if err != nil {
		return err
	}
	many, err := redisBenchmark(ctx, addr, stateWriters, b.opts.RedisRequests)
	if err != nil {
		return err
	}
	for _, test := range []string{"get", "set"} {
		b.rep.Add("baseline.redis."+test+".p50_us", one[test].p50us, "µs")
		b.rep.Add("baseline.redis."+test+".p99_us", one[test].p99us, "µs")
		b.rep.Add("baseline.redis."+test+".ops_per_s", many[test].rps, "ops/s")
	}
	return nil
}

// redisFigures is one test row of redis-benchmark --csv.
type redisFigures struct{ rps, p50us, p99us float64 }

// redisBenchmark runs redis-benchmark's GET and SET tests with the bench's
// value size over 1000 random keys and reads its CSV: a header row, then
// "TEST","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...,
// "p99_latency_ms","max_latency_ms" (redis-benchmark 7).
func redisBenchmark(ctx context.Context, addr string, clients, requests int) (map[string]redisFigures, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "redis-benchmark", "-h", host, "-p", port, "-c", strconv.Itoa(clients),
		"-n", strconv.Itoa(requests), "-d", strconv.Itoa(stateValueSize), "-r", "1000", "-t", "get,set", "--csv")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark -c %d (Debian: apt-get install redis-tools): %w", clients, err)
	}
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 2 {
		return nil, fmt.Errorf("redis-benchmark -c %d printed no CSV table: %q", clients, out)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"test", "rps", "p50_latency_ms", "p99_latency_ms"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("redis-benchmark's CSV has no %q column (header %v)", h, rows[0])
		}
	}
	figs := map[string]redisFigures{}
	for _, row := range rows[1:] {
		var f [3]float64
		for i, h := range []string{"rps", "p50_latency_ms", "p99_latency_ms"} {
			if f[i], err = strconv.ParseFloat(row[col[h]], 64); err != nil {
				return nil, fmt.Errorf("redis-benchmark's %s %s: %w", row[col["test"]], h, err)
			}
		}
		figs[strings.ToLower(row[col["test"]])] = redisFigures{rps: f[0], p50us: f[1] * 1000, p99us: f[2] * 1000}
	}
	for _, test := range []string{"get", "set"} {
		if _, ok := figs[test]; !ok {
			return nil, fmt.Errorf("redis-benchmark -c %d reported no %s test: %q", clients, strings.ToUpper(test), out)
		}
	}
	return figs, nil
}

// startRedis runs redis-server from PATH on a free loopback port with its
// files in dir and no persistence, and waits until it answers.
func startRedis(ctx context.Context, dir string) (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("redis-server is not on PATH (Debian: apt-get install redis-server): %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--dir", dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start redis-server: %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	rc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := rc.Ping(ctx).Err()
		if err == nil {
			return addr, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			return "", nil, fmt.Errorf("redis-server on %s did not answer within 10 s: %v\n%s", addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// targets compares the figures with the targets.
func (b *stateBench) targets() {
	v := b.rep.Value
	b.rep.Notes = append(b.rep.Notes,
		fmt.Sprintf("cached host-call Get p50 %.1f µs (target ≤ 5 µs); the guest's clock adds %.1f µs to every timed op",
			v("state.nats.get.cached.p50_us"), v("state.guest.clock.p50_us")),
		fmt.Sprintf("uncached host-call Get p50 is %.2f× raw KV Get p50 %.1f µs (target ≤ 2×)",
			v("state.nats.get.p50_us")/v("baseline.natskv.get.p50_us"), v("baseline.natskv.get.p50_us")),
		fmt.Sprintf("16-writer host-call Set %.0f ops/s is %.0f%% of raw KV Put %.0f ops/s (target ≥ 75%% and ≥ 30000 ops/s)",
			v("state.nats.set.ops_per_s"), 100*v("state.nats.set.ops_per_s")/v("baseline.natskv.put16.ops_per_s"),
			v("baseline.natskv.put16.ops_per_s")),
		fmt.Sprintf("embedded host-call Get p50 %.1f µs vs redis-benchmark -c 1 GET p50 %.1f µs (target: below)",
			v("state.nats.get.p50_us"), v("baseline.redis.get.p50_us")),
		fmt.Sprintf("where a host-call Get's time goes (p50): the general binary encoder and decoder in the guest %.1f µs "+
			"(the SDK's Get has a leaner path); the host call alone %.1f µs on memory, %.1f µs on nats (%.2f× raw KV Get)",
			v("state.guest.codec.p50_us"), v("state.memory.get.hostcall.p50_us"), v("state.nats.get.hostcall.p50_us"),
			v("state.nats.get.hostcall.p50_us")/v("baseline.natskv.get.p50_us")))
}
