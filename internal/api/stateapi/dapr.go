package stateapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hearth-sh/hearth/internal/state"
)

// The Dapr-shaped API follows Dapr's state API reference
// (docs.dapr.io/reference/api/state_api): the same paths, bodies, status
// codes and error shape ({"errorCode","message"}). Where Dapr documents a
// status, hearth uses it (a missing store is 400, a missing key on GET is
// 204, a failure is 500); an ETag mismatch is 409 as the Dapr runtime
// answers. Values are stored as the raw JSON the client sent, which is what
// Dapr does, so GET returns exactly that JSON.

// daprError is Dapr's error body.
type daprError struct {
	Status    int    `json:"-"`
	ErrorCode string `json:"errorCode"`
	Message   string `json:"message"`
}

// Error returns the code and message.
func (e *daprError) Error() string { return e.ErrorCode + ": " + e.Message }

func daprErr(status int, code, format string, args ...any) *daprError {
	return &daprError{Status: status, ErrorCode: code, Message: fmt.Sprintf(format, args...)}
}

// daprFail writes err in Dapr's shape; code is the operation's Dapr error
// code (ERR_STATE_SAVE, ERR_STATE_GET, ...), used for store failures.
func (a *API) daprFail(w http.ResponseWriter, r *http.Request, code string, err error) {
	var de *daprError
	if !errors.As(err, &de) {
		switch {
		case errors.Is(err, state.ErrETagMismatch), errors.Is(err, state.ErrKeyExists):
			de = daprErr(http.StatusConflict, code, "possible etag mismatch: %v", err)
		case errors.Is(err, state.ErrInvalidETag):
			de = daprErr(http.StatusBadRequest, code, "invalid etag: %v", err)
		case errors.Is(err, state.ErrInvalidKey), errors.Is(err, state.ErrInvalidArgument):
			de = daprErr(http.StatusBadRequest, "ERR_MALFORMED_REQUEST", "%v", err)
		case errors.Is(err, state.ErrTooLarge), errors.Is(err, errBodyTooLarge):
			de = daprErr(http.StatusRequestEntityTooLarge, code, "%v", err)
		default:
			de = daprErr(http.StatusInternalServerError, code, "%v", err)
			a.logger().Warn("state API (dapr) request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	writeJSON(w, de.Status, de)
}

func (a *API) daprStore(r *http.Request) (state.Store, error) {
	name := r.PathValue("store")
	s, ok := a.Stores.Store(name)
	if !ok {
		return nil, daprErr(http.StatusBadRequest, "ERR_STATE_STORE_NOT_FOUND", "state store %s is not found", name)
	}
	return s, nil
}

// daprDecode reads a JSON body into v (unknown fields are allowed: Dapr
// clients send fields hearth has no use for, like consistency).
func (a *API) daprDecode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return daprErr(http.StatusBadRequest, "ERR_MALFORMED_REQUEST", "malformed JSON body: %v", err)
	}
	return nil
}

type daprOptions struct {
	Concurrency string `json:"concurrency"` // first-write or last-write
	Consistency string `json:"consistency"` // accepted, not needed: every backend is strongly consistent
}

type daprItem struct {
	Key      string            `json:"key"`
	Value    json.RawMessage   `json:"value"`
	ETag     *string           `json:"etag"`
	Metadata map[string]string `json:"metadata"`
	Options  *daprOptions      `json:"options"`
}

// setOptions turns a Dapr state item's etag, options and metadata into
// SetOptions. Dapr's first-write concurrency without an ETag means the write
// may only create the key.
func (it daprItem) setOptions() (state.SetOptions, error) {
	var opts state.SetOptions
	if it.ETag != nil && *it.ETag != "" {
		opts.IfMatch = *it.ETag
	} else if it.Options != nil && it.Options.Concurrency == "first-write" {
		opts.IfNoneMatch = true
	}
	if it.Options != nil && it.Options.Concurrency != "" && it.Options.Concurrency != "first-write" && it.Options.Concurrency != "last-write" {
		return opts, daprErr(http.StatusBadRequest, "ERR_MALFORMED_REQUEST", "key %s: concurrency %q: want first-write or last-write", it.Key, it.Options.Concurrency)
	}
	ttl, err := daprTTL(it.Key, it.Metadata)
	opts.TTL = ttl
	return opts, err
}

// daprTTL reads metadata.ttlInSeconds: a positive number of seconds, or -1
// for no expiry.
func daprTTL(key string, md map[string]string) (time.Duration, error) {
	v, ok := md["ttlInSeconds"]
	if !ok || v == "-1" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > 1<<33 {
		return 0, daprErr(http.StatusBadRequest, "ERR_MALFORMED_REQUEST", "key %s: ttlInSeconds %q: want a positive number of seconds or -1", key, v)
	}
	return time.Duration(n) * time.Second, nil
}

func (it daprItem) value() ([]byte, error) {
	if len(it.Value) == 0 {
		return nil, daprErr(http.StatusBadRequest, "ERR_MALFORMED_REQUEST", "key %s: value is required", it.Key)
	}
	return it.Value, nil
}

// daprSave is POST /v1.0/state/{store}: an array of items, saved one by one
// (like Dapr's bulk save, it is not atomic; use the transaction endpoint).
func (a *API) daprSave(w http.ResponseWriter, r *http.Request) {
	s, err := a.daprStore(r)
	if err != nil {
		a.daprFail(w, r, "ERR_STATE_SAVE", err)
		return
	}
	var items []daprItem
	if err := a.daprDecode(w, r, &items); err != nil {
		a.daprFail(w, r, "ERR_STATE_SAVE", err)
		return
	}
	for _, it := range items {
		opts, err := it.setOptions()
		if err != nil {
			a.daprFail(w, r, "ERR_STATE_SAVE", err)
			return
		}
		v, err := it.value()
		if err != nil {
			a.daprFail(w, r, "ERR_STATE_SAVE", err)
			return
		}
		if _, err := s.Set(r.Context(), it.Key, v, opts); err != nil {
			a.daprFail(w, r, "ERR_STATE_SAVE", fmt.Errorf("failed saving state in state store %s: %w", r.PathValue("store"), err))
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// daprGet is GET /v1.0/state/{store}/{key}: the raw value with an ETag
// header, or 204 when the key does not exist.
func (a *API) daprGet(w http.ResponseWriter, r *http.Request) {
	s, err := a.daprStore(r)
	if err != nil {
		a.daprFail(w, r, "ERR_STATE_GET", err)
		return
	}
	e, err := s.Get(r.Context(), r.PathValue("key"))
	if errors.Is(err, state.ErrNotFound) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		a.daprFail(w, r, "ERR_STATE_GET", err)
		return
	}
	w.Header().Set("ETag", e.ETag)
	if json.Valid(e.Value) {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	_, _ = w.Write(e.Value)
}

// daprDelete is DELETE /v1.0/state/{store}/{key} with an optional If-Match.
func (a *API) daprDelete(w http.ResponseWriter, r *http.Request) {
	s, err := a.daprStore(r)
	if err != nil {
		a.daprFail(w, r, "ERR_STATE_DELETE", err)
		return
	}
	opts := state.DeleteOptions{IfMatch: strings.Trim(strings.TrimSpace(r.Header.Get("If-Match")), `"`)}
	if err := s.Delete(r.Context(), r.PathValue("key"), opts); err != nil {
		a.daprFail(w, r, "ERR_STATE_DELETE", fmt.Errorf("failed deleting state with key %s: %w", r.PathValue("key"), err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type daprBulkRequest struct {
	Keys        []string `json:"keys"`
	Parallelism int      `json:"parallelism"` // accepted; BulkGet decides
}

type daprBulkItem struct {
	Key  string          `json:"key"`
	Data json.RawMessage `json:"data,omitempty"`
	ETag string          `json:"etag,omitempty"`
}

// daprBulk is POST /v1.0/state/{store}/bulk. Missing keys come back with
// the key alone, as in Dapr. A value that is not JSON (written through the
// native API) is returned as a JSON string: as text if it is UTF-8, else
// base64.
func (a *API) daprBulk(w http.ResponseWriter, r *http.Request) {
	s, err := a.daprStore(r)
	if err != nil {
		a.daprFail(w, r, "ERR_STATE_BULK_GET", err)
		return
	}
	var req daprBulkRequest
	if err := a.daprDecode(w, r, &req); err != nil {
		a.daprFail(w, r, "ERR_STATE_BULK_GET", err)
		return
	}
	items, err := s.BulkGet(r.Context(), req.Keys)
	if err != nil {
		a.daprFail(w, r, "ERR_STATE_BULK_GET", err)
		return
	}
	out := make([]daprBulkItem, len(items))
	for i, it := range items {
		out[i].Key = it.Key
		if !it.Found {
			continue
		}
		out[i].ETag = it.ETag
		out[i].Data = asJSON(it.Value)
	}
	writeJSON(w, http.StatusOK, out)
}

func asJSON(v []byte) json.RawMessage {
	if json.Valid(v) {
		return v
	}
	s := string(v)
	if !utf8.ValidString(s) {
		s = base64.StdEncoding.EncodeToString(v)
	}
	b, _ := json.Marshal(s)
	return b
}

type daprTxRequest struct {
	Operations []struct {
		Operation string   `json:"operation"` // upsert or delete
		Request   daprItem `json:"request"`
	} `json:"operations"`
	Metadata map[string]string `json:"metadata"`
}

// daprTransaction is POST /v1.0/state/{store}/transaction: all operations
// or none.
func (a *API) daprTransaction(w http.ResponseWriter, r *http.Request) {
	s, err := a.daprStore(r)
	if err != nil {
		a.daprFail(w, r, "ERR_STATE_TRANSACTION", err)
		return
	}
	var req daprTxRequest
	if err := a.daprDecode(w, r, &req); err != nil {
		a.daprFail(w, r, "ERR_STATE_TRANSACTION", err)
		return
	}
	ops := make([]state.Op, len(req.Operations))
	for i, o := range req.Operations {
		it := o.Request
		switch o.Operation {
		case "upsert":
			opts, err := it.setOptions()
			if err == nil && opts.TTL == 0 {
				opts.TTL, err = daprTTL(it.Key, req.Metadata)
			}
			var v []byte
			if err == nil {
				v, err = it.value()
			}
			if err != nil {
				a.daprFail(w, r, "ERR_STATE_TRANSACTION", err)
				return
			}
			ops[i] = state.Op{Kind: state.OpSet, Key: it.Key, Value: v, IfMatch: opts.IfMatch, IfNoneMatch: opts.IfNoneMatch, TTL: opts.TTL}
		case "delete":
			op := state.Op{Kind: state.OpDelete, Key: it.Key}
			if it.ETag != nil {
				op.IfMatch = *it.ETag
			}
			ops[i] = op
		default:
			a.daprFail(w, r, "ERR_STATE_TRANSACTION", daprErr(http.StatusBadRequest, "ERR_NOT_SUPPORTED_STATE_OPERATION",
				"operation type %s not supported", o.Operation))
			return
		}
	}
	if err := s.Transact(r.Context(), ops); err != nil {
		a.daprFail(w, r, "ERR_STATE_TRANSACTION", fmt.Errorf("error while executing state transaction: %w", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
