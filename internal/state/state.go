// Package state is hearth's key/value state for functions: one Store
// interface, the backends behind it (memory, NATS JetStream KV, Redis,
// PostgreSQL), a read cache, and an opener that builds a named store from a
// one-line spec such as "orders=redis://127.0.0.1:6379/0".
//
// Every backend passes the same conformance suite (package statetest), so the
// semantics below hold for all of them:
//
//   - An ETag is an opaque string that changes on every write of a key and is
//     never reused for that key, not even after a delete and re-create (each
//     backend draws it from a counter that only grows). Callers must not parse
//     it; within hearth every backend happens to use a decimal uint64, which
//     lets the cache order versions.
//   - Set with IfMatch writes only if the key exists with exactly that ETag;
//     otherwise it fails with ErrETagMismatch. Set with IfNoneMatch writes only
//     if the key does not exist; otherwise it fails with ErrKeyExists.
//   - Delete without IfMatch of a missing key succeeds (deletes are
//     idempotent); with IfMatch it fails with ErrETagMismatch.
//   - A key with a TTL disappears once the TTL has passed; a later Set without
//     a TTL makes it permanent again.
//   - Transact applies all of its operations or none of them.
//   - List returns keys in byte order, a page at a time.
//
// # Notes
//
// Stores are safe for concurrent use. Close releases what the store opened
// itself (connections it dialled); a connection passed in by the caller stays
// open and remains the caller's to close.
package state

import (
	"context"
	"time"
)

// Store is one named key/value space.
type Store interface {
	// Get returns the current value and ETag of key, or ErrNotFound.
	Get(ctx context.Context, key string) (Entry, error)
	// BulkGet reads several keys. The result has one Item per key, in the
	// order given; a missing key is an Item with Found false. It is not a
	// snapshot: each key is read on its own.
	BulkGet(ctx context.Context, keys []string) ([]Item, error)
	// Set writes value under key and returns the new ETag.
	Set(ctx context.Context, key string, value []byte, opts SetOptions) (string, error)
	// Delete removes key.
	Delete(ctx context.Context, key string, opts DeleteOptions) error
	// Transact applies ops all or nothing. When a condition fails the error is
	// a *ConditionError naming the operation (errors.Is matches
	// ErrETagMismatch or ErrKeyExists) and no operation is applied. A key may
	// appear at most once in ops.
	Transact(ctx context.Context, ops []Op) error
	// List returns up to limit keys that start with prefix and sort after
	// cursor (empty cursor: from the start). Page.Cursor is the cursor of the
	// next page, empty when there is none.
	List(ctx context.Context, prefix, cursor string, limit int) (Page, error)
	// Close releases the store's resources.
	Close() error
}

// Entry is a stored value and its version.
type Entry struct {
	Value []byte
	ETag  string
	// ExpiresAt is when the key expires; zero means never, or that the
	// backend does not report it (NATS).
	ExpiresAt time.Time
}

// Item is one result of BulkGet.
type Item struct {
	Key   string
	Found bool
	Entry
}

// SetOptions are the conditions and expiry of a Set.
type SetOptions struct {
	// IfMatch, when set, is the ETag the key must currently have.
	IfMatch string
	// IfNoneMatch makes the write create-only: it fails if the key exists.
	IfNoneMatch bool
	// TTL, when positive, makes the key expire after this long. Backends
	// round it up to their resolution (NATS: whole seconds).
	TTL time.Duration
}

// DeleteOptions are the conditions of a Delete.
type DeleteOptions struct {
	// IfMatch, when set, is the ETag the key must currently have.
	IfMatch string
}

// OpKind says what a transaction operation does.
type OpKind int

const (
	// OpSet writes a value.
	OpSet OpKind = iota + 1
	// OpDelete removes a key.
	OpDelete
)

// String returns "set" or "delete".
func (k OpKind) String() string {
	switch k {
	case OpSet:
		return "set"
	case OpDelete:
		return "delete"
	}
	return "unknown"
}

// Op is one operation of a transaction.
type Op struct {
	Kind  OpKind
	Key   string
	Value []byte // OpSet only
	// IfMatch, IfNoneMatch and TTL mean what they mean in SetOptions;
	// IfNoneMatch and TTL apply to OpSet only.
	IfMatch     string
	IfNoneMatch bool
	TTL         time.Duration
}

// Page is one page of List.
type Page struct {
	Keys []string
	// Cursor continues the listing; empty when this is the last page.
	Cursor string
}
