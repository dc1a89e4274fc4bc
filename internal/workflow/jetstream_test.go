package workflow

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/backbone"
	"github.com/hearth-sh/hearth/internal/clock"
)

func openBackbone(t *testing.T, dir string) *backbone.Backbone {
	t.Helper()
	bb, err := backbone.Open(context.Background(), backbone.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return bb
}

// TestJetStreamStoreSurvivesRestart runs an execution into a Wait with its
// history on an embedded JetStream server, stops the server, starts a new
// one on the same directory and finishes the execution from the stored
// history: the completed Task does not run again.
func TestJetStreamStoreSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := mustParse(t, `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"work","ResultPath":"$.r","Next":"W"},
		"W":{"Type":"Wait","Seconds":3600,"Next":"P"},
		"P":{"Type":"Parallel","End":true,"Branches":[
			{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
			{"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}]}}}`)
	inv := &countingInvoker{fn: func(context.Context, TaskRequest, int) (any, error) { return "done", nil }}
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	exec := Execution{ID: "arn:aws:states:local:1:execution:m.v1:run.1", Machine: m, Input: mustInput(t, `{}`)}

	bb := openBackbone(t, dir)
	store, err := NewJetStreamStore(ctx, bb.JS, JetStreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := New(inv, clk, store, nil).Run(runCtx, exec, nil)
		done <- err
	}()
	waitForTimer(clk)
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v", err)
	}
	if err := bb.Close(); err != nil {
		t.Fatal(err)
	}

	bb = openBackbone(t, dir)
	defer bb.Close()
	store, err = NewJetStreamStore(ctx, bb.JS, JetStreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	history, err := store.Load(ctx, exec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 7 || history[len(history)-1].Type != WaitStateEntered {
		t.Fatalf("stored history has %d events ending with %v, want 7 ending with WaitStateEntered", len(history), history[len(history)-1].Type)
	}
	results := make(chan *Result, 1)
	go func() {
		res, err := New(inv, clk, store, nil).Run(ctx, exec, history)
		if err != nil {
			t.Error(err)
		}
		results <- res
	}()
	waitForTimer(clk)
	clk.Advance(time.Hour)
	res := <-results
	if res == nil || res.Status != StatusSucceeded {
		t.Fatalf("result %+v", res)
	}
	if got := inv.count("work"); got != 1 {
		t.Errorf("task ran %d times, want 1", got)
	}
	all, err := store.Load(ctx, exec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(res.History) {
		t.Fatalf("stream holds %d events, execution has %d", len(all), len(res.History))
	}
	for i, ev := range all {
		if ev.ID != int64(i+1) || ev.Type != res.History[i].Type {
			t.Fatalf("event %d is %d %s, want %d %s", i, ev.ID, ev.Type, res.History[i].ID, res.History[i].Type)
		}
	}
}

// TestJetStreamStoreFencesConcurrentWriters checks that a second writer
// that has not seen the latest history cannot append.
func TestJetStreamStoreFencesConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	bb := openBackbone(t, t.TempDir())
	defer bb.Close()
	a, err := NewJetStreamStore(ctx, bb.JS, JetStreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewJetStreamStore(ctx, bb.JS, JetStreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Append(ctx, "x", Event{ID: 1, Type: ExecutionStarted, Key: "#0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := a.Append(ctx, "x", Event{ID: 2, Type: PassStateEntered, Key: "#1"}); err != nil {
		t.Fatal(err)
	}
	err = b.Append(ctx, "x", Event{ID: 2, Type: WaitStateEntered, Key: "#1"})
	if !errors.Is(err, ErrConcurrentAppend) {
		t.Fatalf("stale writer append: err = %v, want ErrConcurrentAppend", err)
	}
	events, err := b.Load(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[1].Type != PassStateEntered {
		t.Fatalf("history %+v", events)
	}
}

// BenchmarkPassChainJetStream runs a 10-state Pass chain with every event
// stored in JetStream before the execution moves on (the durable path) and
// reports state transitions per second.
func BenchmarkPassChainJetStream(b *testing.B) {
	ctx := context.Background()
	bb, err := backbone.Open(ctx, backbone.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer bb.Close()
	store, err := NewJetStreamStore(ctx, bb.JS, JetStreamConfig{})
	if err != nil {
		b.Fatal(err)
	}
	m, err := parseDefinition(passChain(10))
	if err != nil {
		b.Fatal(err)
	}
	x := New(nil, clock.Real{}, store, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		exec := Execution{ID: fmt.Sprintf("e%d", i), Machine: m, Input: map[string]any{}}
		if _, err := x.Run(ctx, exec, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10*b.N)/b.Elapsed().Seconds(), "transitions/s")
}
