package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// InvokeAsync queues an asynchronous invocation of a function and returns
// its id at once; Invocation shows how it went. With a non-empty
// idempotencyKey, a repeat within the function's idempotency window queues
// nothing and returns the first invocation's id.
func (c *Client) InvokeAsync(ctx context.Context, name string, payload []byte, idempotencyKey string) (string, error) {
	req, err := c.newRequest(ctx, http.MethodPost, "/v1/functions/"+url.PathEscape(name)+"/invoke", bytes.NewReader(payload))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hearth-Invocation-Type", "Event")
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	var out struct {
		ID string `json:"id"`
	}
	return out.ID, c.do(req, &out)
}

// InvokeIdempotent is Invoke with an Idempotency-Key: the function runs at
// most once per key within its idempotency window; a repeat gets the first
// result (replayed true) or, while the first still runs, an *Error with
// status 409 and code "in_progress".
func (c *Client) InvokeIdempotent(ctx context.Context, name string, payload []byte, key string) (res *InvokeResult, replayed bool, err error) {
	req, err := c.newRequest(ctx, http.MethodPost, "/v1/functions/"+url.PathEscape(name)+"/invoke", bytes.NewReader(payload))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("hearth node at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, false, decodeError(resp)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, false, fmt.Errorf("invoke %s: read response: %w", name, err)
	}
	res = invokeResult(resp, body)
	return res, resp.Header.Get("X-Hearth-Idempotent-Replayed") == "true", nil
}

// Invocation is the record of an async invocation.
type Invocation struct {
	ID       string `json:"id"`
	Function string `json:"function"`
	// Status is queued, running, retrying, succeeded or failed (then the
	// event is in the function's dead-letter queue).
	Status        string              `json:"status"`
	Source        string              `json:"source,omitempty"`
	Attempts      []InvocationAttempt `json:"attempts"`
	Result        *InvocationResult   `json:"result,omitempty"`
	Error         string              `json:"error,omitempty"`
	CreatedAt     time.Time           `json:"created_at"`
	UpdatedAt     time.Time           `json:"updated_at"`
	NextAttemptAt *time.Time          `json:"next_attempt_at,omitempty"`
}

// InvocationAttempt is one run of an async invocation.
type InvocationAttempt struct {
	Number     int        `json:"number"`
	Node       string     `json:"node,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Outcome is success, error, timeout, crash or interrupted.
	Outcome string `json:"outcome,omitempty"`
	Error   string `json:"error,omitempty"`
}

// InvocationResult is a function's recorded response.
type InvocationResult struct {
	Status        int                 `json:"status"`
	Headers       map[string][]string `json:"headers,omitempty"`
	Body          []byte              `json:"body,omitempty"`
	FunctionError *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"function_error,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Version   int64  `json:"version,omitempty"`
}

// Invocation returns an async invocation's record.
func (c *Client) Invocation(ctx context.Context, id string) (Invocation, error) {
	var out Invocation
	return out, c.getJSON(ctx, "/v1/invocations/"+url.PathEscape(id), &out)
}

// DeadLetter is an async invocation that failed for good.
type DeadLetter struct {
	ID       string `json:"id"`
	Function string `json:"function"`
	// Condition: RetriesExhausted, BadRequest or FunctionNotFound.
	Condition string              `json:"condition"`
	Error     string              `json:"error"`
	Attempts  []InvocationAttempt `json:"attempts"`
	Request   struct {
		Method  string              `json:"method"`
		Path    string              `json:"path"`
		Headers map[string][]string `json:"headers"`
		Body    []byte              `json:"body"`
	} `json:"request"`
	Source     string    `json:"source,omitempty"`
	EnqueuedAt time.Time `json:"enqueued_at"`
	FailedAt   time.Time `json:"failed_at"`
}

// DeadLetters lists a function's dead letters, oldest first.
func (c *Client) DeadLetters(ctx context.Context, function string) ([]DeadLetter, error) {
	var out struct {
		DeadLetters []DeadLetter `json:"dead_letters"`
	}
	return out.DeadLetters, c.getJSON(ctx, "/v1/functions/"+url.PathEscape(function)+"/dlq", &out)
}

// DeadLetter returns one dead letter.
func (c *Client) DeadLetter(ctx context.Context, function, id string) (DeadLetter, error) {
	var out DeadLetter
	return out, c.getJSON(ctx, "/v1/functions/"+url.PathEscape(function)+"/dlq/"+url.PathEscape(id), &out)
}

// Redrive queues a function's dead letters again (only id, when set) and
// returns the ids queued.
func (c *Client) Redrive(ctx context.Context, function, id string) ([]string, error) {
	var out struct {
		Redriven []string `json:"redriven"`
	}
	return out.Redriven, c.sendJSON(ctx, http.MethodPost, "/v1/functions/"+url.PathEscape(function)+"/dlq/redrive",
		map[string]string{"id": id}, &out)
}

// Topic is a pub/sub topic and its subscriptions.
type Topic struct {
	Name          string         `json:"name"`
	Subscriptions []Subscription `json:"subscriptions"`
	// Messages is how many events the topic holds.
	Messages uint64 `json:"messages"`
}

// Subscription is one function's subscription to a topic.
type Subscription struct {
	Topic    string `json:"topic"`
	Function string `json:"function"`
	// Pending is how many events wait for the function.
	Pending uint64 `json:"pending"`
}

// CreateTopic creates a topic.
func (c *Client) CreateTopic(ctx context.Context, name string) (Topic, error) {
	var out Topic
	return out, c.sendJSON(ctx, http.MethodPost, "/v1/topics", map[string]string{"name": name}, &out)
}

// Topics lists the topics.
func (c *Client) Topics(ctx context.Context) ([]Topic, error) {
	var out struct {
		Topics []Topic `json:"topics"`
	}
	return out.Topics, c.getJSON(ctx, "/v1/topics", &out)
}

// Topic describes one topic.
func (c *Client) Topic(ctx context.Context, name string) (Topic, error) {
	var out Topic
	return out, c.getJSON(ctx, "/v1/topics/"+url.PathEscape(name), &out)
}

// DeleteTopic deletes a topic with its subscriptions and events.
func (c *Client) DeleteTopic(ctx context.Context, name string) error {
	return c.sendJSON(ctx, http.MethodDelete, "/v1/topics/"+url.PathEscape(name), nil, nil)
}

// Subscribe makes function receive every event published to topic.
func (c *Client) Subscribe(ctx context.Context, topic, function string) error {
	return c.sendJSON(ctx, http.MethodPost, "/v1/topics/"+url.PathEscape(topic)+"/subscriptions",
		map[string]string{"function": function}, nil)
}

// Unsubscribe ends a function's subscription to a topic.
func (c *Client) Unsubscribe(ctx context.Context, topic, function string) error {
	return c.sendJSON(ctx, http.MethodDelete, "/v1/topics/"+url.PathEscape(topic)+"/subscriptions/"+url.PathEscape(function), nil, nil)
}

// PublishOptions are a published event's optional CloudEvents attributes.
type PublishOptions struct {
	// ID (default: a new UUID) also deduplicates a retried publish.
	ID     string
	Source string
	Type   string
	// ContentType of data (default application/json).
	ContentType string
	// OrderingKey delivers events of one key in order to each subscriber.
	OrderingKey string
}

// Publish publishes data to a topic as a CloudEvent and returns the event id.
func (c *Client) Publish(ctx context.Context, topic string, data []byte, opts PublishOptions) (string, error) {
	req, err := c.newRequest(ctx, http.MethodPost, "/v1/topics/"+url.PathEscape(topic)+"/publish", bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	ct := opts.ContentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	for h, v := range map[string]string{"Ce-Id": opts.ID, "Ce-Source": opts.Source, "Ce-Type": opts.Type, "X-Hearth-Ordering-Key": opts.OrderingKey} {
		if v != "" {
			req.Header.Set(h, v)
		}
	}
	var out struct {
		ID string `json:"id"`
	}
	return out.ID, c.do(req, &out)
}

// ScheduleSpec asks for a schedule: exactly one of Cron and Every.
type ScheduleSpec struct {
	Name     string `json:"name"`
	Function string `json:"function"`
	// Cron is a five-field cron expression in UTC, e.g. "0 3 * * *".
	Cron string `json:"cron,omitempty"`
	// Every is an interval of at least a second.
	Every Duration `json:"every,omitempty"`
	// Data is the request body of each invocation.
	Data string `json:"data,omitempty"`
}

// Schedule is a stored schedule.
type Schedule struct {
	Name      string    `json:"name"`
	Function  string    `json:"function"`
	Cron      string    `json:"cron,omitempty"`
	Every     Duration  `json:"every,omitempty"`
	Data      string    `json:"data,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Next is the next tick.
	Next time.Time `json:"next"`
}

// AddSchedule stores a schedule; it fires once per tick across the cluster.
func (c *Client) AddSchedule(ctx context.Context, spec ScheduleSpec) (Schedule, error) {
	body := map[string]string{"name": spec.Name, "function": spec.Function, "cron": spec.Cron, "data": spec.Data}
	if spec.Every != 0 {
		body["every"] = time.Duration(spec.Every).String()
	}
	var out Schedule
	return out, c.sendJSON(ctx, http.MethodPost, "/v1/schedules", body, &out)
}

// Schedules lists the schedules.
func (c *Client) Schedules(ctx context.Context) ([]Schedule, error) {
	var out struct {
		Schedules []Schedule `json:"schedules"`
	}
	return out.Schedules, c.getJSON(ctx, "/v1/schedules", &out)
}

// DeleteSchedule removes a schedule.
func (c *Client) DeleteSchedule(ctx context.Context, name string) error {
	return c.sendJSON(ctx, http.MethodDelete, "/v1/schedules/"+url.PathEscape(name), nil, nil)
}

func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	return c.do(req, out)
}

// sendJSON sends in (when non-nil) as a JSON body and decodes the answer into out.
func (c *Client) sendJSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.do(req, out)
}
