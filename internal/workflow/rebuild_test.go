package workflow

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

func TestRebuildFollowsHistory(t *testing.T) {
	m := mustParse(t, `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"W"},"W":{"Type":"Wait","Seconds":60,"End":true}}}`)
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	store := NewMemoryStore()
	x := New(nil, clk, store, nil)
	done := make(chan *Result, 1)
	go func() {
		res, err := x.Run(context.Background(), Execution{ID: "e", Machine: m, Input: mustInput(t, `{"k":1}`)}, nil)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	waitForTimer(clk)
	events, _ := store.Load(context.Background(), "e")
	snap := Rebuild(events)
	if snap.Status != StatusRunning || len(snap.Active) != 1 || snap.Active[0] != "W" {
		t.Fatalf("while waiting: %+v, want RUNNING in W", snap)
	}
	clk.Advance(time.Minute)
	<-done
	events, _ = store.Load(context.Background(), "e")
	snap = Rebuild(events)
	if snap.Status != StatusSucceeded || string(snap.Output) != `{"k":1}` || len(snap.Active) != 0 {
		t.Fatalf("after: %+v", snap)
	}
	if got := snap.StopTime.Sub(snap.StartTime); got != time.Minute {
		t.Errorf("ran %v, want 1m", got)
	}
}

// TestExamples runs the example workflows that need no functions.
func TestExamples(t *testing.T) {
	tests := []struct {
		file, input, want string
		status            Status
	}{
		{"order-check.asl.json", `{"order":{"id":"o-1","total":120,"items":["a","b"]}}`,
			`{"id":"o-1","total":120,"count":2,"summary":"order o-1 has 2 items","size":"large"}`, StatusSucceeded},
		{"order-check.asl.json", `{"order":{"id":"o-2","total":5,"items":[]}}`, ``, StatusFailed},
		{"greet-jsonata.asl.json", `{"names":["Ada","Grace"]}`, `{"greetings":["Hello, Ada!","Hello, Grace!"],"count":2}`, StatusSucceeded},
	}
	for _, tt := range tests {
		data, err := os.ReadFile(filepath.Join("..", "..", "examples", "workflows", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		m, err := asl.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		res, err := New(nil, &instantClock{}, nil, nil).Run(context.Background(), Execution{ID: "e", Machine: m, Input: mustInput(t, tt.input)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != tt.status {
			t.Fatalf("%s: status %s (%s: %s)", tt.file, res.Status, res.Error, res.Cause)
		}
		if tt.want != "" && !asl.Equal(res.Output, mustInput(t, tt.want)) {
			t.Errorf("%s: output %s, want %s", tt.file, mustJSON(res.Output), tt.want)
		}
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "workflows", "call-function.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asl.Parse(data); err != nil {
		t.Errorf("call-function.asl.json: %v", err)
	}
}

func TestStopAbortsExecution(t *testing.T) {
	m := mustParse(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"End":true}}}`)
	clk := clock.NewFake(time.Unix(0, 0))
	store := NewMemoryStore()
	ctx, cancel := context.WithCancelCause(context.Background())
	results := make(chan *Result, 1)
	go func() {
		res, err := New(nil, clk, store, nil).Run(ctx, Execution{ID: "e", Machine: m}, nil)
		if err != nil {
			t.Error(err)
		}
		results <- res
	}()
	waitForTimer(clk)
	cancel(&StopRequest{ErrorName: "Operator", Cause: "no longer needed"})
	res := <-results
	if res.Status != StatusAborted || res.Error != "Operator" {
		t.Fatalf("status %s error %q", res.Status, res.Error)
	}
	events, _ := store.Load(context.Background(), "e")
	if snap := Rebuild(events); snap.Status != StatusAborted || snap.Cause != "no longer needed" {
		t.Fatalf("rebuilt %+v", snap)
	}
}
