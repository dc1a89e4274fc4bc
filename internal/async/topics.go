package async

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// Event is a published message: a CloudEvents 1.0 event in its JSON form.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
	// DataBase64 carries data that is not JSON.
	DataBase64 []byte `json:"data_base64,omitempty"`
	// OrderingKey (a CloudEvents extension attribute) asks for in-order
	// delivery among events of the same key.
	OrderingKey string `json:"orderingkey,omitempty"`
}

// Validate checks the attributes CloudEvents requires.
func (e Event) Validate() error {
	switch {
	case e.SpecVersion != "1.0":
		return fmt.Errorf("%w: event specversion %q: use \"1.0\"", ErrInvalid, e.SpecVersion)
	case e.ID == "":
		return fmt.Errorf("%w: event has no id", ErrInvalid)
	case e.Source == "":
		return fmt.Errorf("%w: event has no source", ErrInvalid)
	case e.Type == "":
		return fmt.Errorf("%w: event has no type", ErrInvalid)
	case len(e.Data) > 0 && len(e.DataBase64) > 0:
		return fmt.Errorf("%w: event has both data and data_base64", ErrInvalid)
	case len(e.Data)+len(e.DataBase64) > MaxPayloadBytes:
		return fmt.Errorf("%w: event data over %d bytes", ErrTooLarge, MaxPayloadBytes)
	}
	return nil
}

// PublishOptions are the optional attributes of a published event.
type PublishOptions struct {
	// ID defaults to a new UUID; Source to "hearth"; Type to "hearth.message".
	ID, Source, Type string
	// ContentType of the data; JSON data is embedded as JSON.
	ContentType string
	// OrderingKey: see Event.OrderingKey and docs/async.md for the cost.
	OrderingKey string
}

// Topic is a topic and the functions subscribed to it.
type Topic struct {
	Name          string         `json:"name"`
	Subscriptions []Subscription `json:"subscriptions"`
	// Messages is how many events the topic holds (not yet taken by every subscriber).
	Messages uint64 `json:"messages"`
}

// Subscription is one function's subscription to a topic.
type Subscription struct {
	Topic    string `json:"topic"`
	Function string `json:"function"`
	// Pending is how many events wait for this function.
	Pending uint64 `json:"pending"`
}

func topicStream(topic string) string { return topicStreamPrefix + topic }

func topicName(topic string) error {
	if err := registry.ValidateName(topic); err != nil {
		return fmt.Errorf("%w: topic: %s", ErrInvalid, strings.TrimPrefix(err.Error(), registry.ErrInvalidName.Error()+" "))
	}
	return nil
}

// CreateTopic creates a topic.
func (s *Service) CreateTopic(ctx context.Context, topic string) error {
	if err := topicName(topic); err != nil {
		return err
	}
	if _, err := s.opts.JS.Stream(ctx, topicStream(topic)); err == nil {
		return fmt.Errorf("%w: topic %s", ErrExists, topic)
	}
	_, err := s.opts.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name:     topicStream(topic),
		Subjects: []string{topicSubjectPrefix + topic + ".*"},
		// An event stays until every subscription has taken it.
		Retention:  jetstream.InterestPolicy,
		Storage:    jetstream.FileStorage,
		MaxAge:     7 * 24 * time.Hour,
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// Topics lists the topics with their subscriptions.
func (s *Service) Topics(ctx context.Context) ([]Topic, error) {
	names := s.opts.JS.StreamNames(ctx)
	var topics []string
	for n := range names.Name() {
		if t, ok := strings.CutPrefix(n, topicStreamPrefix); ok {
			topics = append(topics, t)
		}
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	sort.Strings(topics)
	out := []Topic{}
	for _, t := range topics {
		topic, err := s.Topic(ctx, t)
		if errors.Is(err, ErrTopicNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, topic)
	}
	return out, nil
}

// Topic describes one topic.
func (s *Service) Topic(ctx context.Context, topic string) (Topic, error) {
	st, err := s.stream(ctx, topic)
	if err != nil {
		return Topic{}, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return Topic{}, fmt.Errorf("topic %s: %w", topic, err)
	}
	out := Topic{Name: topic, Messages: info.State.Msgs, Subscriptions: []Subscription{}}
	byFn := map[string]*Subscription{}
	consumers := st.ListConsumers(ctx)
	for c := range consumers.Info() {
		fn := c.Config.Metadata["hearth_function"]
		if fn == "" {
			continue
		}
		sub, ok := byFn[fn]
		if !ok {
			sub = &Subscription{Topic: topic, Function: fn}
			byFn[fn] = sub
		}
		sub.Pending += c.NumPending + uint64(c.NumAckPending)
	}
	if err := consumers.Err(); err != nil {
		return Topic{}, fmt.Errorf("subscriptions of %s: %w", topic, err)
	}
	for _, sub := range byFn {
		out.Subscriptions = append(out.Subscriptions, *sub)
	}
	sort.Slice(out.Subscriptions, func(i, j int) bool { return out.Subscriptions[i].Function < out.Subscriptions[j].Function })
	return out, nil
}

func (s *Service) stream(ctx context.Context, topic string) (jetstream.Stream, error) {
	if err := topicName(topic); err != nil {
		return nil, err
	}
	st, err := s.opts.JS.Stream(ctx, topicStream(topic))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w: %s (create it with hearth topic create %s)", ErrTopicNotFound, topic, topic)
	}
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	return st, nil
}

// DeleteTopic deletes a topic, its subscriptions and the events it holds.
func (s *Service) DeleteTopic(ctx context.Context, topic string) error {
	if _, err := s.stream(ctx, topic); err != nil {
		return err
	}
	if err := s.opts.JS.DeleteStream(ctx, topicStream(topic)); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	return nil
}

// Subscribe makes function receive every event published to topic from
// now on. The instances of the function, on every node, share the work.
func (s *Service) Subscribe(ctx context.Context, topic, function string) error {
	if _, err := s.stream(ctx, topic); err != nil {
		return err
	}
	if err := registry.ValidateName(function); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, err := s.opts.Functions.Get(ctx, function); err != nil {
		return err
	}
	for _, ordered := range []bool{false, true} {
		if err := s.ensureWorker(ctx, subConsumer(topic, function, ordered), true); err != nil {
			return fmt.Errorf("subscribe %s to %s: %w", function, topic, err)
		}
	}
	return nil
}

// Unsubscribe ends function's subscription to topic; events it has not
// taken yet are dropped for it.
func (s *Service) Unsubscribe(ctx context.Context, topic, function string) error {
	st, err := s.stream(ctx, topic)
	if err != nil {
		return err
	}
	found := false
	for _, ordered := range []bool{false, true} {
		spec := subConsumer(topic, function, ordered)
		err := st.DeleteConsumer(ctx, spec.Name)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, jetstream.ErrConsumerNotFound):
			return fmt.Errorf("unsubscribe %s from %s: %w", function, topic, err)
		}
		s.dropWorker(spec.Name + "@" + spec.Stream)
	}
	if !found {
		return fmt.Errorf("%w: %s is not subscribed to %s", ErrNotFound, function, topic)
	}
	return nil
}

// Publish publishes data to topic as a CloudEvent and returns its id. It
// is what a function's ctx.Publish host call does.
func (s *Service) Publish(ctx context.Context, topic string, data []byte, opts PublishOptions) (string, error) {
	if len(data) > MaxPayloadBytes {
		return "", fmt.Errorf("%w: %d bytes, the limit for an event is %d", ErrTooLarge, len(data), MaxPayloadBytes)
	}
	ev := Event{SpecVersion: "1.0", ID: opts.ID, Source: opts.Source, Type: opts.Type, Time: s.opts.Clock.Now().UTC(),
		DataContentType: opts.ContentType, OrderingKey: opts.OrderingKey}
	if ev.ID == "" {
		ev.ID = uuid.NewString()
	}
	if ev.Source == "" {
		ev.Source = "hearth"
	}
	if ev.Type == "" {
		ev.Type = "hearth.message"
	}
	if len(data) > 0 {
		if json.Valid(data) && (opts.ContentType == "" || strings.Contains(opts.ContentType, "json")) {
			ev.Data = data
			if ev.DataContentType == "" {
				ev.DataContentType = "application/json"
			}
		} else {
			ev.DataBase64 = data
		}
	}
	return s.PublishEvent(ctx, topic, ev)
}

// PublishEvent publishes a complete CloudEvent (structured mode). The
// event's id deduplicates it within two minutes.
func (s *Service) PublishEvent(ctx context.Context, topic string, ev Event) (id string, err error) {
	ctx, span, recording := s.startSpan(ctx, "async publish ", topic, trace.SpanKindProducer)
	if recording {
		span.SetAttributes(attrTopic.String(topic))
	}
	defer func() {
		if recording {
			endSpan(span, err)
		}
	}()
	if err := topicName(topic); err != nil {
		return "", err
	}
	if ev.Time.IsZero() {
		ev.Time = s.opts.Clock.Now().UTC()
	}
	if err := ev.Validate(); err != nil {
		return "", err
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return "", fmt.Errorf("encode event: %w", err)
	}
	subject := topicSubjectPrefix + topic + ".any"
	if ev.OrderingKey != "" {
		subject = topicSubjectPrefix + topic + ".ordered"
	}
	// Each subscriber's delivery continues the publisher's trace.
	msg := nats.NewMsg(subject)
	msg.Data = b
	s.inject(ctx, msg.Header)
	if _, err := s.opts.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID)); err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
			return "", fmt.Errorf("%w: %s (create it with hearth topic create %s)", ErrTopicNotFound, topic, topic)
		}
		return "", fmt.Errorf("publish to %s: %w", topic, err)
	}
	return ev.ID, nil
}

// eventEnvelope is the invocation an event makes for one subscriber: the
// request body is the CloudEvent in its JSON form.
func eventEnvelope(spec consumerSpec, ev Event, raw []byte) envelope {
	sum := sha256.Sum256([]byte(spec.Topic + "\x00" + ev.ID + "\x00" + spec.Function))
	env := envelope{ID: "ev-" + hex.EncodeToString(sum[:16]), Function: spec.Function, Source: "topic:" + spec.Topic,
		EnqueuedAt: ev.Time}
	env.Request = runtime.Request{ID: env.ID, Method: http.MethodPost, Path: "/", Body: raw, Headers: map[string][]string{
		"Content-Type": {"application/cloudevents+json"},
		"Ce-Id":        {ev.ID}, "Ce-Source": {ev.Source}, "Ce-Type": {ev.Type}, "Ce-Specversion": {ev.SpecVersion},
	}}
	return env
}
