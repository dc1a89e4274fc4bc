package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hearth-sh/hearth/internal/clock"
)

// DefaultPostgresTable is the table the Postgres store uses unless told
// otherwise. Stores share it, told apart by the store column.
const DefaultPostgresTable = "hearth_state"

// PostgresConfig configures a PostgreSQL store.
type PostgresConfig struct {
	// Store is this store's name; rows of other stores in the same table are
	// never touched. Required.
	Store string
	// Table defaults to DefaultPostgresTable.
	Table  string
	Limits Limits
	// Clock is where expiry times come from (nil: the wall clock). Expiry is
	// judged by hearth's clock, not the database's, so that tests can drive
	// it; nodes sharing one database need reasonably synchronised clocks.
	Clock clock.Clock
	// SweepEvery is how often expired rows are deleted (default 1 min).
	// Expired rows are invisible at once; the sweep only reclaims space.
	SweepEvery time.Duration
	Logger     *slog.Logger
	// ClosePool makes Close close the pool (set when the store opened it).
	ClosePool bool
}

// Postgres is a Store on a PostgreSQL table:
//
//	(store text, key text COLLATE "C", value bytea, version bigint,
//	 expires_at timestamptz, PRIMARY KEY (store, key))
//
// The version (the ETag) comes from one sequence, so it is never reused.
// Conditional writes are single statements whose WHERE clause is the
// condition (UPDATE ... WHERE version = $etag; INSERT ... ON CONFLICT for
// create-only), which PostgreSQL evaluates on the latest row version under
// the row lock: no lost update is possible at READ COMMITTED. Transactions
// are SQL transactions; the operations run in key order, so two transactions
// over the same keys lock rows in the same order and cannot deadlock.
type Postgres struct {
	pool       *pgxpool.Pool
	store      string
	table      string // sanitized identifier
	seq        string // sanitized identifier
	limits     Limits
	clock      clock.Clock
	log        *slog.Logger
	closePool  bool
	sweepEvery time.Duration

	schemaMu    sync.Mutex
	schemaReady atomic.Bool

	mu     sync.Mutex
	sweep  clock.Timer
	closed bool
}

// NewPostgres returns a store on pool. The table is created on first use,
// not here, so a database that is down does not stop the store (or the
// node) from starting; calls fail with ErrUnavailable until it is back.
func NewPostgres(pool *pgxpool.Pool, cfg PostgresConfig) (*Postgres, error) {
	if cfg.Store == "" {
		return nil, errors.New("postgres state store: store name is required")
	}
	table := cfg.Table
	if table == "" {
		table = DefaultPostgresTable
	}
	clk := cfg.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	every := cfg.SweepEvery
	if every <= 0 {
		every = time.Minute
	}
	s := &Postgres{
		pool: pool, store: cfg.Store,
		table: pgx.Identifier{table}.Sanitize(), seq: pgx.Identifier{table + "_version"}.Sanitize(),
		limits: cfg.Limits.WithDefaults(), clock: clk, log: log, closePool: cfg.ClosePool, sweepEvery: every,
	}
	s.mu.Lock()
	s.sweep = clk.AfterFunc(every, s.sweepExpired)
	s.mu.Unlock()
	return s, nil
}

// ensureSchema creates the table and sequence once. Concurrent nodes
// serialise on an advisory lock, because CREATE ... IF NOT EXISTS is not
// safe against itself running concurrently.
func (s *Postgres) ensureSchema(ctx context.Context) error {
	if s.schemaReady.Load() {
		return nil
	}
	s.schemaMu.Lock()
	defer s.schemaMu.Unlock()
	if s.schemaReady.Load() {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		stmts := []string{
			`SELECT pg_advisory_xact_lock(hashtext('hearth_state_schema'))`,
			`CREATE SEQUENCE IF NOT EXISTS ` + s.seq,
			`CREATE TABLE IF NOT EXISTS ` + s.table + ` (
				store      text NOT NULL,
				key        text COLLATE "C" NOT NULL,
				value      bytea NOT NULL,
				version    bigint NOT NULL,
				expires_at timestamptz,
				PRIMARY KEY (store, key))`,
			`CREATE INDEX IF NOT EXISTS ` + pgx.Identifier{strings.Trim(s.table, `"`) + "_expiry"}.Sanitize() +
				` ON ` + s.table + ` (store, expires_at) WHERE expires_at IS NOT NULL`,
		}
		for _, q := range stmts {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return pgErr("create schema", err)
	}
	s.schemaReady.Store(true)
	return nil
}

func (s *Postgres) expiry(ttl time.Duration) *time.Time {
	if ttl <= 0 {
		return nil
	}
	t := s.clock.Now().Add(ttl)
	return &t
}

// live is the SQL condition for a row that has not expired; $n is now.
func live(n int) string {
	return fmt.Sprintf("(expires_at IS NULL OR expires_at > $%d)", n)
}

// Get implements Store.
func (s *Postgres) Get(ctx context.Context, key string) (Entry, error) {
	if err := s.limits.CheckKey(key); err != nil {
		return Entry{}, err
	}
	if err := s.ensureSchema(ctx); err != nil {
		return Entry{}, err
	}
	var e Entry
	var version int64
	var expires *time.Time
	err := s.pool.QueryRow(ctx, `SELECT value, version, expires_at FROM `+s.table+
		` WHERE store = $1 AND key = $2 AND `+live(3), s.store, key, s.clock.Now()).Scan(&e.Value, &version, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, fmt.Errorf("key %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return Entry{}, pgErr("get "+key, err)
	}
	e.ETag = FormatETag(uint64(version))
	if expires != nil {
		e.ExpiresAt = *expires
	}
	return e, nil
}

// BulkGet implements Store with one query.
func (s *Postgres) BulkGet(ctx context.Context, keys []string) ([]Item, error) {
	for _, k := range keys {
		if err := s.limits.CheckKey(k); err != nil {
			return nil, err
		}
	}
	if err := s.ensureSchema(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT key, value, version, expires_at FROM `+s.table+
		` WHERE store = $1 AND key = ANY($2) AND `+live(3), s.store, keys, s.clock.Now())
	if err != nil {
		return nil, pgErr("bulk get", err)
	}
	found := make(map[string]Entry, len(keys))
	for rows.Next() {
		var k string
		var e Entry
		var version int64
		var expires *time.Time
		if err := rows.Scan(&k, &e.Value, &version, &expires); err != nil {
			rows.Close()
			return nil, pgErr("bulk get", err)
		}
		e.ETag = FormatETag(uint64(version))
		if expires != nil {
			e.ExpiresAt = *expires
		}
		found[k] = e
	}
	if err := rows.Err(); err != nil {
		return nil, pgErr("bulk get", err)
	}
	out := make([]Item, len(keys))
	for i, k := range keys {
		e, ok := found[k]
		out[i] = Item{Key: k, Found: ok, Entry: e}
	}
	return out, nil
}

// querier is what a pool and a transaction have in common.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Set implements Store.
func (s *Postgres) Set(ctx context.Context, key string, value []byte, opts SetOptions) (string, error) {
	if err := s.limits.CheckSet(key, value, opts); err != nil {
		return "", err
	}
	if err := s.ensureSchema(ctx); err != nil {
		return "", err
	}
	v, err := s.set(ctx, s.pool, key, value, opts.IfMatch, opts.IfNoneMatch, opts.TTL, -1)
	if err != nil {
		return "", err
	}
	return FormatETag(v), nil
}

// set runs the one statement that writes key under its condition; op is the
// transaction index for errors (-1 outside one).
func (s *Postgres) set(ctx context.Context, q querier, key string, value []byte, ifMatch string, ifNoneMatch bool, ttl time.Duration, op int) (uint64, error) {
	if value == nil {
		value = []byte{} // the column is NOT NULL; an empty value is still a value
	}
	now, expires := s.clock.Now(), s.expiry(ttl)
	var version int64
	var err error
	switch {
	case ifMatch != "":
		want, _ := ParseETag(ifMatch) // validated by the caller
		err = q.QueryRow(ctx, `UPDATE `+s.table+` SET value = $3, version = nextval('`+s.seq+`'), expires_at = $4
			WHERE store = $1 AND key = $2 AND version = $5 AND `+live(6)+` RETURNING version`,
			s.store, key, value, expires, int64(want), now).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, mismatch(key, op)
		}
	case ifNoneMatch:
		// An expired row still occupies the key; it counts as absent.
		err = q.QueryRow(ctx, `INSERT INTO `+s.table+` AS t (store, key, value, version, expires_at)
			VALUES ($1, $2, $3, nextval('`+s.seq+`'), $4)
			ON CONFLICT (store, key) DO UPDATE SET value = EXCLUDED.value, version = EXCLUDED.version, expires_at = EXCLUDED.expires_at
			WHERE t.expires_at IS NOT NULL AND t.expires_at <= $5 RETURNING version`,
			s.store, key, value, expires, now).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, exists(key, op)
		}
	default:
		err = q.QueryRow(ctx, `INSERT INTO `+s.table+` (store, key, value, version, expires_at)
			VALUES ($1, $2, $3, nextval('`+s.seq+`'), $4)
			ON CONFLICT (store, key) DO UPDATE SET value = EXCLUDED.value, version = EXCLUDED.version, expires_at = EXCLUDED.expires_at
			RETURNING version`, s.store, key, value, expires).Scan(&version)
	}
	if err != nil {
		return 0, pgErr("set "+key, err)
	}
	return uint64(version), nil
}

// Delete implements Store.
func (s *Postgres) Delete(ctx context.Context, key string, opts DeleteOptions) error {
	if err := s.limits.CheckKey(key); err != nil {
		return err
	}
	if opts.IfMatch != "" {
		if _, err := ParseETag(opts.IfMatch); err != nil {
			return err
		}
	}
	if err := s.ensureSchema(ctx); err != nil {
		return err
	}
	return s.delete(ctx, s.pool, key, opts.IfMatch, -1)
}

func (s *Postgres) delete(ctx context.Context, q querier, key, ifMatch string, op int) error {
	if ifMatch == "" {
		if _, err := q.Exec(ctx, `DELETE FROM `+s.table+` WHERE store = $1 AND key = $2`, s.store, key); err != nil {
			return pgErr("delete "+key, err)
		}
		return nil
	}
	want, _ := ParseETag(ifMatch)
	tag, err := q.Exec(ctx, `DELETE FROM `+s.table+` WHERE store = $1 AND key = $2 AND version = $3 AND `+live(4),
		s.store, key, int64(want), s.clock.Now())
	if err != nil {
		return pgErr("delete "+key, err)
	}
	if tag.RowsAffected() == 0 {
		return mismatch(key, op)
	}
	return nil
}
