package async

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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

// invokeSubject is the subject of one queued invocation: the function's
// queue, and the invocation's id so that its queued record can be read.
func invokeSubject(fn, id string) string { return invokeSubjectPrefix + fn + "." + id }

func (c consumerSpec) filter() string {
	switch {
	case c.Topic == "":
		return invokeSubject(c.Function, "*")
	case c.Ordered:
		return topicSubjectPrefix + c.Topic + ".ordered"
	default:
		return topicSubjectPrefix + c.Topic + ".any"
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
func (s *Service) consumerConfig(ctx context.Context, spec consumerSpec) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:        spec.Name,
		FilterSubjects: []string{spec.filter()},
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        ackWait,
		MaxDeliver:     -1, // retries are counted in the record, per the function's current config
		MaxAckPending:  10000,
		Metadata:       map[string]string{"hearth_function": spec.Function, "hearth_topic": spec.Topic},
	}
	if spec.Topic != "" {
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	} else if s.legacyQueued(ctx, spec.Function) {
		cfg.FilterSubjects = append(cfg.FilterSubjects, invokeSubjectPrefix+spec.Function)
	}
	if spec.Ordered {
		cfg.MaxAckPending = 1
		cfg.Metadata["hearth_ordered"] = "true"
	}
	return cfg
}

// legacyQueued says whether fn's queue holds invocations queued before
// each had its own subject, by nodes of an older version. Only then does
// its consumer filter on that subject too: with two filters the server
// looks for the next message by intersecting its subject index with both,
// which costs more per delivery than the invocation's own bookkeeping.
// (Such messages published after the consumer is made wait for the next
// start of a node, which looks again.)
func (s *Service) legacyQueued(ctx context.Context, fn string) bool {
	info, err := s.invokeStream.Info(ctx, jetstream.WithSubjectFilter(invokeSubjectPrefix+fn))
	if err != nil {
		s.log.Warn("look for invocations queued by older nodes; keeping them in the filter", "function", fn, "err", err)
		return true
	}
	return info.State.Subjects[invokeSubjectPrefix+fn] > 0
}

// ensureWorker creates spec's consumer if needed, starts pulling it here
// and tells the other nodes to pull it too.
//
// A queue's worker, once running here, is trusted to exist (enqueue is the
// hot path); force makes sure of the consumer anyway, for a subscription
// that another node may have deleted and this node not yet noticed.
func (s *Service) ensureWorker(ctx context.Context, spec consumerSpec, force bool) error {
	s.mu.Lock()
	key := spec.Name + "@" + spec.Stream
	_, running := s.consumers[key]
	running = running || s.held[key] // held queues count as pulled (HoldQueue)
	s.mu.Unlock()
	if running && !force {
		return nil
	}
	_, err := s.opts.JS.CreateOrUpdateConsumer(ctx, spec.Stream, s.consumerConfig(ctx, spec))
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", spec.Name, spec.Stream, err)
	}
	if err := s.startWorker(ctx, spec); err != nil {
		return err
	}
	if b, err := json.Marshal(spec); err == nil {
		_ = s.opts.Conn.Publish(controlSubject, b)
	}
	return nil
}

// startWorker pulls spec's consumer (which exists) on this node unless it
// already does.
func (s *Service) startWorker(ctx context.Context, spec consumerSpec) error {
	key := spec.Name + "@" + spec.Stream
	conc := 1
	if !spec.Ordered {
		if fn, err := s.fns.Get(ctx, spec.Function); err == nil {
			conc = fn.Config.Defaults().Concurrency
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.consumers[key]; ok || s.closed || s.held[key] {
		return nil
	}
	w := newWorker(conc)
	s.consumers[key] = w
	go s.pull(w, spec, key)
	return nil
}

// HoldQueue stops this node taking function's queued invocations until
// resume is called: they wait in the queue (other nodes go on taking
// them). The invocations running here finish first. The events bench uses
// it to time accepting and draining apart.
func (s *Service) HoldQueue(ctx context.Context, function string) (resume func(context.Context) error, err error) {
	spec := queueConsumer(function)
	if err := s.ensureWorker(ctx, spec, false); err != nil {
		return nil, err
	}
	key := spec.Name + "@" + spec.Stream
	s.mu.Lock()
	if s.held == nil {
		s.held = map[string]bool{}
	}
	s.held[key] = true
	s.mu.Unlock()
	s.dropWorker(key)
	return func(ctx context.Context) error {
		s.mu.Lock()
		delete(s.held, key)
		s.mu.Unlock()
		return s.startWorker(ctx, spec)
	}, nil
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
func (s *Service) handle(spec consumerSpec, m delivery) {
	var env envelope
	if spec.Topic == "" {
		var err error
		if env, err = decodeEnvelope(m.Headers(), m.Data(), m.Subject(), m.Sequence()); err != nil {
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
		if _, err := s.opts.JS.Consumer(s.ctx, spec.Stream, spec.Name); err != nil {
			return
		}
		if err := s.startWorker(s.ctx, spec); err != nil {
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
			if spec.Topic == "" {
				// A queue's filter may predate the per-invocation subjects,
				// or name the old subject no longer in use.
				if _, err := s.opts.JS.CreateOrUpdateConsumer(ctx, name, s.consumerConfig(ctx, spec)); err != nil {
					return fmt.Errorf("consumer %s on %s: %w", info.Name, name, err)
				}
			}
			if err := s.startWorker(ctx, spec); err != nil {
				return err
			}
		}
		if err := infos.Err(); err != nil {
			return fmt.Errorf("list consumers of %s: %w", name, err)
		}
	}
	return nil
}
