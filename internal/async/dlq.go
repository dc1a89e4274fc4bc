package async

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// DeadLetter is an async invocation that failed for good, with every
// attempt's error.
type DeadLetter struct {
	ID       string `json:"id"`
	Function string `json:"function"`
	// Condition is why it ended: "RetriesExhausted", "BadRequest" or
	// "FunctionNotFound".
	Condition  string          `json:"condition"`
	Error      string          `json:"error"`
	Attempts   []Attempt       `json:"attempts"`
	Request    runtime.Request `json:"request"`
	Source     string          `json:"source,omitempty"`
	EnqueuedAt time.Time       `json:"enqueued_at"`
	FailedAt   time.Time       `json:"failed_at"`
}

func dlqSubject(fn, id string) string { return dlqSubjectPrefix + fn + "." + id }

func (s *Service) deadLetter(ctx context.Context, env envelope, rec *Record, condition string) error {
	dl := DeadLetter{ID: env.ID, Function: env.Function, Condition: condition, Error: rec.Error, Attempts: rec.Attempts,
		Request: env.Request, Source: env.Source, EnqueuedAt: env.EnqueuedAt, FailedAt: s.opts.Clock.Now().UTC()}
	b, err := json.Marshal(dl)
	if err != nil {
		return fmt.Errorf("encode dead letter %s: %w", env.ID, err)
	}
	if _, err := s.opts.JS.Publish(ctx, dlqSubject(env.Function, env.ID), b); err != nil {
		return fmt.Errorf("dead-letter %s: %w", env.ID, err)
	}
	return nil
}

// DeadLetters lists a function's dead letters, oldest first, at most limit
// (0: all).
func (s *Service) DeadLetters(ctx context.Context, function string, limit int) ([]DeadLetter, error) {
	if err := registry.ValidateName(function); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	info, err := s.dlqStream.Info(ctx, jetstream.WithSubjectFilter(dlqSubjectPrefix+function+".>"))
	if err != nil {
		return nil, fmt.Errorf("dead-letter queue of %s: %w", function, err)
	}
	out := []DeadLetter{}
	for subject := range info.State.Subjects {
		dl, _, err := s.readDeadLetter(ctx, subject)
		if errors.Is(err, ErrNotFound) {
			continue // redriven meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, dl)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FailedAt.Before(out[j].FailedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// DeadLetter returns one dead letter of a function.
func (s *Service) DeadLetter(ctx context.Context, function, id string) (DeadLetter, error) {
	if registry.ValidateName(function) != nil || !validID(id) {
		return DeadLetter{}, fmt.Errorf("%w: dead letter %s of %s", ErrNotFound, id, function)
	}
	dl, _, err := s.readDeadLetter(ctx, dlqSubject(function, id))
	return dl, err
}

func (s *Service) readDeadLetter(ctx context.Context, subject string) (DeadLetter, uint64, error) {
	m, err := s.dlqStream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, 0, fmt.Errorf("%w: no dead letter at %s", ErrNotFound, subject)
	}
	if err != nil {
		return DeadLetter{}, 0, fmt.Errorf("read dead letter %s: %w", subject, err)
	}
	var dl DeadLetter
	if err := json.Unmarshal(m.Data, &dl); err != nil {
		return DeadLetter{}, 0, fmt.Errorf("decode dead letter %s: %w", subject, err)
	}
	return dl, m.Sequence, nil
}

// Redrive queues a function's dead letters again (only id, when set) and
// removes them from the dead-letter queue; it returns the ids queued. A
// redriven invocation keeps its id, its earlier attempts and gets the full
// number of retries again.
func (s *Service) Redrive(ctx context.Context, function, id string) ([]string, error) {
	var dls []DeadLetter
	if id != "" {
		dl, err := s.DeadLetter(ctx, function, id)
		if err != nil {
			return nil, err
		}
		dls = []DeadLetter{dl}
	} else {
		var err error
		if dls, err = s.DeadLetters(ctx, function, 0); err != nil {
			return nil, err
		}
	}
	ids := []string{}
	for _, dl := range dls {
		subject := dlqSubject(function, dl.ID)
		_, seq, err := s.readDeadLetter(ctx, subject)
		if err != nil {
			return ids, err
		}
		env := envelope{ID: dl.ID, Function: function, Request: dl.Request, Source: "redrive", Previous: dl.Attempts}
		// Removing the record first lets enqueue write a fresh "queued" one.
		if err := s.records.Delete(ctx, dl.ID); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return ids, fmt.Errorf("reset invocation %s: %w", dl.ID, err)
		}
		if _, err := s.enqueue(ctx, env, fmt.Sprintf("%s-redrive-%d", dl.ID, seq)); err != nil {
			return ids, fmt.Errorf("redrive %s: %w", dl.ID, err)
		}
		if err := s.dlqStream.DeleteMsg(ctx, seq); err != nil && !s.gone(ctx, seq) {
			return ids, fmt.Errorf("remove redriven dead letter %s: %w", dl.ID, err)
		}
		ids = append(ids, dl.ID)
	}
	return ids, nil
}

// gone reports whether the message at seq no longer exists: the redriven
// invocation already failed again, and its new dead letter replaced the old
// one (one per subject). The server's delete error says so only in text.
func (s *Service) gone(ctx context.Context, seq uint64) bool {
	_, err := s.dlqStream.GetMsg(ctx, seq)
	return errors.Is(err, jetstream.ErrMsgNotFound)
}
