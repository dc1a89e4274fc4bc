package state

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Default limits; a store spec can change them.
const (
	DefaultMaxKeyBytes   = 1024
	DefaultMaxValueBytes = 1 << 20
	DefaultMaxTxOps      = 100
	DefaultListLimit     = 100
	MaxListLimit         = 1000
)

// Limits bound what a store accepts. The zero value means the defaults.
type Limits struct {
	MaxKeyBytes   int
	MaxValueBytes int
	// MaxTxOps bounds the operations of one transaction.
	MaxTxOps int
}

// WithDefaults fills unset fields with the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxKeyBytes <= 0 {
		l.MaxKeyBytes = DefaultMaxKeyBytes
	}
	if l.MaxValueBytes <= 0 {
		l.MaxValueBytes = DefaultMaxValueBytes
	}
	if l.MaxTxOps <= 0 {
		l.MaxTxOps = DefaultMaxTxOps
	}
	return l
}

// CheckKey reports whether key is acceptable: non-empty, at most MaxKeyBytes
// of valid UTF-8, and free of control characters. Control characters are
// refused because they break logs, HTTP paths and the NATS subject encoding,
// and no sensible key needs them; everything else (including unicode, "/",
// "." and spaces) is allowed.
func (l Limits) CheckKey(key string) error {
	l = l.WithDefaults()
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	case len(key) > l.MaxKeyBytes:
		return fmt.Errorf("%w: key is %d bytes, the limit is %d", ErrInvalidKey, len(key), l.MaxKeyBytes)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: key is not valid UTF-8", ErrInvalidKey)
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: key %q has control character %U", ErrInvalidKey, key, r)
		}
	}
	return nil
}

// CheckValue reports whether value fits in MaxValueBytes.
func (l Limits) CheckValue(key string, value []byte) error {
	l = l.WithDefaults()
	if len(value) > l.MaxValueBytes {
		return fmt.Errorf("key %q: %w: value is %d bytes, the limit is %d", key, ErrTooLarge, len(value), l.MaxValueBytes)
	}
	return nil
}

// CheckSet validates the arguments of Set.
func (l Limits) CheckSet(key string, value []byte, opts SetOptions) error {
	if err := l.CheckKey(key); err != nil {
		return err
	}
	if err := l.CheckValue(key, value); err != nil {
		return err
	}
	if opts.IfMatch != "" && opts.IfNoneMatch {
		return fmt.Errorf("key %q: %w: IfMatch and IfNoneMatch together", key, ErrInvalidArgument)
	}
	if opts.TTL < 0 {
		return fmt.Errorf("key %q: %w: negative TTL %v", key, ErrInvalidArgument, opts.TTL)
	}
	if opts.IfMatch != "" {
		if _, err := ParseETag(opts.IfMatch); err != nil {
			return err
		}
	}
	return nil
}

// CheckOps validates a transaction: size, keys, values, conditions, and
// that no key appears twice (the outcome of two writes to one key in one
// atomic step would depend on the backend).
func (l Limits) CheckOps(ops []Op) error {
	l = l.WithDefaults()
	if len(ops) == 0 {
		return fmt.Errorf("%w: empty transaction", ErrInvalidArgument)
	}
	if len(ops) > l.MaxTxOps {
		return fmt.Errorf("%w: transaction has %d operations, the limit is %d", ErrTooLarge, len(ops), l.MaxTxOps)
	}
	seen := make(map[string]int, len(ops))
	for i, op := range ops {
		if j, dup := seen[op.Key]; dup {
			return fmt.Errorf("%w: transaction ops %d and %d both touch key %q", ErrInvalidArgument, j, i, op.Key)
		}
		seen[op.Key] = i
		var err error
		switch op.Kind {
		case OpSet:
			err = l.CheckSet(op.Key, op.Value, SetOptions{IfMatch: op.IfMatch, IfNoneMatch: op.IfNoneMatch, TTL: op.TTL})
		case OpDelete:
			err = l.CheckKey(op.Key)
			if err == nil && op.IfMatch != "" {
				_, err = ParseETag(op.IfMatch)
			}
		default:
			err = fmt.Errorf("%w: unknown operation kind %d", ErrInvalidArgument, op.Kind)
		}
		if err != nil {
			return fmt.Errorf("transaction op %d: %w", i, err)
		}
	}
	return nil
}

// ParseETag decodes an ETag issued by one of hearth's backends: a positive
// decimal number. Anything else cannot match any key, and is reported as
// ErrInvalidETag rather than as a mismatch so that a client bug (a quoted
// or truncated ETag) is told apart from a lost race.
func ParseETag(etag string) (uint64, error) {
	n, err := strconv.ParseUint(etag, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: %q", ErrInvalidETag, etag)
	}
	return n, nil
}

// FormatETag encodes a version as an ETag.
func FormatETag(v uint64) string { return strconv.FormatUint(v, 10) }

// checkList validates List arguments and returns the effective limit.
func checkList(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, fmt.Errorf("%w: negative list limit %d", ErrInvalidArgument, limit)
	case limit == 0:
		return DefaultListLimit, nil
	case limit > MaxListLimit:
		return MaxListLimit, nil
	}
	return limit, nil
}
