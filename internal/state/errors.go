package state

import (
	"errors"
	"fmt"
)

// The kinds of failure a Store reports. Every error a Store returns for one
// of these reasons satisfies errors.Is with the sentinel, so that the API
// can map each kind to one HTTP status in one place.
var (
	// ErrNotFound: the key does not exist (or has expired).
	ErrNotFound = errors.New("key not found")
	// ErrETagMismatch: an IfMatch condition failed; the key changed or is gone.
	ErrETagMismatch = errors.New("etag mismatch")
	// ErrKeyExists: an IfNoneMatch (create-only) condition failed.
	ErrKeyExists = errors.New("key already exists")
	// ErrInvalidKey: the key is empty, too long or has forbidden characters.
	ErrInvalidKey = errors.New("invalid key")
	// ErrInvalidETag: the ETag is not one this store could have issued.
	ErrInvalidETag = errors.New("invalid etag")
	// ErrTooLarge: a value (or a transaction) is over the store's limit.
	ErrTooLarge = errors.New("too large")
	// ErrInvalidArgument: some other argument is unusable (negative TTL,
	// empty or duplicate transaction, bad limit).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnavailable: the backend cannot be reached; the request may succeed
	// when it is retried later.
	ErrUnavailable = errors.New("store unavailable")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("store closed")
)

// ConditionError reports a failed IfMatch or IfNoneMatch condition. Err is
// ErrETagMismatch or ErrKeyExists; errors.Is sees through to it.
type ConditionError struct {
	Key string
	// Op is the index of the failing operation in a transaction, or -1
	// outside a transaction.
	Op  int
	Err error
}

// Error names the key, the operation and what failed.
func (e *ConditionError) Error() string {
	if e.Op >= 0 {
		return fmt.Sprintf("transaction op %d (key %q): %v", e.Op, e.Key, e.Err)
	}
	return fmt.Sprintf("key %q: %v", e.Key, e.Err)
}

// Unwrap returns ErrETagMismatch or ErrKeyExists.
func (e *ConditionError) Unwrap() error { return e.Err }

func mismatch(key string, op int) error {
	return &ConditionError{Key: key, Op: op, Err: ErrETagMismatch}
}

func exists(key string, op int) error {
	return &ConditionError{Key: key, Op: op, Err: ErrKeyExists}
}

// unavailable marks err as ErrUnavailable while keeping its text and chain.
func unavailable(what string, err error) error {
	return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
