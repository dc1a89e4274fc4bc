package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
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
	// GuestDir is the no-op function to build (default ./bench/eventsguest).
	GuestDir string
	// Duration of each rate measurement (default 5 s).
	Duration time.Duration
	// Clients is how many concurrent HTTP clients and NATS publishers
	// (default 16, the figure).
	Clients int
	// WorkQueueMessages is how many messages the raw work-queue loop moves
	// (default 100,000).
	WorkQueueMessages int
	// LatencySamples is how many publish → handler round trips to time
	// (default 2,000).
	LatencySamples int
	// Concurrency of the no-op function: how many async invocations run at
	// once (default 8).
	Concurrency int
}

func (o *EventsOptions) defaults() {
	if o.GuestDir == "" {
		o.GuestDir = "./bench/eventsguest"
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
}

// Events measures hearth's asynchronous path on an in-process node, and
// beside it the raw rates of the node's own embedded JetStream server
// through nats.go, in one run:
//
//   - events.async.accepted_per_s: async invokes answered 202, from
//     Clients concurrent HTTP clients;
//   - events.async.completed_per_s: those invocations run to the end by the
//     no-op function, from the first accept until the queue is empty;
//   - baseline.jetstream.publish_per_s: synchronous publishes (each waits
//     for its ack) from Clients publishers;
//   - baseline.jetstream.workqueue_per_s: a work-queue stream's
//     publish → fetch (batches of 100) → ack loop;
//   - events.pubsub.latency.p50_ms / p99_ms: one event at a time published
//     over HTTP to a topic, until the subscribed function's reply event is
//     seen on the backbone. The reply is one more publish, so this is an
//     upper bound of publish → handler.
func Events(ctx context.Context, opts EventsOptions) (*Report, error) {
	opts.defaults()
	wasm, err := wasmbuild.Build(ctx, opts.GuestDir)
	if err != nil {
		return nil, fmt.Errorf("build the events guest: %w", err)
	}
	dir, err := os.MkdirTemp("", "hearth-bench-events-")
	if err != nil {
		return nil, fmt.Errorf("events bench data directory: %w", err)
	}
	defer os.RemoveAll(dir)
	n, err := node.Start(ctx, node.Config{DataDir: dir, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	defer n.Stop(context.Background())
	c := client.New(n.URL())
	if _, err := c.Deploy(ctx, "noop", client.FunctionConfig{Concurrency: opts.Concurrency, MinWarm: opts.Concurrency}, wasm); err != nil {
		return nil, fmt.Errorf("deploy the events guest: %w", err)
	}

	rep := &Report{Bench: "events"}
	accepted, completed, err := asyncRates(ctx, n, opts)
	if err != nil {
		return nil, err
	}
	rep.Add("events.async.accepted_per_s", accepted, "inv/s")
	rep.Add("events.async.completed_per_s", completed, "inv/s")

	p50, p99, err := pubsubLatency(ctx, n, c, opts.LatencySamples)
	if err != nil {
		return nil, err
	}
	rep.Add("events.pubsub.latency.p50_ms", ms(p50), "ms")
	rep.Add("events.pubsub.latency.p99_ms", ms(p99), "ms")

	js := n.Backbone().JS
	pub, err := rawPublishRate(ctx, js, opts.Clients, opts.Duration)
	if err != nil {
		return nil, fmt.Errorf("baseline publish: %w", err)
	}
	rep.Add("baseline.jetstream.publish_per_s", pub, "msg/s")
	wq, err := rawWorkQueueRate(ctx, js, opts.WorkQueueMessages)
	if err != nil {
		return nil, fmt.Errorf("baseline work queue: %w", err)
	}
	rep.Add("baseline.jetstream.workqueue_per_s", wq, "msg/s")

	rep.Notes = append(rep.Notes,
		fmt.Sprintf("completed %.0f inv/s (target ≥ 15,000)", completed),
		fmt.Sprintf("accepted/s is %.0f%% of the raw sync publish rate (target ≥ 50%%)", 100*accepted/pub),
		fmt.Sprintf("completed/s is %.0f%% of the raw work-queue loop (target ≥ 50%%)", 100*completed/wq),
		fmt.Sprintf("publish → handler p50 %.2f ms (target < 1 ms; measured to the handler's reply event)", ms(p50)))
	return rep, nil
}

// asyncRates runs opts.Clients HTTP clients queueing async invocations of
// noop for opts.Duration, then waits until the function's queue is empty.
func asyncRates(ctx context.Context, n *node.Node, opts EventsOptions) (accepted, completed float64, err error) {
	url := n.URL() + "/v1/functions/noop/invoke"
	var (
		count    atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	start := time.Now()
	end := start.Add(opts.Duration)
	for range opts.Clients {
		wg.Go(func() {
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}}
			defer hc.CloseIdleConnections()
			for ctx.Err() == nil && time.Now().Before(end) {
				if err := postAsync(ctx, hc, url); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				count.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, 0, fmt.Errorf("async invokes: %w", firstErr)
	}
	acceptedIn := time.Since(start)
	cons, err := n.Backbone().JS.Consumer(ctx, "HEARTH_ASYNC", "fn_noop")
	if err != nil {
		return 0, 0, fmt.Errorf("the noop function's queue: %w", err)
	}
	// The queue is a work-queue stream: a finished invocation's message is
	// acked and gone, so an empty consumer means every one completed.
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("the noop function's queue: %w", err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	total := float64(count.Load())
	return total / acceptedIn.Seconds(), total / time.Since(start).Seconds(), nil
}

func postAsync(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte("x")))
	if err != nil {
		return err
	}
	req.Header.Set("X-Hearth-Invocation-Type", "Event")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

// pubsubLatency publishes one ping at a time to the topic "bench-ping"
// (noop is subscribed) and waits for noop's reply on "bench-pong", read
// straight off the backbone's subject for that topic.
func pubsubLatency(ctx context.Context, n *node.Node, c *client.Client, samples int) (p50, p99 time.Duration, err error) {
	for _, topic := range []string{"bench-ping", "bench-pong"} {
		if _, err := c.CreateTopic(ctx, topic); err != nil {
			return 0, 0, fmt.Errorf("create topic %s: %w", topic, err)
		}
	}
	if err := c.Subscribe(ctx, "bench-ping", "noop"); err != nil {
		return 0, 0, fmt.Errorf("subscribe noop: %w", err)
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

// rawPublishRate publishes synchronously from publishers goroutines to a
// file-backed stream for d, as hearth's accept path does once per invoke.
func rawPublishRate(ctx context.Context, js jetstream.JetStream, publishers int, d time.Duration) (float64, error) {
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH_PUB", Subjects: []string{"bench.pub"}, Storage: jetstream.FileStorage})
	if err != nil {
		return 0, err
	}
	defer js.DeleteStream(context.Background(), stream.CachedInfo().Config.Name)
	var (
		count    atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	payload := []byte("x")
	start := time.Now()
	end := start.Add(d)
	for range publishers {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) {
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
