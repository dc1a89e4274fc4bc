package async

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hearth-sh/hearth/internal/backbone"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// TestCrashedNodeInvocationsRunAgain: a node whose connection dies with
// invocations in flight (no nak, no ack: a crash) loses none of them; they
// run again after the ack deadline, with the cut-short attempt recorded as
// interrupted, and each completes once.
func TestCrashedNodeInvocationsRunAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 30 s ack deadline")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx := context.Background()
	bb, err := backbone.Open(ctx, backbone.Config{DataDir: t.TempDir(), Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bb.Close() })
	env := &testEnv{bb: bb, node: newFakeNode()}

	var mu sync.Mutex
	completed := map[string]int{}
	crashed := make(chan struct{})
	started := make(chan struct{}, 10)
	env.node.add("work", registry.Config{Concurrency: 2}, func(ctx context.Context, _ int, req runtime.Request) (runtime.Response, error) {
		started <- struct{}{}
		select {
		case <-crashed:
		case <-ctx.Done():
			return runtime.Response{}, ctx.Err()
		}
		mu.Lock()
		completed[req.ID]++
		mu.Unlock()
		return runtime.Response{Status: 200}, nil
	})

	// The first node has its own TCP connection, which it loses abruptly.
	nc, err := nats.Connect("nats://"+addr, nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	first, err := New(ctx, Options{JS: js, Conn: nc, Invoker: env.node, Functions: env.node, NodeID: "doomed",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 6)
	for i := range ids {
		if ids[i], err = first.Enqueue(ctx, "work", runtime.Request{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	<-started
	<-started
	nc.Close() // the crash: nothing is acknowledged or handed back
	// Cut the doomed node's two invocations short (a crashed process does
	// not finish them either), then let the survivor's run.
	cut, cancel := context.WithCancel(ctx)
	cancel()
	_ = first.Close(cut)
	close(crashed)

	second := env.service(t, "survivor")
	for _, id := range ids {
		rec := waitStatus(t, second, id, StatusSucceeded)
		last := rec.Attempts[len(rec.Attempts)-1]
		if last.Outcome != "success" || last.Node != "survivor" {
			t.Errorf("%s: last attempt %+v, want a success on the survivor", id, last)
		}
		for _, a := range rec.Attempts[:len(rec.Attempts)-1] {
			if a.Outcome != "interrupted" {
				t.Errorf("%s: earlier attempt %+v, want interrupted", id, a)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if completed[id] != 1 {
			t.Errorf("%s completed %d times, want once", id, completed[id])
		}
	}
}
