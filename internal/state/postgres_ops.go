package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Transact implements Store as one SQL transaction: each operation is the
// same conditional statement Set or Delete would run; the first condition
// that fails rolls everything back.
func (s *Postgres) Transact(ctx context.Context, ops []Op) error {
	if err := s.limits.CheckOps(ops); err != nil {
		return err
	}
	if err := s.ensureSchema(ctx); err != nil {
		return err
	}
	// Key order: concurrent transactions lock rows in the same order.
	order := make([]int, len(ops))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return ops[order[a]].Key < ops[order[b]].Key })

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return pgErr("begin transaction", err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // no-op after Commit
	for _, i := range order {
		op := ops[i]
		if op.Kind == OpSet {
			_, err = s.set(ctx, tx, op.Key, op.Value, op.IfMatch, op.IfNoneMatch, op.TTL, i)
		} else {
			err = s.delete(ctx, tx, op.Key, op.IfMatch, i)
		}
		if err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return pgErr("commit transaction", err)
	}
	return nil
}

// List implements Store: an index range scan in byte order (the key column
// has the "C" collation).
func (s *Postgres) List(ctx context.Context, prefix, cursor string, limit int) (Page, error) {
	limit, err := checkList(limit)
	if err != nil {
		return Page{}, err
	}
	if err := s.ensureSchema(ctx); err != nil {
		return Page{}, err
	}
	rows, err := s.pool.Query(ctx, `SELECT key FROM `+s.table+
		` WHERE store = $1 AND key LIKE $2 ESCAPE '\' AND key > $3 AND `+live(4)+` ORDER BY key LIMIT $5`,
		s.store, likePrefix(prefix), cursor, s.clock.Now(), limit+1)
	if err != nil {
		return Page{}, pgErr("list", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return Page{}, pgErr("list", err)
	}
	return pageOf(keys, limit), nil
}

// likePrefix makes a LIKE pattern matching strings that start with prefix.
func likePrefix(prefix string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(prefix) + "%"
}

// sweepExpired deletes expired rows of this store and schedules itself again.
func (s *Postgres) sweepExpired() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.sweepEvery)
	if err := s.ensureSchema(ctx); err == nil {
		tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.table+` WHERE store = $1 AND expires_at <= $2`, s.store, s.clock.Now())
		if err != nil {
			s.log.Warn("state: sweeping expired keys failed", "store", s.store, "err", err)
		} else if n := tag.RowsAffected(); n > 0 {
			s.log.Debug("state: swept expired keys", "store", s.store, "count", n)
		}
	}
	cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.sweep = s.clock.AfterFunc(s.sweepEvery, s.sweepExpired)
	}
}

// Close implements Store.
func (s *Postgres) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.sweep != nil {
		s.sweep.Stop()
	}
	s.mu.Unlock()
	if s.closePool {
		s.pool.Close()
	}
	return nil
}

// pgErr wraps err, marking connection failures as ErrUnavailable.
func pgErr(what string, err error) error {
	var netErr net.Error
	var connErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &connErr), errors.As(err, &netErr), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), pgconn.Timeout(err), errors.Is(err, context.DeadlineExceeded):
		return unavailable("postgres "+what, err)
	case errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P03"):
		return unavailable("postgres "+what, err)
	}
	return fmt.Errorf("postgres %s: %w", what, err)
}
