package async

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// consumerSpec names one durable consumer and what its messages are: the
// queue of one function, or one function's subscription to a topic.
type consumerSpec struct {
	Stream   string `json:"stream"`
	Name     string `json:"name"`
	Function string `json:"function"`
	Topic    string `json:"topic,omitempty"`
	// Ordered subscriptions get messages that carry an ordering key, one at
	// a time (MaxAckPending 1).
	Ordered bool `json:"ordered,omitempty"`
}

// Consumer names cannot collide: function names have no '_'.
func queueConsumer(fn string) consumerSpec {
	return consumerSpec{Stream: invokeStreamName, Name: "fn_" + fn, Function: fn}
}

func subConsumer(topic, fn string, ordered bool) consumerSpec {
	c := consumerSpec{Stream: topicStream(topic), Name: "sub_" + fn, Function: fn, Topic: topic}
	if ordered {
		c.Name, c.Ordered = "ord_"+fn, true
	}
	return c
}

func (c consumerSpec) filter() string {
	switch {
	case c.Topic == "":
		return invokeSubjectPrefix + c.Function
	case c.Ordered:
		return topicSubjectPrefix + c.Topic + ".ordered"
	default:
		return topicSubjectPrefix + c.Topic + ".any"
	}
}

// worker pulls one consumer on this node with bounded concurrency.
//
// It runs its own fetch loop rather than jetstream's Consume: Consume asks
// for more messages from its callback, and skips asking while its previous
// pull request is still being written to the connection; when the message
// whose callback skipped was the last one anyone asked for, nothing asks
// again until its missed-heartbeat timer fires, 30 s later, and queued
// invocations sit in the stream meanwhile (docs/async.md, "The 30 s
// stall"). Here one loop owns every pull request: it asks for exactly as
// many messages as there are free slots, starts each one as it arrives, and
// asks again as soon as the request is done.
type worker struct {
	cons jetstream.Consumer
	sem  chan struct{} // one token per invocation running (or reserved for one being fetched)
	done chan struct{} // closed by stop

	ctx    context.Context // ends at stop: cancels an open fetch
	cancel context.CancelFunc
	pulled chan struct{} // closed when the fetch loop has returned
	once   sync.Once
	wg     sync.WaitGroup // invocations running; Add only from the fetch loop
}

func newWorker(cons jetstream.Consumer, concurrency int) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	return &worker{cons: cons, sem: make(chan struct{}, concurrency), done: make(chan struct{}),
		ctx: ctx, cancel: cancel, pulled: make(chan struct{})}
}

// reserve waits for a free slot and takes every other free one too; it
// returns how many it took, 0 once the worker stops.
func (w *worker) reserve() int {
	select {
	case w.sem <- struct{}{}:
	case <-w.done:
		return 0
	}
	n := 1
	for n < cap(w.sem) {
		select {
		case w.sem <- struct{}{}:
			n++
			continue
		default:
		}
		break
	}
	return n
}

func (w *worker) release(n int) {
	for range n {
		<-w.sem
	}
}

func (w *worker) stopping() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// stop ends pulling and waits for the invocations in flight. Messages
// fetched but not started are handed back (nak), so they run again at once
// elsewhere or after a restart instead of waiting out their ack deadline.
func (w *worker) stop() {
	w.once.Do(func() {
		close(w.done)
		w.cancel()
	})
	<-w.pulled
	w.wg.Wait()
}

// fetchWait bounds how long one pull request waits for messages on an
// empty queue: an idle consumer costs one request per fetchWait per node.
// Stopping cancels the open request at once.
const fetchWait = 5 * time.Second

// pull is a worker's fetch loop (see worker).
func (s *Service) pull(w *worker, spec consumerSpec, key string) {
	defer close(w.pulled)
	for {
		n := w.reserve()
		if n == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(w.ctx, fetchWait)
		batch, err := w.cons.Fetch(n, jetstream.FetchContext(ctx))
		got := 0
		if err == nil {
			for m := range batch.Messages() {
				got++
				if w.stopping() {
					_ = m.Nak() // hand it back rather than let it wait for AckWait
					w.release(1)
					continue
				}
				w.wg.Add(1)
				go func() {
					defer w.release(1)
					defer w.wg.Done()
					s.handle(spec, m)
				}()
			}
			err = batch.Error()
		}
		cancel()
		w.release(n - got)
		switch {
		case err == nil || w.stopping():
		case errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound):
			go s.dropWorker(key) // stop waits for this loop to return
			return
		default:
			s.log.Debug("fetch; trying again", "consumer", key, "err", err)
			wake := make(chan struct{})
			t := s.opts.Clock.AfterFunc(time.Second, func() { close(wake) })
			select {
			case <-wake:
			case <-w.done:
			}
			t.Stop()
		}
	}
}

// ackWait is how long a delivered message may go without word from the
// node that holds it before JetStream delivers it again. Nodes renew it
// every ackHeartbeat while an invocation runs (see process), so it bounds
// how soon the events of a crashed node run again, not how long a function
// may take.
const (
	ackWait      = 30 * time.Second
	ackHeartbeat = 10 * time.Second
)

// consumerConfig is a durable consumer's config.
func (s *Service) consumerConfig(spec consumerSpec) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:       spec.Name,
		FilterSubject: spec.filter(),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1, // retries are counted in the record, per the function's current config
		MaxAckPending: 10000,
		Metadata:      map[string]string{"hearth_function": spec.Function, "hearth_topic": spec.Topic},
	}
	if spec.Topic != "" {
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	if spec.Ordered {
		cfg.MaxAckPending = 1
		cfg.Metadata["hearth_ordered"] = "true"
	}
	return cfg
}

// ensureWorker creates spec's consumer if needed, starts pulling it here
// and tells the other nodes to pull it too.
//
// A queue's worker, once running here, is trusted to exist (enqueue is the
// hot path); force makes sure of the consumer anyway, for a subscription
// that another node may have deleted and this node not yet noticed.
func (s *Service) ensureWorker(ctx context.Context, spec consumerSpec, force bool) error {
	s.mu.Lock()
	_, running := s.consumers[spec.Name+"@"+spec.Stream]
	s.mu.Unlock()
	if running && !force {
		return nil
	}
	cons, err := s.opts.JS.CreateOrUpdateConsumer(ctx, spec.Stream, s.consumerConfig(spec))
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", spec.Name, spec.Stream, err)
	}
	if err := s.startWorker(ctx, spec, cons); err != nil {
		return err
	}
	if b, err := json.Marshal(spec); err == nil {
		_ = s.opts.Conn.Publish(controlSubject, b)
	}
	return nil
}

// startWorker pulls cons on this node unless it already does.
func (s *Service) startWorker(ctx context.Context, spec consumerSpec, cons jetstream.Consumer) error {
	key := spec.Name + "@" + spec.Stream
	conc := 1
	if !spec.Ordered {
		if fn, err := s.fns.Get(ctx, spec.Function); err == nil {
			conc = fn.Config.Defaults().Concurrency
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.consumers[key]; ok || s.closed {
		return nil
	}
	w := newWorker(cons, conc)
	s.consumers[key] = w
	go s.pull(w, spec, key)
	return nil
}

func (s *Service) dropWorker(key string) {
	s.mu.Lock()
	w, ok := s.consumers[key]
	delete(s.consumers, key)
	s.mu.Unlock()
	if ok {
		w.stop()
	}
}

// handle turns a message of spec's consumer into an envelope and runs it.
func (s *Service) handle(spec consumerSpec, m jetstream.Msg) {
	var env envelope
	if spec.Topic == "" {
		if err := json.Unmarshal(m.Data(), &env); err != nil {
			s.log.Error("drop undecodable queued invocation", "function", spec.Function, "err", err)
			_ = m.Term()
			return
		}
	} else {
		var ev Event
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			s.log.Error("drop undecodable event", "topic", spec.Topic, "err", err)
			_ = m.Term()
			return
		}
		env = eventEnvelope(spec, ev, m.Data())
	}
	s.process(s.extract(s.ctx, m.Headers()), m, env)
}

// startConsumers pulls every consumer that exists (they survive restarts
// in JetStream) and listens for consumers other nodes create.
func (s *Service) startConsumers(ctx context.Context) error {
	sub, err := s.opts.Conn.Subscribe(controlSubject, func(m *nats.Msg) {
		var spec consumerSpec
		if json.Unmarshal(m.Data, &spec) != nil {
			return
		}
		cons, err := s.opts.JS.Consumer(s.ctx, spec.Stream, spec.Name)
		if err != nil {
			return
		}
		if err := s.startWorker(s.ctx, spec, cons); err != nil {
			s.log.Warn("pull consumer announced by another node", "consumer", spec.Name, "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", controlSubject, err)
	}
	s.mu.Lock()
	s.control = sub
	s.mu.Unlock()

	streams := s.opts.JS.StreamNames(ctx)
	var names []string
	for name := range streams.Name() {
		if name == invokeStreamName || strings.HasPrefix(name, topicStreamPrefix) {
			names = append(names, name)
		}
	}
	if err := streams.Err(); err != nil {
		return fmt.Errorf("list streams: %w", err)
	}
	for _, name := range names {
		st, err := s.opts.JS.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		infos := st.ListConsumers(ctx)
		for info := range infos.Info() {
			md := info.Config.Metadata
			spec := consumerSpec{Stream: name, Name: info.Name, Function: md["hearth_function"], Topic: md["hearth_topic"],
				Ordered: md["hearth_ordered"] == "true"}
			if spec.Function == "" {
				continue // not one of ours
			}
			cons, err := st.Consumer(ctx, info.Name)
			if err != nil {
				return fmt.Errorf("consumer %s on %s: %w", info.Name, name, err)
			}
			if err := s.startWorker(ctx, spec, cons); err != nil {
				return err
			}
		}
		if err := infos.Err(); err != nil {
			return fmt.Errorf("list consumers of %s: %w", name, err)
		}
	}
	return nil
}
