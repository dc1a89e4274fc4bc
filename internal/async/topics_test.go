package async

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// recorder is a function that remembers the data of the events it got.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) behaviour(failOnce string) behaviour {
	var failed bool
	return func(_ context.Context, _ int, req runtime.Request) (runtime.Response, error) {
		var ev Event
		if err := json.Unmarshal(req.Body, &ev); err != nil {
			return runtime.Response{}, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if string(ev.Data) == failOnce && !failed {
			failed = true
			return failing("HandlerError"), nil
		}
		r.seen = append(r.seen, string(ev.Data))
		return runtime.Response{Status: 200}, nil
	}
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// TestFanOutAndOrdering: every subscriber gets every event; events with an
// ordering key reach a subscriber in publish order even when one of them
// needs a retry.
func TestFanOutAndOrdering(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	ctx := context.Background()
	var ship, audit recorder
	env.node.add("ship", registry.Config{Concurrency: 8}, ship.behaviour("5"))
	env.node.add("audit", registry.Config{Concurrency: 8}, audit.behaviour(""))
	if err := s.CreateTopic(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{"ship", "audit"} {
		if err := s.Subscribe(ctx, "orders", fn); err != nil {
			t.Fatal(err)
		}
	}
	const n = 30
	for i := range n {
		if _, err := s.Publish(ctx, "orders", []byte(strconv.Itoa(i)), PublishOptions{OrderingKey: "customer-1"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if _, err := s.Publish(ctx, "orders", []byte(strconv.Itoa(100+i)), PublishOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "both subscribers got every event", func() bool { return len(ship.got()) == 2*n && len(audit.got()) == 2*n })
	var ordered []string
	for _, d := range ship.got() {
		if v, _ := strconv.Atoi(d); v < 100 {
			ordered = append(ordered, d)
		}
	}
	for i, d := range ordered {
		if d != strconv.Itoa(i) {
			t.Fatalf("ordered events reached ship as %v, want 0..%d in order", ordered, n-1)
		}
	}
	top, err := s.Topic(ctx, "orders")
	if err != nil || len(top.Subscriptions) != 2 {
		t.Fatalf("topic %+v %v", top, err)
	}
	if err := s.Unsubscribe(ctx, "orders", "audit"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unsubscribe(ctx, "orders", "audit"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second unsubscribe: %v", err)
	}
}

func TestTopicErrors(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	ctx := context.Background()
	env.node.add("f", registry.Config{}, ok(""))
	if err := s.CreateTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"create twice", s.CreateTopic(ctx, "t"), ErrExists},
		{"bad name", s.CreateTopic(ctx, "No.Dots"), ErrInvalid},
		{"publish to unknown", func() error { _, err := s.Publish(ctx, "nope", []byte("x"), PublishOptions{}); return err }(), ErrTopicNotFound},
		{"publish too large", func() error {
			_, err := s.Publish(ctx, "t", make([]byte, MaxPayloadBytes+1), PublishOptions{})
			return err
		}(), ErrTooLarge},
		{"malformed event", func() error { _, err := s.PublishEvent(ctx, "t", Event{SpecVersion: "1.0", ID: "1"}); return err }(), ErrInvalid},
		{"subscribe unknown topic", s.Subscribe(ctx, "nope", "f"), ErrTopicNotFound},
		{"subscribe unknown function", s.Subscribe(ctx, "t", "ghost"), registry.ErrNotFound},
		{"delete unknown", s.DeleteTopic(ctx, "nope"), ErrTopicNotFound},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if top, _ := s.Topic(ctx, "t"); top.Messages != 0 {
		t.Fatalf("refused publishes left %d messages", top.Messages)
	}
	if err := s.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if topics, err := s.Topics(ctx); err != nil || len(topics) != 0 {
		t.Fatalf("topics after delete: %v %v", topics, err)
	}
}

func TestDestinations(t *testing.T) {
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	ctx := context.Background()
	var sink, watcher recorder
	env.node.add("src", registry.Config{OnSuccess: "function:sink"}, ok(`{"ok":true}`))
	env.node.add("bad", registry.Config{Retries: ptr(0), OnFailure: "topic:failures"}, func(context.Context, int, runtime.Request) (runtime.Response, error) {
		return failing("HandlerError"), nil
	})
	env.node.add("sink", registry.Config{}, func(_ context.Context, _ int, req runtime.Request) (runtime.Response, error) {
		sink.mu.Lock()
		sink.seen = append(sink.seen, string(req.Body))
		sink.mu.Unlock()
		return runtime.Response{Status: 200}, nil
	})
	env.node.add("watcher", registry.Config{}, watcher.behaviour(""))
	if err := s.CreateTopic(ctx, "failures"); err != nil {
		t.Fatal(err)
	}
	if err := s.Subscribe(ctx, "failures", "watcher"); err != nil {
		t.Fatal(err)
	}
	okID, err := s.Enqueue(ctx, "src", runtime.Request{Body: []byte(`{"n":1}`)}, "")
	if err != nil {
		t.Fatal(err)
	}
	badID, err := s.Enqueue(ctx, "bad", runtime.Request{Body: []byte(`{"n":2}`)}, "")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "both destinations reached", func() bool { return len(sink.got()) == 1 && len(watcher.got()) == 1 })
	var success, failure DestinationEvent
	if err := json.Unmarshal([]byte(sink.got()[0]), &success); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(watcher.got()[0]), &failure); err != nil {
		t.Fatal(err)
	}
	if success.InvocationID != okID || success.Condition != "Success" || string(success.ResponsePayload) != `{"ok":true}` ||
		string(success.RequestPayload) != `{"n":1}` {
		t.Fatalf("success destination got %+v", success)
	}
	if failure.InvocationID != badID || failure.Condition != "RetriesExhausted" || failure.Attempts != 1 || failure.Error == "" {
		t.Fatalf("failure destination got %+v", failure)
	}
}
