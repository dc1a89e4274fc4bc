package stateapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-sh/hearth/internal/apierror"
	"github.com/hearth-sh/hearth/internal/state"
)

// nativeError maps a store error to the native API's error. This is the one
// place that decides the status of each error kind.
func nativeError(err error) error {
	var ae *apierror.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, state.ErrNotFound):
		return apierror.New(http.StatusNotFound, "key_not_found", "%v", err)
	case errors.Is(err, state.ErrETagMismatch):
		return apierror.New(http.StatusConflict, "etag_mismatch", "%v; read the key again and retry with its current ETag", err)
	case errors.Is(err, state.ErrKeyExists):
		return apierror.New(http.StatusPreconditionFailed, "key_exists", "%v", err)
	case errors.Is(err, state.ErrInvalidKey):
		return apierror.New(http.StatusBadRequest, "invalid_key", "%v", err)
	case errors.Is(err, state.ErrInvalidETag):
		return apierror.New(http.StatusBadRequest, "invalid_etag", "%v", err)
	case errors.Is(err, state.ErrInvalidArgument):
		return apierror.BadRequest("%v", err)
	case errors.Is(err, state.ErrTooLarge), errors.Is(err, errBodyTooLarge):
		return apierror.TooLarge("%v", err)
	case errors.Is(err, state.ErrUnavailable), errors.Is(err, state.ErrClosed):
		e := apierror.New(http.StatusServiceUnavailable, "store_unavailable", "%v", err)
		e.RetryAfter = 1
		return e
	}
	return apierror.Internal("%v", err)
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := nativeError(err)
	var ae *apierror.Error
	// A client that went away cancels its request; that is not the store's
	// failure and not worth a warning.
	if errors.As(e, &ae) && ae.Status >= 500 && !errors.Is(err, context.Canceled) {
		a.logger().Warn("state API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	apierror.Write(w, e)
}

// store resolves the {store} path value.
func (a *API) store(r *http.Request) (state.Store, error) {
	name := r.PathValue("store")
	s, ok := a.Stores.Store(name)
	if !ok {
		return nil, apierror.New(http.StatusNotFound, "store_not_found", "no state store named %q", name)
	}
	return s, nil
}

// quoteETag makes a store ETag into an HTTP entity tag.
func quoteETag(etag string) string { return `"` + etag + `"` }

// parseETagHeader reads a single entity tag from If-Match or If-None-Match.
// Quotes are optional (clients differ); weak tags and lists are refused,
// since a write condition needs one strong tag.
func parseETagHeader(name, v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case strings.HasPrefix(v, "W/"):
		return "", apierror.New(http.StatusBadRequest, "invalid_etag", "%s: weak ETags cannot be used in a write condition", name)
	case strings.Contains(v, ","):
		return "", apierror.New(http.StatusBadRequest, "invalid_etag", "%s: send one ETag, not a list", name)
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if _, err := state.ParseETag(v); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// parseTTL reads the ttl query parameter: a Go duration ("90s", "1h") or a
// number of seconds.
func parseTTL(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 && n < 1<<33 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, apierror.BadRequest("ttl %q: want a positive duration such as 30s or a number of seconds", v)
	}
	return d, nil
}

func (a *API) nativeGet(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if key == "" {
		a.nativeList(w, r)
		return
	}
	s, err := a.store(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	e, err := s.Get(r.Context(), key)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", quoteETag(e.ETag))
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if tag, err := parseETagHeader("If-None-Match", inm); err == nil && tag == e.ETag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(e.Value)))
	_, _ = w.Write(e.Value)
}

func (a *API) nativePut(w http.ResponseWriter, r *http.Request) {
	s, err := a.store(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var opts state.SetOptions
	if v := r.Header.Get("If-Match"); v != "" {
		if strings.TrimSpace(v) == "*" {
			a.fail(w, r, apierror.BadRequest("If-Match: * is not supported; send the key's ETag"))
			return
		}
		if opts.IfMatch, err = parseETagHeader("If-Match", v); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	if v := r.Header.Get("If-None-Match"); v != "" {
		if strings.TrimSpace(v) != "*" {
			a.fail(w, r, apierror.BadRequest("If-None-Match on PUT must be * (create only)"))
			return
		}
		opts.IfNoneMatch = true
	}
	if opts.TTL, err = parseTTL(r.URL.Query().Get("ttl")); err != nil {
		a.fail(w, r, err)
		return
	}
	body, err := a.readBody(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	etag, err := s.Set(r.Context(), r.PathValue("key"), body, opts)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", quoteETag(etag))
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) nativeDelete(w http.ResponseWriter, r *http.Request) {
	s, err := a.store(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var opts state.DeleteOptions
	if v := r.Header.Get("If-Match"); v != "" {
		if opts.IfMatch, err = parseETagHeader("If-Match", v); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	if err := s.Delete(r.Context(), r.PathValue("key"), opts); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type listResponse struct {
	Keys   []string `json:"keys"`
	Cursor string   `json:"cursor,omitempty"`
}

func (a *API) nativeList(w http.ResponseWriter, r *http.Request) {
	s, err := a.store(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit <= 0 {
			a.fail(w, r, apierror.BadRequest("limit %q: want a positive number", v))
			return
		}
	}
	page, err := s.List(r.Context(), q.Get("prefix"), q.Get("cursor"), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if page.Keys == nil {
		page.Keys = []string{}
	}
	writeJSON(w, http.StatusOK, listResponse{Keys: page.Keys, Cursor: page.Cursor})
}

type bulkRequest struct {
	Keys []string `json:"keys"`
}

type bulkItem struct {
	Key   string `json:"key"`
	Found bool   `json:"found"`
	Value []byte `json:"value,omitempty"` // base64 in JSON
	ETag  string `json:"etag,omitempty"`
}

func (a *API) nativeBulk(w http.ResponseWriter, r *http.Request) {
	s, err := a.store(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req bulkRequest
	if err := a.decodeJSON(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	items, err := s.BulkGet(r.Context(), req.Keys)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]bulkItem, len(items))
	for i, it := range items {
		out[i] = bulkItem{Key: it.Key, Found: it.Found, Value: it.Value, ETag: it.ETag}
	}
	writeJSON(w, http.StatusOK, map[string][]bulkItem{"items": out})
}

type txRequest struct {
	Ops []txOp `json:"ops"`
}

type txOp struct {
	Op          string `json:"op"` // set or delete
	Key         string `json:"key"`
	Value       []byte `json:"value"` // base64 in JSON
	IfMatch     string `json:"ifMatch"`
	IfNoneMatch bool   `json:"ifNoneMatch"`
	TTL         string `json:"ttl"`
}

func (a *API) nativeTransaction(w http.ResponseWriter, r *http.Request) {
	s, err := a.store(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req txRequest
	if err := a.decodeJSON(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	ops := make([]state.Op, len(req.Ops))
	for i, o := range req.Ops {
		op := state.Op{Key: o.Key, Value: o.Value, IfMatch: o.IfMatch}
		switch o.Op {
		case "set":
			op.Kind, op.IfNoneMatch = state.OpSet, o.IfNoneMatch
			if op.TTL, err = parseTTL(o.TTL); err != nil {
				a.fail(w, r, fmt.Errorf("transaction op %d: %w", i, err))
				return
			}
		case "delete":
			if o.Value != nil || o.IfNoneMatch || o.TTL != "" {
				a.fail(w, r, apierror.BadRequest("transaction op %d: a delete takes no value, ifNoneMatch or ttl", i))
				return
			}
			op.Kind = state.OpDelete
		default:
			a.fail(w, r, apierror.BadRequest("transaction op %d: op %q: want set or delete", i, o.Op))
			return
		}
		ops[i] = op
	}
	if err := s.Transact(r.Context(), ops); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// decodeJSON reads one JSON value into v, refusing unknown fields and
// trailing data so that a typo in a field name is an error, not a no-op.
func (a *API) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	if err := decodeStrict(body, v); err != nil {
		return apierror.BadRequest("malformed JSON body: %v", err)
	}
	return nil
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
