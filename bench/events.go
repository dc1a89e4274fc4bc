package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/async"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/wasmbuild"
)

// EventsOptions configure the events benchmark.
type EventsOptions struct {
	// GuestDir is the Go function to build (default ./bench/eventsguest):
	// the subscriber of the publish → handler timing, and a Go SDK no-op.
	GuestDir string
	// NoopWAT is the no-op whose async invocations are counted (default
	// ./bench/eventsnoop/noop.wat, assembled with wat2wasm): a function
	// that does no work of its own, so that the figures are hearth's.
	NoopWAT string
	// Duration of each rate measurement (default 5 s).
	Duration time.Duration
	// Clients is how many concurrent HTTP clients and NATS publishers
	// (default 16, the figure).
	Clients int
	// WorkQueueMessages is how many messages the raw work-queue loop moves,
	// and how many invocations the accept-then-drain runs queue, so that
	// both drain the same count (default 100,000).
	WorkQueueMessages int
	// LatencySamples is how many publish → handler round trips to time
	// (default 2,000).
	LatencySamples int
	// Concurrency of the no-op function: how many async invocations run at
	// once (default 8).
	Concurrency int
	// Rounds is how many times the no-op's accept and drain are measured,
	// each time beside a run of the raw loops (default 5); the figures
	// are the medians.
	Rounds int
	// SyncAlways runs the node with every backbone write fsynced (hearth up
	// --sync always), hearth's side and the raw loops alike, to state what
	// that setting costs.
	SyncAlways bool
}

func (o *EventsOptions) defaults() {
	if o.GuestDir == "" {
		o.GuestDir = "./bench/eventsguest"
	}
	if o.NoopWAT == "" {
		o.NoopWAT = "./bench/eventsnoop/noop.wat"
	}
	if o.Duration == 0 {
		o.Duration = 5 * time.Second
	}
	if o.Clients == 0 {
		o.Clients = 16
	}
	if o.WorkQueueMessages == 0 {
		o.WorkQueueMessages = 100_000
	}
	if o.LatencySamples == 0 {
		o.LatencySamples = 2000
	}
	if o.Concurrency == 0 {
		o.Concurrency = 8
	}
	if o.Rounds == 0 {
		o.Rounds = 5
	}
}

// Events measures hearth's asynchronous path on an in-process node, and
// beside it the raw rates of the node's own embedded JetStream server
// through nats.go, in one run. The no-op's accept and drain, and the raw
// publish and work-queue loops, are measured Rounds times, side by side
// (see eventRounds); their figures are medians over the rounds.
//
//   - events.async.accepted_per_s: WorkQueueMessages async invokes
//     answered 202, from Clients concurrent HTTP clients, while the
//     function's queue is held (see asyncRates);
//   - events.async.completed_per_s: that backlog run to the end by the
//     no-op function (record written, message acked);
//   - events.async.sustained_per_s: accepting and completing at once;
//   - events.async.go_sdk.completed_per_s: completed/s for a no-op written
//     with the Go SDK, whose runtime's own work in the guest is in it;
//   - the process's CPU time per accepted and per completed invocation;
//   - baseline.jetstream.publish_per_s: WorkQueueMessages synchronous
//     publishes (each waits for its ack) from Clients publishers, each
//     with its own TCP connection to the node's NATS port, as each HTTP
//     client of the accept run has its own connection to the API;
//   - baseline.jetstream.publish_inprocess_per_s: the same publishes from
//     Clients goroutines over the node's own in-process connection, which
//     crosses no socket: a bound that no client over the network reaches;
//   - baseline.jetstream.workqueue_per_s: a work-queue stream's
//     publish → fetch (batches of 100) → ack loop over the in-process
//     connection, the one hearth's workers use;
//   - events.async.accepted_pct_of_publish, accepted_pct_of_inprocess_publish
//     and completed_pct_of_workqueue: the median over rounds of each
//     round's ratio of hearth's rate to the raw one beside it;
//   - events.pubsub.latency.p50_ms / p99_ms: one event at a time published
//     over HTTP to a topic, until the subscribed function's reply event is
//     seen on the backbone. The reply is one more publish, so this is an
//     upper bound of publish → handler.
func Events(ctx context.Context, opts EventsOptions) (*Report, error) {
	opts.defaults()
	goWasm, err := wasmbuild.Build(ctx, opts.GuestDir)
	if err != nil {
		return nil, fmt.Errorf("build the events guest: %w", err)
	}
	noopWasm, err := assembleWAT(ctx, opts.NoopWAT)
	if err != nil {
		return nil, fmt.Errorf("the no-op function: %w", err)
	}
	dir, err := os.MkdirTemp("", "hearth-bench-events-")
	if err != nil {
		return nil, fmt.Errorf("events bench data directory: %w", err)
	}
	defer os.RemoveAll(dir)
	n, err := node.Start(ctx, node.Config{DataDir: dir, Listen: "127.0.0.1:0", NATSListen: "127.0.0.1:0", SyncAlways: opts.SyncAlways,
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	defer n.Stop(context.Background())
	c := client.New(n.URL())
	cfg := client.FunctionConfig{Concurrency: opts.Concurrency, MinWarm: opts.Concurrency}
	if _, err := c.Deploy(ctx, "noop", cfg, noopWasm); err != nil {
		return nil, fmt.Errorf("deploy the no-op function: %w", err)
	}
	if _, err := c.Deploy(ctx, "gonoop", cfg, goWasm); err != nil {
		return nil, fmt.Errorf("deploy the events guest: %w", err)
	}

	rep := &Report{Bench: "events"}
	rounds, err := eventRounds(ctx, n, opts)
	if err != nil {
		return nil, err
	}
	accepted := median(pick(rounds, func(r eventRound) float64 { return r.hearth.accepted }))
	completed := median(pick(rounds, func(r eventRound) float64 { return r.hearth.completed }))
	pub := median(pick(rounds, func(r eventRound) float64 { return r.publish }))
	pubInProcess := median(pick(rounds, func(r eventRound) float64 { return r.publishInProcess }))
	wq := median(pick(rounds, func(r eventRound) float64 { return r.workQueue }))
	acceptPct := median(pick(rounds, eventRound.acceptPct))
	acceptPctInProcess := median(pick(rounds, eventRound.acceptPctInProcess))
	completePct := median(pick(rounds, eventRound.completePct))
	rep.Add("events.async.accepted_per_s", accepted, "inv/s")
	rep.Add("events.async.completed_per_s", completed, "inv/s")
	rep.Add("events.async.accept_cpu_us", median(pick(rounds, func(r eventRound) float64 { return us(r.hearth.acceptCPU) })), "µs/inv")
	rep.Add("events.async.complete_cpu_us", median(pick(rounds, func(r eventRound) float64 { return us(r.hearth.drainCPU) })), "µs/inv")
	rep.Add("events.async.accepted_pct_of_publish", acceptPct, "%")
	rep.Add("events.async.accepted_pct_of_inprocess_publish", acceptPctInProcess, "%")
	rep.Add("events.async.completed_pct_of_workqueue", completePct, "%")
	sustained, err := sustainedRate(ctx, n, opts, "noop")
	if err != nil {
		return nil, err
	}
	rep.Add("events.async.sustained_per_s", sustained, "inv/s")
	goRates, err := asyncRates(ctx, n, opts, "gonoop")
	if err != nil {
		return nil, err
	}
	rep.Add("events.async.go_sdk.completed_per_s", goRates.completed, "inv/s")
	rep.Add("events.async.go_sdk.complete_cpu_us", us(goRates.drainCPU), "µs/inv")

	p50, p99, err := pubsubLatency(ctx, n, c, "gonoop", opts.LatencySamples)
	if err != nil {
		return nil, err
	}
	rep.Add("events.pubsub.latency.p50_ms", ms(p50), "ms")
	rep.Add("events.pubsub.latency.p99_ms", ms(p99), "ms")
	rep.Add("baseline.jetstream.publish_per_s", pub, "msg/s")
	rep.Add("baseline.jetstream.publish_inprocess_per_s", pubInProcess, "msg/s")
	rep.Add("baseline.jetstream.workqueue_per_s", wq, "msg/s")

	var perRound []string
	for i, r := range rounds {
		perRound = append(perRound, fmt.Sprintf("round %d: accepted %.0f/s = %.0f%% of %.0f/s over TCP (%.0f%% of %.0f/s in process), completed %.0f/s = %.0f%% of %.0f/s",
			i+1, r.hearth.accepted, r.acceptPct(), r.publish, r.acceptPctInProcess(), r.publishInProcess,
			r.hearth.completed, r.completePct(), r.workQueue))
	}
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("completed %.0f inv/s (target ≥ 15,000); %.0f inv/s for the Go SDK no-op", completed, goRates.completed),
		fmt.Sprintf("sustained %.0f inv/s: accepting and completing at once, from the first accept until the queue is empty", sustained),
		fmt.Sprintf("accepted/s is %.0f%% of the raw sync publish rate from %d publishers over TCP (target ≥ 50%%; median of %d rounds, each measured beside its own raw run)", acceptPct, opts.Clients, len(rounds)),
		fmt.Sprintf("accepted/s is %.0f%% of the raw sync publish rate over the in-process connection, which crosses no socket", acceptPctInProcess),
		fmt.Sprintf("completed/s is %.0f%% of the raw work-queue loop (target ≥ 50%%; median of %d rounds)", completePct, len(rounds)))
	rep.Notes = append(rep.Notes, perRound...)
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("publish → handler p50 %.2f ms (target < 1 ms; measured to the handler's reply event)", ms(p50)))
	return rep, nil
}

// eventRound is one round of the comparison: hearth's accept and drain
// of the no-op, and the raw JetStream rates measured next to them.
type eventRound struct {
	hearth asyncResult
	// publish is the raw publish rate over TCP; publishInProcess over the
	// in-process connection.
	publish, publishInProcess, workQueue float64
}

// acceptPct is hearth's accepted/s in percent of the raw publish rate over TCP.
func (r eventRound) acceptPct() float64 { return 100 * r.hearth.accepted / r.publish }

// acceptPctInProcess is hearth's accepted/s in percent of the raw publish
// rate over the in-process connection.
func (r eventRound) acceptPctInProcess() float64 { return 100 * r.hearth.accepted / r.publishInProcess }

// completePct is hearth's completed/s in percent of the raw work-queue loop.
func (r eventRound) completePct() float64 { return 100 * r.hearth.completed / r.workQueue }

// eventRounds measures opts.Rounds rounds of hearth's no-op against the
// raw JetStream loops, each half of a round right after the other and in
// alternating order, so that a machine that slows down or speeds up over
// the run weighs on both sides of a ratio alike.
func eventRounds(ctx context.Context, n *node.Node, opts EventsOptions) ([]eventRound, error) {
	overTCP, closeTCP, err := dialPublishers(n.Backbone().ClientURL(), opts.Clients)
	if err != nil {
		return nil, err
	}
	defer closeTCP()
	inProcess := make([]jetstream.JetStream, opts.Clients)
	for i := range inProcess {
		inProcess[i] = n.Backbone().JS
	}
	rounds := make([]eventRound, opts.Rounds)
	for i := range rounds {
		r := &rounds[i]
		hearth := func() (err error) {
			r.hearth, err = asyncRates(ctx, n, opts, "noop")
			return err
		}
		raw := func() (err error) {
			if r.publish, err = rawPublishRate(ctx, overTCP, opts.WorkQueueMessages, opts.Duration); err != nil {
				return fmt.Errorf("baseline publish over TCP: %w", err)
			}
			if r.publishInProcess, err = rawPublishRate(ctx, inProcess, opts.WorkQueueMessages, opts.Duration); err != nil {
				return fmt.Errorf("baseline publish in process: %w", err)
			}
			if r.workQueue, err = rawWorkQueueRate(ctx, n.Backbone().JS, opts.WorkQueueMessages); err != nil {
				return fmt.Errorf("baseline work queue: %w", err)
			}
			return nil
		}
		first, second := hearth, raw
		if i%2 == 1 {
			first, second = raw, hearth
		}
		if err := first(); err != nil {
			return nil, err
		}
		if err := second(); err != nil {
			return nil, err
		}
	}
	return rounds, nil
}

// pick returns f of each round.
func pick(rounds []eventRound, f func(eventRound) float64) []float64 {
	xs := make([]float64, len(rounds))
	for i, r := range rounds {
		xs[i] = f(r)
	}
	return xs
}

// asyncRates times the async path of fn two ways, each from
// opts.Clients HTTP clients queueing invocations:
//
//   - accepted: as many invocations as the raw work-queue loop moves
//     messages (opts.WorkQueueMessages; fewer if opts.Duration ends
//     first), with the node's worker for fn held back
//     (async.Service.HoldQueue), so that accepting has the machine to
//     itself, as the raw publishers have;
//   - completed: the worker, resumed, draining that backlog, as the raw
//     work-queue loop drains its stream.
func asyncRates(ctx context.Context, n *node.Node, opts EventsOptions, fn string) (r asyncResult, err error) {
	resume, err := n.Async().HoldQueue(ctx, fn)
	if err != nil {
		return r, fmt.Errorf("hold the %s function's queue: %w", fn, err)
	}
	cpu0, err := processCPU()
	if err != nil {
		return r, err
	}
	backlog, took, err := postAsyncFor(ctx, n, opts, fn, int64(opts.WorkQueueMessages))
	if err != nil {
		return r, err
	}
	cpu1, err := processCPU()
	if err != nil {
		return r, err
	}
	r.accepted = float64(backlog) / took.Seconds()
	r.acceptCPU = (cpu1 - cpu0) / time.Duration(backlog)
	start := time.Now()
	if err := resume(ctx); err != nil {
		return r, fmt.Errorf("resume the %s function's queue: %w", fn, err)
	}
	if err := awaitEmptyQueue(ctx, n, fn); err != nil {
		return r, err
	}
	r.completed = float64(backlog) / time.Since(start).Seconds()
	cpu2, err := processCPU()
	if err != nil {
		return r, err
	}
	r.drainCPU = (cpu2 - cpu1) / time.Duration(backlog)
	return r, nil
}

// sustainedRate is fn's rate with accepting and completing at once: async
// invokes from opts.Clients clients for opts.Duration, from the first
// accept until the queue is empty.
func sustainedRate(ctx context.Context, n *node.Node, opts EventsOptions, fn string) (float64, error) {
	start := time.Now()
	count, _, err := postAsyncFor(ctx, n, opts, fn, 0)
	if err != nil {
		return 0, err
	}
	if err := awaitEmptyQueue(ctx, n, fn); err != nil {
		return 0, err
	}
	return float64(count) / time.Since(start).Seconds(), nil
}

// asyncResult is what asyncRates measures: rates in invocations/s, and
// the process's CPU time (the bench's clients included) per invocation.
type asyncResult struct {
	accepted, completed, sustained float64
	acceptCPU, drainCPU            time.Duration
}

// postAsyncFor queues async invocations of fn from opts.Clients clients,
// limit of them (0: no limit) or for opts.Duration, whichever comes first,
// and returns how many were accepted, in how long.
func postAsyncFor(ctx context.Context, n *node.Node, opts EventsOptions, fn string, limit int64) (int64, time.Duration, error) {
	var (
		count    atomic.Int64
		claimed  atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	if limit == 0 {
		limit = math.MaxInt64
	}
	start := time.Now()
	end := start.Add(opts.Duration)
	for range opts.Clients {
		wg.Go(func() {
			err := func() error {
				c, err := dialHTTP(ctx, n.Addr().String())
				if err != nil {
					return err
				}
				defer c.Close()
				req := c.asyncRequest("/v1/functions/" + fn + "/invoke")
				for ctx.Err() == nil && time.Now().Before(end) && claimed.Add(1) <= limit {
					if err := c.post(req); err != nil {
						return err
					}
					count.Add(1)
				}
				return nil
			}()
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, 0, fmt.Errorf("async invokes: %w", firstErr)
	}
	return count.Load(), time.Since(start), nil
}

// awaitEmptyQueue waits until fn's queue is empty. It is a work-queue
// stream: a finished invocation's message is acked and gone, so an empty
// consumer means every one completed.
func awaitEmptyQueue(ctx context.Context, n *node.Node, fn string) error {
	cons, err := n.Backbone().JS.Consumer(ctx, "HEARTH_ASYNC", "fn_"+fn)
	if err != nil {
		return fmt.Errorf("the %s function's queue: %w", fn, err)
	}
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("the %s function's queue: %w", fn, err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// httpConn is a bare HTTP/1.1 keep-alive client, one request at a time,
// as load generators such as wrk are: the bench runs in the node's own
// process on a 2-core machine, and net/http's client would spend as much
// CPU per request as the server it measures.
type httpConn struct {
	net.Conn
	r    *bufio.Reader
	host string
	body []byte // the last response's body
}

func dialHTTP(ctx context.Context, addr string) (*httpConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &httpConn{Conn: c, r: bufio.NewReader(c), host: addr}, nil
}

// asyncRequest is the request that queues an async invocation at path.
func (c *httpConn) asyncRequest(path string) []byte {
	return []byte("POST " + path + " HTTP/1.1\r\nHost: " + c.host +
		"\r\nX-Hearth-Invocation-Type: Event\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
}

// post sends req and expects 202 Accepted.
func (c *httpConn) post(req []byte) error {
	if _, err := c.Conn.Write(req); err != nil {
		return err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	var status string // set when it is not 202 (line is the reader's buffer)
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 202 ")) {
		status = string(bytes.TrimSpace(line))
	}
	length := 0
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read response headers: %w", err)
		}
		h := bytes.TrimSpace(line)
		if len(h) == 0 {
			break
		}
		k, v, _ := bytes.Cut(h, []byte(":"))
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return fmt.Errorf("response Content-Length %q: %w", v, err)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			// hearth's answers here are small and say their length.
			return fmt.Errorf("response in Transfer-Encoding %s: only a Content-Length is read", bytes.TrimSpace(v))
		}
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	body := c.body[:length]
	if _, err := io.ReadFull(c.r, body); err != nil {
		return fmt.Errorf("read response body: %w", err)
	}
	if status != "" {
		return fmt.Errorf("%s answered %s: %s", bytes.Fields(req)[1], status, body)
	}
	return nil
}

// pubsubLatency publishes one ping at a time to the topic "bench-ping"
// (fn is subscribed) and waits for fn's reply on "bench-pong", read
// straight off the backbone's subject for that topic.
func pubsubLatency(ctx context.Context, n *node.Node, c *client.Client, fn string, samples int) (p50, p99 time.Duration, err error) {
	for _, topic := range []string{"bench-ping", "bench-pong"} {
		if _, err := c.CreateTopic(ctx, topic); err != nil {
			return 0, 0, fmt.Errorf("create topic %s: %w", topic, err)
		}
	}
	if err := c.Subscribe(ctx, "bench-ping", fn); err != nil {
		return 0, 0, fmt.Errorf("subscribe %s: %w", fn, err)
	}
	replies := make(chan string, 16)
	// hearth.topic.<topic>.any is where an unordered event of a topic goes
	// (internal/async/topics.go).
	sub, err := n.Backbone().Conn.Subscribe("hearth.topic.bench-pong.any", func(m *nats.Msg) {
		var ev async.Event
		var id string
		if json.Unmarshal(m.Data, &ev) == nil && json.Unmarshal(ev.Data, &id) == nil {
			replies <- id
		}
	})
	if err != nil {
		return 0, 0, fmt.Errorf("listen for replies: %w", err)
	}
	defer sub.Unsubscribe()
	data := []byte(`{"reply_to":"bench-pong"}`)
	var lat []time.Duration
	// The first pings warm the subscription's instance and connections.
	for i := range samples + 20 {
		t0 := time.Now()
		id, err := c.Publish(ctx, "bench-ping", data, client.PublishOptions{Type: "bench.ping"})
		if err != nil {
			return 0, 0, fmt.Errorf("publish: %w", err)
		}
		if err := awaitReply(ctx, replies, id); err != nil {
			return 0, 0, err
		}
		if i >= 20 {
			lat = append(lat, time.Since(t0))
		}
	}
	return percentile(lat, 50), percentile(lat, 99), nil
}

func awaitReply(ctx context.Context, replies <-chan string, id string) error {
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case got := <-replies:
			if got == id {
				return nil
			}
		case <-timeout.C:
			return fmt.Errorf("no reply to event %s within 10 s", id)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// dialPublishers connects n raw publishers to the NATS server at url, each
// over its own TCP connection; closeAll closes them.
func dialPublishers(url string, n int) (pubs []jetstream.JetStream, closeAll func(), err error) {
	if url == "" {
		return nil, nil, errors.New("the node's NATS server takes no TCP clients")
	}
	var conns []*nats.Conn
	closeAll = func() {
		for _, nc := range conns {
			nc.Close()
		}
	}
	for range n {
		nc, err := nats.Connect(url, nats.Name("hearth-bench"))
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("connect a raw publisher to %s: %w", url, err)
		}
		conns = append(conns, nc)
		js, err := jetstream.New(nc)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("jetstream for a raw publisher: %w", err)
		}
		pubs = append(pubs, js)
	}
	return pubs, closeAll, nil
}

// rawPublishRate publishes msgs messages synchronously to a file-backed
// stream, one goroutine per publisher (fewer if d ends first), as hearth's
// accept path does once per invoke.
func rawPublishRate(ctx context.Context, publishers []jetstream.JetStream, msgs int, d time.Duration) (float64, error) {
	js := publishers[0]
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH_PUB", Subjects: []string{"bench.pub"}, Storage: jetstream.FileStorage})
	if err != nil {
		return 0, err
	}
	defer js.DeleteStream(context.Background(), stream.CachedInfo().Config.Name)
	var (
		count    atomic.Int64
		claimed  atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	payload := []byte("x")
	start := time.Now()
	end := start.Add(d)
	for _, js := range publishers {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) && claimed.Add(1) <= int64(msgs) {
				if _, err := js.Publish(ctx, "bench.pub", payload); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				count.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds(), firstErr
}

// rawWorkQueueRate moves msgs messages through a work-queue stream: one
// goroutine publishes (async, acks awaited), one fetches batches of 100 and
// acks each message.
func rawWorkQueueRate(ctx context.Context, js jetstream.JetStream, msgs int) (float64, error) {
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH_WQ", Subjects: []string{"bench.wq"},
		Storage: jetstream.FileStorage, Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		return 0, err
	}
	defer js.DeleteStream(context.Background(), "BENCH_WQ")
	cons, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	pubErr := make(chan error, 1)
	go func() {
		for i := range msgs {
			if _, err := js.PublishAsync("bench.wq", []byte("x")); err != nil {
				pubErr <- err
				return
			}
			if i%1000 == 999 {
				select {
				case <-js.PublishAsyncComplete():
				case <-ctx.Done():
					pubErr <- ctx.Err()
					return
				}
			}
		}
		pubErr <- nil
	}()
	for done := 0; done < msgs; {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return 0, err
		}
		got := 0
		for m := range batch.Messages() {
			if err := m.Ack(); err != nil {
				return 0, err
			}
			got++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return 0, err
		}
		if got == 0 {
			return 0, fmt.Errorf("work queue stalled after %d of %d messages", done, msgs)
		}
		done += got
	}
	if err := <-pubErr; err != nil {
		return 0, err
	}
	return float64(msgs) / time.Since(start).Seconds(), nil
}
