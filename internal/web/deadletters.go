package web

import (
	"context"
	"fmt"
	"sort"

	"github.com/hearth-sh/hearth/internal/async"
)

// AsyncDeadLetters is a DeadLetterSource over the async service's
// dead-letter queues, which are kept per function.
type AsyncDeadLetters struct {
	// Queue is the async service (*async.Service).
	Queue interface {
		DeadLetters(ctx context.Context, function string, limit int) ([]async.DeadLetter, error)
	}
	// Functions says which functions' queues to read.
	Functions FunctionLister
}

// DeadLetters implements DeadLetterSource: the newest dead letters across
// every deployed function.
//
// # Notes
//
// The queues list oldest first, so each is read whole to find its newest;
// this runs only while someone has the dead-letter view open.
func (a AsyncDeadLetters) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	fns, err := a.Functions.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	var out []DeadLetter
	for _, fn := range fns {
		dls, err := a.Queue.DeadLetters(ctx, fn.Name, 0)
		if err != nil {
			return nil, fmt.Errorf("dead letters of %s: %w", fn.Name, err)
		}
		for _, dl := range dls {
			out = append(out, DeadLetter{Function: dl.Function, RequestID: dl.ID, Condition: dl.Condition,
				Time: dl.FailedAt, Attempts: len(dl.Attempts), Error: dl.Error})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
