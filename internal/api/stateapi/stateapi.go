// Package stateapi serves hearth's state over HTTP, in two shapes:
//
//   - the native API under /v1/state/{store}: a value per key with ETag,
//     If-Match and If-None-Match headers, plus bulk reads, transactions and
//     listing (see docs/state.md);
//   - the shape of Dapr's state HTTP API under /v1.0/state/{store}, so that
//     code written against a Dapr sidecar works against hearth unchanged.
//
// Both are thin: the semantics (ETags, TTL, transactions) are the stores',
// and every store error kind maps to one HTTP status, here.
package stateapi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/hearth-sh/hearth/internal/state"
)

// DefaultMaxBodyBytes bounds request bodies: room for a transaction of a
// few large values. Values themselves are bounded by each store's limit.
const DefaultMaxBodyBytes = 16 << 20

// Resolver finds a store by name. *state.Registry implements it.
type Resolver interface {
	Store(name string) (state.Store, bool)
}

// API serves the state endpoints.
type API struct {
	Stores Resolver
	// MaxBodyBytes bounds request bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// Register adds the native and Dapr-shaped state endpoints to mux.
func Register(mux *http.ServeMux, stores Resolver) {
	(&API{Stores: stores}).Register(mux)
}

// Register adds the native and Dapr-shaped state endpoints to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/state/{store}", a.nativeList)
	mux.HandleFunc("GET /v1/state/{store}/{key...}", a.nativeGet)
	mux.HandleFunc("PUT /v1/state/{store}/{key...}", a.nativePut)
	mux.HandleFunc("DELETE /v1/state/{store}/{key...}", a.nativeDelete)
	mux.HandleFunc("POST /v1/state/{store}/bulk", a.nativeBulk)
	mux.HandleFunc("POST /v1/state/{store}/transaction", a.nativeTransaction)

	mux.HandleFunc("POST /v1.0/state/{store}", a.daprSave)
	mux.HandleFunc("GET /v1.0/state/{store}/{key...}", a.daprGet)
	mux.HandleFunc("DELETE /v1.0/state/{store}/{key...}", a.daprDelete)
	for _, m := range []string{"POST", "PUT"} {
		mux.HandleFunc(m+" /v1.0/state/{store}/bulk", a.daprBulk)
		mux.HandleFunc(m+" /v1.0/state/{store}/transaction", a.daprTransaction)
	}
}

func (a *API) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

func (a *API) maxBody() int64 {
	if a.MaxBodyBytes > 0 {
		return a.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// errBodyTooLarge is returned by readBody for a body over MaxBodyBytes.
var errBodyTooLarge = errors.New("request body too large")

// readBody reads the whole body, up to MaxBodyBytes.
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody()))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, fmt.Errorf("%w: the limit is %d bytes", errBodyTooLarge, tooLarge.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return body, nil
}
