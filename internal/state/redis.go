package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig configures a Redis store.
type RedisConfig struct {
	// Namespace separates stores sharing one Redis database; the store's
	// keys all start with "hearth:{Namespace}:". The braces are a Redis
	// Cluster hash tag: every key of one store lives in one slot, which the
	// multi-key Lua scripts need. Required.
	Namespace string
	Limits    Limits
	// CloseClient makes Close close the client (set when the store dialled
	// it itself).
	CloseClient bool
}

// Redis is a Store on Redis.
//
// Layout, for namespace N:
//
//	hearth:{N}:k:<key>  hash {v: value, e: version}; the Redis TTL is the key's TTL
//	hearth:{N}:idx      sorted set of keys (all score 0), for ordered List
//	hearth:{N}:seq      counter the versions are drawn from
//
// The version (the ETag) comes from one counter per store, so it is never
// reused, not even after a delete. Every conditional write is one Lua script,
// which Redis runs atomically: the check and the write cannot interleave
// with another client. Transactions are one Lua script too: all conditions
// are checked before anything is written. (A Redis Lua script that fails
// halfway does not roll back, which is why the script does no writes until
// every check has passed, and why it only uses commands that cannot fail on
// keys of the right type.)
//
// Durability is Redis's own: with the default configuration a crash can lose
// the last second or more of writes; use appendonly/appendfsync always if
// that matters.
type Redis struct {
	rdb    redis.UniversalClient
	limits Limits
	prefix string // "hearth:{N}:"
	idx    string
	seq    string
	close  bool
}

// NewRedis returns a store on rdb. No I/O happens here, so a Redis that is
// down does not stop the store from being built; calls fail with
// ErrUnavailable until it is back.
func NewRedis(rdb redis.UniversalClient, cfg RedisConfig) (*Redis, error) {
	if cfg.Namespace == "" {
		return nil, errors.New("redis state store: namespace is required")
	}
	p := "hearth:{" + cfg.Namespace + "}:"
	return &Redis{rdb: rdb, limits: cfg.Limits.WithDefaults(), prefix: p, idx: p + "idx", seq: p + "seq", close: cfg.CloseClient}, nil
}

func (s *Redis) dataKey(key string) string { return s.prefix + "k:" + key }

// Get implements Store.
func (s *Redis) Get(ctx context.Context, key string) (Entry, error) {
	if err := s.limits.CheckKey(key); err != nil {
		return Entry{}, err
	}
	vals, err := s.rdb.HMGet(ctx, s.dataKey(key), "v", "e").Result()
	if err != nil {
		return Entry{}, redisErr("get "+key, err)
	}
	return s.entry(key, vals)
}

func (s *Redis) entry(key string, vals []any) (Entry, error) {
	v, okV := vals[0].(string)
	e, okE := vals[1].(string)
	if !okV || !okE {
		return Entry{}, fmt.Errorf("key %q: %w", key, ErrNotFound)
	}
	return Entry{Value: []byte(v), ETag: e}, nil
}

// BulkGet implements Store with one pipelined round trip.
func (s *Redis) BulkGet(ctx context.Context, keys []string) ([]Item, error) {
	for _, k := range keys {
		if err := s.limits.CheckKey(k); err != nil {
			return nil, err
		}
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.HMGet(ctx, s.dataKey(k), "v", "e")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, redisErr("bulk get", err)
	}
	out := make([]Item, len(keys))
	for i, k := range keys {
		out[i].Key = k
		if e, err := s.entry(k, cmds[i].Val()); err == nil {
			out[i].Found, out[i].Entry = true, e
		}
	}
	return out, nil
}

// Set implements Store.
func (s *Redis) Set(ctx context.Context, key string, value []byte, opts SetOptions) (string, error) {
	if err := s.limits.CheckSet(key, value, opts); err != nil {
		return "", err
	}
	res, err := redisSet.Run(ctx, s.rdb, []string{s.dataKey(key), s.idx, s.seq},
		value, opts.IfMatch, boolArg(opts.IfNoneMatch), ttlMillis(opts.TTL), key).Int64()
	if err != nil {
		return "", redisErr("set "+key, err)
	}
	switch res {
	case redisExists:
		return "", exists(key, -1)
	case redisMismatch:
		return "", mismatch(key, -1)
	}
	return FormatETag(uint64(res)), nil
}

// ttlMillis rounds a TTL up to whole milliseconds, Redis's resolution, so
// that a tiny positive TTL does not become "no TTL".
func ttlMillis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Delete implements Store.
func (s *Redis) Delete(ctx context.Context, key string, opts DeleteOptions) error {
	if err := s.limits.CheckKey(key); err != nil {
		return err
	}
	if opts.IfMatch != "" {
		if _, err := ParseETag(opts.IfMatch); err != nil {
			return err
		}
	}
	res, err := redisDelete.Run(ctx, s.rdb, []string{s.dataKey(key), s.idx}, opts.IfMatch, key).Int64()
	if err != nil {
		return redisErr("delete "+key, err)
	}
	if res == redisMismatch {
		return mismatch(key, -1)
	}
	return nil
}

// Transact implements Store with one Lua script (see Redis).
func (s *Redis) Transact(ctx context.Context, ops []Op) error {
	if err := s.limits.CheckOps(ops); err != nil {
		return err
	}
	keys := make([]string, 0, len(ops)+2)
	keys = append(keys, s.idx, s.seq)
	args := make([]any, 0, 6*len(ops))
	for _, op := range ops {
		keys = append(keys, s.dataKey(op.Key))
		args = append(args, op.Kind.String(), op.Key, op.Value, op.IfMatch, boolArg(op.IfNoneMatch), ttlMillis(op.TTL))
	}
	res, err := redisTransact.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return redisErr("transaction", err)
	}
	if len(res) == 2 {
		i := int(res[1])
		if res[0] == redisExists {
			return exists(ops[i].Key, i)
		}
		return mismatch(ops[i].Key, i)
	}
	return nil
}

// List implements Store by walking the key index in lexicographic (byte)
// order. Index entries whose key has expired are skipped and pruned.
func (s *Redis) List(ctx context.Context, prefix, cursor string, limit int) (Page, error) {
	limit, err := checkList(limit)
	if err != nil {
		return Page{}, err
	}
	lo, hi := "-", "+"
	if prefix != "" {
		// Keys are valid UTF-8, which never has the byte 0xFF, so every key
		// with the prefix sorts below prefix+"\xff".
		lo, hi = "["+prefix, "["+prefix+"\xff"
	}
	if cursor != "" && cursor >= prefix {
		lo = "(" + cursor
	}
	var keys []string
	for len(keys) <= limit {
		batch, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
			Key: s.idx, Start: lo, Stop: hi, ByLex: true, Count: int64(limit + 1 - len(keys)),
		}).Result()
		if err != nil {
			return Page{}, redisErr("list", err)
		}
		if len(batch) == 0 {
			break
		}
		pipe := s.rdb.Pipeline()
		exists := make([]*redis.IntCmd, len(batch))
		for i, k := range batch {
			exists[i] = pipe.Exists(ctx, s.dataKey(k))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return Page{}, redisErr("list", err)
		}
		for i, k := range batch {
			if exists[i].Val() == 1 {
				keys = append(keys, k)
				continue
			}
			// Expired: drop it from the index, unless it was written again
			// meanwhile (the script checks again, atomically).
			if err := redisPrune.Run(ctx, s.rdb, []string{s.idx, s.dataKey(k)}, k).Err(); err != nil {
				return Page{}, redisErr("list", err)
			}
		}
		lo = "(" + batch[len(batch)-1]
	}
	return pageOf(keys, limit), nil
}

// Close implements Store.
func (s *Redis) Close() error {
	if s.close {
		return s.rdb.Close()
	}
	return nil
}

// redisErr wraps err, marking connection failures as ErrUnavailable.
func redisErr(what string, err error) error {
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || isRedisLoading(err) {
		return unavailable("redis "+what, err)
	}
	return fmt.Errorf("redis %s: %w", what, err)
}

// isRedisLoading reports the server errors that mean "not ready yet": a
// server loading its dataset, or a replica that lost its master.
func isRedisLoading(err error) bool {
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		return strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "MASTERDOWN")
	}
	return false
}

// Results the scripts return instead of a version.
const (
	redisExists   = -1
	redisMismatch = -2
)
