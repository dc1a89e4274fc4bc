package async

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/hearth-sh/hearth/internal/registry"
	hrt "github.com/hearth-sh/hearth/internal/runtime"
)

// TestSlowSubscriberStaysBounded: 100,000 events for a subscriber that is
// stuck do not pile up in this process (they wait in the stream), and
// neither another subscriber nor the queue of another function waits on it.
func TestSlowSubscriberStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 100,000 events")
	}
	env := newEnv(t, nil)
	s := env.service(t, "n1")
	ctx := context.Background()
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	var fastSeen atomic.Int64
	env.node.add("slow", registry.Config{Concurrency: 4}, func(ctx context.Context, _ int, _ hrt.Request) (hrt.Response, error) {
		select {
		case <-stuck:
		case <-ctx.Done():
		}
		return hrt.Response{Status: 200}, nil
	})
	env.node.add("fast", registry.Config{Concurrency: 4}, func(context.Context, int, hrt.Request) (hrt.Response, error) {
		fastSeen.Add(1)
		return hrt.Response{Status: 200}, nil
	})
	env.node.add("other", registry.Config{}, ok("x"))
	if err := s.CreateTopic(ctx, "firehose"); err != nil {
		t.Fatal(err)
	}
	if err := s.Subscribe(ctx, "firehose", "slow"); err != nil {
		t.Fatal(err)
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 100_000
	payload := []byte(`{"order":"0123456789abcdef0123456789abcdef"}`)
	for i := range n {
		if _, err := s.Publish(ctx, "firehose", payload, PublishOptions{ID: "e" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Another function's queue still runs while the slow one is stuck.
	id, err := s.Enqueue(ctx, "other", hrt.Request{}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, id, StatusSucceeded)

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// The embedded server keeps its own indexes in this process too; 100,000
	// events held as Go values would take far more than this.
	const bound = 96 << 20
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > bound {
		t.Fatalf("heap grew %d MiB with a stuck subscriber, want under %d MiB", grown>>20, bound>>20)
	}
	top, err := s.Topic(ctx, "firehose")
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Subscriptions) != 1 || top.Subscriptions[0].Pending < n-8 {
		t.Fatalf("subscription %+v: the events should wait in the stream", top.Subscriptions)
	}
	if calls := len(env.node.callsOf("slow")); calls > 8 {
		t.Fatalf("%d events taken by a stuck subscriber with concurrency 4", calls)
	}

	// A second subscriber added now gets new events at once.
	if err := s.Subscribe(ctx, "firehose", "fast"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := s.Publish(ctx, "firehose", payload, PublishOptions{ID: "late" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the fast subscriber got the new events", func() bool { return fastSeen.Load() == 10 })
}
