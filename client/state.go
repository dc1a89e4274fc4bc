package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// StateSetOptions are the conditions and expiry of a state write.
type StateSetOptions struct {
	// IfMatch writes only if the key still has this ETag (409 otherwise).
	IfMatch string
	// IfNoneMatch writes only if the key does not exist (412 otherwise).
	IfNoneMatch bool
	// TTL makes the key expire after this long.
	TTL time.Duration
}

func stateURL(store, key string) string {
	return "/v1/state/" + url.PathEscape(store) + "/" + url.PathEscape(key)
}

func quoteETag(etag string) string { return `"` + strings.Trim(etag, `"`) + `"` }

// StateGet reads a key of a state store. A missing key is an *Error with
// status 404 (see IsNotFound).
func (c *Client) StateGet(ctx context.Context, store, key string) (value []byte, etag string, err error) {
	req, err := c.newRequest(ctx, http.MethodGet, stateURL(store, key), nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("hearth node at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, "", decodeError(resp)
	}
	value, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", fmt.Errorf("state get %s/%s: %w", store, key, err)
	}
	return value, strings.Trim(resp.Header.Get("ETag"), `"`), nil
}

// StateSet writes a key and returns its new ETag.
func (c *Client) StateSet(ctx context.Context, store, key string, value []byte, opts StateSetOptions) (string, error) {
	path := stateURL(store, key)
	if opts.TTL > 0 {
		path += "?ttl=" + url.QueryEscape(opts.TTL.String())
	}
	req, err := c.newRequest(ctx, http.MethodPut, path, bytes.NewReader(value))
	if err != nil {
		return "", err
	}
	if opts.IfMatch != "" {
		req.Header.Set("If-Match", quoteETag(opts.IfMatch))
	}
	if opts.IfNoneMatch {
		req.Header.Set("If-None-Match", "*")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("hearth node at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return "", decodeError(resp)
	}
	return strings.Trim(resp.Header.Get("ETag"), `"`), nil
}

// StateDelete removes a key (no error if it does not exist); with a
// non-empty ifMatch only if the key still has that ETag.
func (c *Client) StateDelete(ctx context.Context, store, key, ifMatch string) error {
	req, err := c.newRequest(ctx, http.MethodDelete, stateURL(store, key), nil)
	if err != nil {
		return err
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", quoteETag(ifMatch))
	}
	return c.do(req, nil)
}

// StateList returns up to limit keys with prefix after cursor, and the cursor
// of the next page ("" on the last).
func (c *Client) StateList(ctx context.Context, store, prefix, cursor string, limit int) (keys []string, next string, err error) {
	q := url.Values{}
	q.Set("prefix", prefix)
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/state/"+url.PathEscape(store)+"?"+q.Encode(), nil)
	if err != nil {
		return nil, "", err
	}
	var out struct {
		Keys   []string `json:"keys"`
		Cursor string   `json:"cursor"`
	}
	err = c.do(req, &out)
	return out.Keys, out.Cursor, err
}

// StateOp is one operation of a state transaction: Op is "set" or "delete".
type StateOp struct {
	Op          string `json:"op"`
	Key         string `json:"key"`
	Value       []byte `json:"value,omitempty"`
	IfMatch     string `json:"ifMatch,omitempty"`
	IfNoneMatch bool   `json:"ifNoneMatch,omitempty"`
	TTL         string `json:"ttl,omitempty"`
}

// StateTransact applies every op or none.
func (c *Client) StateTransact(ctx context.Context, store string, ops []StateOp) error {
	b, err := json.Marshal(map[string]any{"ops": ops})
	if err != nil {
		return fmt.Errorf("encode transaction: %w", err)
	}
	req, err := c.newRequest(ctx, http.MethodPost, "/v1/state/"+url.PathEscape(store)+"/transaction", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, nil)
}
