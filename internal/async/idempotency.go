package async

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/registry"
)

// idemEntry is what an Idempotency-Key remembers.
type idemEntry struct {
	// State is "running" (a sync call in progress), "done" (a sync call's
	// result is in Result) or "queued" (an async invocation, InvocationID).
	State        string    `json:"state"`
	InvocationID string    `json:"invocation_id,omitempty"`
	Result       *Result   `json:"result,omitempty"`
	ExpiresAt    time.Time `json:"expires_at"`
	// LeaseUntil: a "running" entry older than this belongs to a node that
	// died; another call may take the key over.
	LeaseUntil time.Time `json:"lease_until,omitempty"`
}

// MaxIdempotencyWindow is the longest window honoured; longer ones are cut
// to it (the bucket's age limit).
const MaxIdempotencyWindow = maxIdempotencyWindow

// idemKey hashes the caller's key: any string is accepted, KV keys are not.
func idemKey(function, key string) string {
	sum := sha256.Sum256([]byte(key))
	return function + "." + hex.EncodeToString(sum[:16])
}

// claim takes key for a new entry, or returns the live entry that holds it.
// A dead entry (window over, or a running lease lapsed) is replaced.
func (s *Service) claim(ctx context.Context, k string, e idemEntry) (held *idemEntry, err error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode idempotency entry: %w", err)
	}
	for range 5 {
		_, err := s.idem.Create(ctx, k, b)
		if err == nil {
			return nil, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("claim idempotency key: %w", err)
		}
		cur, err := s.idem.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted meanwhile: try to create again
		}
		if err != nil {
			return nil, fmt.Errorf("read idempotency key: %w", err)
		}
		var old idemEntry
		if err := json.Unmarshal(cur.Value(), &old); err != nil {
			return nil, fmt.Errorf("decode idempotency entry: %w", err)
		}
		now := s.opts.Clock.Now()
		live := now.Before(old.ExpiresAt) && !(old.State == "running" && !now.Before(old.LeaseUntil))
		if live {
			return &old, nil
		}
		if _, err := s.idem.Update(ctx, k, b, cur.Revision()); err == nil {
			return nil, nil
		}
		// Someone else replaced it first: look again.
	}
	return nil, fmt.Errorf("%w (contended)", ErrInProgress)
}

func window(fn registry.Function) time.Duration {
	w := time.Duration(fn.Config.Defaults().IdempotencyWindow)
	return min(w, maxIdempotencyWindow)
}

// claimEnqueue returns the id of the invocation that holds key: id itself
// when this call claimed it.
func (s *Service) claimEnqueue(ctx context.Context, fn registry.Function, key, id string) (string, error) {
	held, err := s.claim(ctx, idemKey(fn.Name, key),
		idemEntry{State: "queued", InvocationID: id, ExpiresAt: s.opts.Clock.Now().Add(window(fn))})
	if err != nil {
		return "", err
	}
	if held == nil {
		return id, nil
	}
	if held.InvocationID == "" {
		// A sync call holds the key; its result is the answer, not a new run.
		return "", fmt.Errorf("%w: a synchronous call used this key", ErrInProgress)
	}
	return held.InvocationID, nil
}

// Idempotent runs run at most once per (function, key) within the
// function's idempotency window. A repeat gets the first call's result with
// replayed true, or ErrInProgress while the first call runs. When run
// returns an error (a crash or timeout, not a function's own error) the key
// is released so that the caller may try again.
//
// The lead's sync invoke handler calls it with run = the node's Invoke.
func (s *Service) Idempotent(ctx context.Context, function, key string, run func(context.Context) (*invoke.Result, error)) (*invoke.Result, bool, error) {
	fn, err := s.opts.Functions.Get(ctx, function)
	if err != nil {
		return nil, false, err
	}
	now := s.opts.Clock.Now()
	k := idemKey(function, key)
	lease := time.Duration(fn.Config.Defaults().Timeout) + 30*time.Second
	held, err := s.claim(ctx, k, idemEntry{State: "running", ExpiresAt: now.Add(window(fn)), LeaseUntil: now.Add(lease)})
	if err != nil {
		return nil, false, err
	}
	if held != nil {
		return s.replay(ctx, held)
	}
	res, err := run(ctx)
	if err != nil {
		if derr := s.idem.Delete(ctx, k); derr != nil {
			s.log.Warn("release idempotency key", "function", function, "err", derr)
		}
		return res, false, err
	}
	done := idemEntry{State: "done", Result: resultOf(res), ExpiresAt: now.Add(window(fn))}
	b, err := json.Marshal(done)
	if err == nil {
		_, err = s.idem.Put(ctx, k, b)
	}
	if err != nil {
		s.log.Warn("remember idempotent result", "function", function, "err", err)
	}
	return res, false, nil
}

// replay answers a repeat from what the key holds.
func (s *Service) replay(ctx context.Context, held *idemEntry) (*invoke.Result, bool, error) {
	switch {
	case held.State == "done" && held.Result != nil:
		return held.Result.invokeResult(), true, nil
	case held.InvocationID != "":
		rec, err := s.Invocation(ctx, held.InvocationID)
		if err == nil && rec.Status == StatusSucceeded && rec.Result != nil {
			return rec.Result.invokeResult(), true, nil
		}
		return nil, false, fmt.Errorf("%w (async invocation %s)", ErrInProgress, held.InvocationID)
	}
	return nil, false, ErrInProgress
}
