// Package client is the Go client for a hearth node's HTTP API. The hearth
// CLI is built on it.
//
//	c := client.New("http://127.0.0.1:8080", client.WithToken(os.Getenv("HEARTH_TOKEN")))
//	fn, err := c.Deploy(ctx, "hello", client.FunctionConfig{MemoryMB: 64}, wasmBytes)
//	res, err := c.Invoke(ctx, "hello", []byte(`{"name":"x"}`))
//
// # Notes
//
// A Client is safe for concurrent use. Errors returned by the node are
// *Error values carrying the HTTP status, a code and the node's message.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultURL is where the CLI looks for a node when HEARTH_URL is unset.
const DefaultURL = "http://127.0.0.1:8080"

// Client talks to one hearth node.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends token as a bearer token on every request.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient replaces the underlying http.Client.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// New returns a client for the node at baseURL (e.g. http://127.0.0.1:8080).
func New(baseURL string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), http: &http.Client{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Error is an error answered by the node.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// IsNotFound reports whether err is the node saying that something does not exist.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do sends req and decodes a JSON answer into out (when non-nil).
func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("hearth node at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var body struct {
		Error *Error `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error != nil {
		body.Error.Status = resp.StatusCode
		return body.Error
	}
	return &Error{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode),
		Message: fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(b)))}
}

// Health reports whether the node serves requests.
func (c *Client) Health(ctx context.Context) error {
	req, err := c.newRequest(ctx, http.MethodGet, "/healthz", nil)
	if err != nil {
		return err
	}
	return c.do(req, nil)
}

// Deploy uploads artifact (a .wasm module, or a process bundle) with cfg as
// a new version of the function name.
func (c *Client) Deploy(ctx context.Context, name string, cfg FunctionConfig, artifact []byte) (Function, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return Function{}, fmt.Errorf("encode config: %w", err)
	}
	if err := mw.WriteField("config", string(cfgJSON)); err != nil {
		return Function{}, fmt.Errorf("encode config: %w", err)
	}
	part, err := mw.CreateFormFile("artifact", name)
	if err != nil {
		return Function{}, fmt.Errorf("encode artifact: %w", err)
	}
	if _, err := part.Write(artifact); err != nil {
		return Function{}, fmt.Errorf("encode artifact: %w", err)
	}
	if err := mw.Close(); err != nil {
		return Function{}, fmt.Errorf("encode artifact: %w", err)
	}
	req, err := c.newRequest(ctx, http.MethodPut, "/v1/functions/"+url.PathEscape(name), &buf)
	if err != nil {
		return Function{}, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var fn Function
	return fn, c.do(req, &fn)
}

// Get returns the current version of a function.
func (c *Client) Get(ctx context.Context, name string) (Function, error) {
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/functions/"+url.PathEscape(name), nil)
	if err != nil {
		return Function{}, err
	}
	var fn Function
	return fn, c.do(req, &fn)
}

// List returns every function's current version.
func (c *Client) List(ctx context.Context) ([]Function, error) {
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/functions", nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Functions []Function `json:"functions"`
	}
	return out.Functions, c.do(req, &out)
}

// Delete removes a function.
func (c *Client) Delete(ctx context.Context, name string) error {
	req, err := c.newRequest(ctx, http.MethodDelete, "/v1/functions/"+url.PathEscape(name), nil)
	if err != nil {
		return err
	}
	return c.do(req, nil)
}

// Invoke calls a function synchronously with payload as the request body.
// A function that reports an error is not a Go error: see
// InvokeResult.FunctionError. Crashes, timeouts and throttling are *Error.
func (c *Client) Invoke(ctx context.Context, name string, payload []byte) (*InvokeResult, error) {
	req, err := c.newRequest(ctx, http.MethodPost, "/v1/functions/"+url.PathEscape(name)+"/invoke", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("hearth node at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, decodeError(resp)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: read response: %w", name, err)
	}
	return invokeResult(resp, body), nil
}

// invokeResult reads an invocation's answer: its body and the X-Hearth-*
// headers the node sets.
func invokeResult(resp *http.Response, body []byte) *InvokeResult {
	res := &InvokeResult{
		Status:        resp.StatusCode,
		Body:          body,
		RequestID:     resp.Header.Get("X-Hearth-Request-Id"),
		TraceID:       resp.Header.Get("X-Hearth-Trace-Id"),
		Cold:          resp.Header.Get("X-Hearth-Cold") == "true",
		FunctionError: resp.Header.Get("X-Hearth-Function-Error"),
		Phases:        ParseServerTiming(resp.Header.Get("Server-Timing")),
	}
	res.Version, _ = strconv.ParseInt(resp.Header.Get("X-Hearth-Version"), 10, 64)
	return res
}

// ParseServerTiming reads a Server-Timing header ("init;dur=1.25, handler;dur=0.1").
func ParseServerTiming(h string) []Phase {
	var out []Phase
	for _, item := range strings.Split(h, ",") {
		parts := strings.Split(strings.TrimSpace(item), ";")
		if parts[0] == "" {
			continue
		}
		p := Phase{Name: parts[0]}
		for _, param := range parts[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(param), "dur="); ok {
				ms, _ := strconv.ParseFloat(v, 64)
				p.Duration = time.Duration(ms * float64(time.Millisecond))
			}
		}
		out = append(out, p)
	}
	return out
}

// Logs returns up to tail of a function's most recent log entries.
func (c *Client) Logs(ctx context.Context, name string, tail int) ([]LogEntry, error) {
	req, err := c.newRequest(ctx, http.MethodGet, fmt.Sprintf("/v1/functions/%s/logs?tail=%d", url.PathEscape(name), tail), nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Entries []LogEntry `json:"entries"`
	}
	return out.Entries, c.do(req, &out)
}

// FollowLogs streams a function's log entries to fn, starting with up to
// tail recent ones, until ctx ends or the node closes the stream.
func (c *Client) FollowLogs(ctx context.Context, name string, tail int, fn func(LogEntry)) error {
	req, err := c.newRequest(ctx, http.MethodGet, fmt.Sprintf("/v1/functions/%s/logs?tail=%d&follow=true", url.PathEscape(name), tail), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("hearth node at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e LogEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("follow logs of %s: %w", name, err)
		}
		fn(e)
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("follow logs of %s: %w", name, err)
	}
	return nil
}
