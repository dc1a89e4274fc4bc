package web

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/async"
	"github.com/hearth-sh/hearth/internal/registry"
)

// queues is the async service's dead-letter listing over fixed queues.
type queues map[string][]async.DeadLetter

func (q queues) DeadLetters(_ context.Context, fn string, _ int) ([]async.DeadLetter, error) {
	if fn == "broken" {
		return nil, errors.New("stream unavailable")
	}
	return q[fn], nil
}

func TestAsyncDeadLetters(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	q := queues{
		"a": {{ID: "a1", Function: "a", FailedAt: at(1), Attempts: make([]async.Attempt, 3)}, {ID: "a2", Function: "a", FailedAt: at(4)}},
		"b": {{ID: "b1", Function: "b", FailedAt: at(2), Condition: "BadRequest", Error: "bad"}},
	}
	src := AsyncDeadLetters{Queue: q, Functions: &lister{fns: []registry.Function{{Name: "a"}, {Name: "b"}, {Name: "c"}}}}
	tests := []struct {
		limit int
		want  string
	}{
		{10, "a2 b1 a1"},
		{2, "a2 b1"},
	}
	for _, tt := range tests {
		got, err := src.DeadLetters(context.Background(), tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, dl := range got {
			ids = append(ids, dl.RequestID)
		}
		if strings.Join(ids, " ") != tt.want {
			t.Errorf("limit %d: %q, want newest first %q", tt.limit, ids, tt.want)
		}
	}
	all, _ := src.DeadLetters(context.Background(), 10)
	if all[1].Condition != "BadRequest" || all[1].Error != "bad" || all[2].Attempts != 3 {
		t.Errorf("fields not carried over: %+v", all)
	}

	src.Functions = &lister{fns: []registry.Function{{Name: "broken"}}}
	if _, err := src.DeadLetters(context.Background(), 10); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("a failing queue gives %v, want an error naming the function", err)
	}
}
