package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hearth-sh/hearth/internal/workflow"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// A task token is the interpreter's: the execution ARN, the task's event
// key and the attempt, so a task that runs again after a restart waits on
// the same token. Its completion is stored in WF_TOKENS before the waiting
// task is told, so a completion sent while the engine restarts is not
// lost: the resumed task finds it when it waits again.

// waiter is a callback task waiting for its token.
type waiter struct {
	done chan completion
	beat func()
}

type completion struct {
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
	Cause  string          `json:"cause,omitempty"`
	Failed bool            `json:"failed,omitempty"`
}

// tokenKey is the WF_TOKENS key of a token: the execution's key prefix
// lets forgetTokens find an execution's completions.
func tokenKey(arn, token string) string {
	sum := sha256.Sum256([]byte(token))
	return key(arn) + "." + hex.EncodeToString(sum[:16])
}

// tokenExecution returns the execution ARN a token belongs to.
func tokenExecution(token string) (string, error) {
	arn, rest, ok := strings.Cut(token, "/")
	if !ok || rest == "" || !strings.HasPrefix(arn, "arn:") || len(token) > 4096 {
		return "", fmt.Errorf("%w: %.64q", ErrInvalidToken, token)
	}
	return arn, nil
}

// register makes a callback task's token known before anything can see
// it (the function it calls may hand it to a worker that answers at once).
// The returned func unregisters it.
func (e *Engine) register(req workflow.TaskRequest) (*waiter, func()) {
	w := &waiter{done: make(chan completion, 1), beat: req.Beat}
	e.mu.Lock()
	e.waiting[req.TaskToken] = w
	e.mu.Unlock()
	return w, func() {
		e.mu.Lock()
		delete(e.waiting, req.TaskToken)
		e.mu.Unlock()
	}
}

// awaitToken waits for a registered callback task's token to be completed.
func (e *Engine) awaitToken(ctx context.Context, req workflow.TaskRequest, w *waiter) (any, error) {
	// A completion may have been stored while nobody waited (the engine
	// was restarting); registering first means none can slip between.
	if entry, err := e.tokens.Get(ctx, tokenKey(req.ExecutionID, req.TaskToken)); err == nil {
		var c completion
		if err := json.Unmarshal(entry.Value(), &c); err != nil {
			return nil, fmt.Errorf("decode task completion: %w", err)
		}
		return c.result()
	}
	select {
	case c := <-w.done:
		return c.result()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c completion) result() (any, error) {
	if c.Failed {
		return nil, &asl.Error{Name: c.Error, Cause: c.Cause}
	}
	v, err := asl.DecodeJSON(c.Output)
	if err != nil {
		return nil, fmt.Errorf("decode task output: %w", err)
	}
	return v, nil
}

// complete records a token's completion and hands it to the waiting task.
func (e *Engine) complete(ctx context.Context, token string, c completion) error {
	arn, err := tokenExecution(token)
	if err != nil {
		return err
	}
	rec, err := e.Describe(ctx, arn)
	if errors.Is(err, ErrExecutionNotFound) || (err == nil && rec.Status != workflow.StatusRunning) {
		return fmt.Errorf("%w: the execution is not running", ErrTaskNotFound)
	}
	if err != nil {
		return err
	}
	e.mu.Lock()
	w := e.waiting[token]
	e.mu.Unlock()
	if rec.Type == asl.Express {
		if w == nil {
			return fmt.Errorf("%w: no task is waiting for this token", ErrTaskNotFound)
		}
	} else {
		data, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("encode task completion: %w", err)
		}
		// Create, not Put: a token completes once.
		if _, err := e.tokens.Create(ctx, tokenKey(arn, token), data); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				return fmt.Errorf("%w: the task was already completed", ErrTaskNotFound)
			}
			return fmt.Errorf("store task completion: %w", err)
		}
	}
	if w != nil {
		select {
		case w.done <- c:
		default: // completed already by a stored completion
		}
	}
	return nil
}

// forgetTokens removes the stored completions of a finished execution.
func (e *Engine) forgetTokens(ctx context.Context, arn string) {
	keys, err := e.tokens.ListKeysFiltered(ctx, key(arn)+".*")
	if err != nil {
		e.log.Warn("list task completions", "execution", arn, "err", err)
		return
	}
	var ks []string
	for k := range keys.Keys() {
		ks = append(ks, k)
	}
	for _, k := range ks {
		if err := e.tokens.Purge(ctx, k); err != nil {
			e.log.Warn("forget task completion", "execution", arn, "err", err)
		}
	}
}

// SendTaskSuccess completes a callback task with output (JSON).
func (e *Engine) SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error {
	if _, err := asl.DecodeJSON(output); err != nil {
		return fmt.Errorf("%w: task output: %w", ErrInvalidInput, err)
	}
	return e.complete(ctx, token, completion{Output: output})
}

// SendTaskFailure fails a callback task with an error name and cause.
func (e *Engine) SendTaskFailure(ctx context.Context, token, errName, cause string) error {
	return e.complete(ctx, token, completion{Failed: true, Error: errName, Cause: cause})
}

// SendTaskHeartbeat tells a callback task with HeartbeatSeconds that its
// worker is still busy.
func (e *Engine) SendTaskHeartbeat(ctx context.Context, token string) error {
	arn, err := tokenExecution(token)
	if err != nil {
		return err
	}
	rec, err := e.Describe(ctx, arn)
	if errors.Is(err, ErrExecutionNotFound) || (err == nil && rec.Status != workflow.StatusRunning) {
		return fmt.Errorf("%w: the execution is not running", ErrTaskNotFound)
	}
	if err != nil {
		return err
	}
	e.mu.Lock()
	w := e.waiting[token]
	e.mu.Unlock()
	if w == nil {
		return fmt.Errorf("%w: no task is waiting for this token", ErrTaskNotFound)
	}
	if w.beat != nil {
		w.beat()
	}
	return nil
}
