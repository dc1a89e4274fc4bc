package state_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/state"
	"github.com/hearth-sh/hearth/internal/state/statetest"
)

func postgresPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	url := statetest.ServiceURL(t, "HEARTH_TEST_POSTGRES_URL")
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("HEARTH_TEST_POSTGRES_URL: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(context.Background()); err != nil {
		t.Fatalf("postgres: %v", err)
	}
	return pool
}

// postgresStore opens a store with a name no other run uses and deletes its
// rows when the test ends.
func postgresStore(t *testing.T, pool *pgxpool.Pool, clk clock.Clock, n int) (*state.Postgres, string) {
	t.Helper()
	name := fmt.Sprintf("test-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), n)
	s, err := state.NewPostgres(pool, state.PostgresConfig{Store: name, Clock: clk})
	if err != nil {
		t.Fatalf("NewPostgres: %v", err)
	}
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DELETE FROM `+state.DefaultPostgresTable+` WHERE store = $1`, name)
	})
	return s, name
}

func TestPostgresConformance(t *testing.T) {
	pool := postgresPool(t)
	n := 0
	statetest.Run(t, func(t *testing.T) statetest.Harness {
		n++
		clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		s, _ := postgresStore(t, pool, clk, n)
		return statetest.Harness{Store: s, Clock: clk}
	})
}

// TestPostgresSweep checks that expired rows are deleted in the background,
// not only hidden.
func TestPostgresSweep(t *testing.T) {
	pool := postgresPool(t)
	clk := clock.NewFake(time.Now())
	s, name := postgresStore(t, pool, clk, 0)
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Set(ctx, "short", []byte("v"), state.SetOptions{TTL: time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Set(ctx, "long", []byte("v"), state.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute) // runs the sweep, synchronously on the fake clock
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+state.DefaultPostgresTable+` WHERE store = $1`, name).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("%d rows left after the sweep, want 1 (the key without TTL)", rows)
	}
}

// TestPostgresDown checks that an unreachable database is ErrUnavailable and
// does not stop the store from being built.
func TestPostgresDown(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := state.NewPostgres(pool, state.PostgresConfig{Store: "down", ClosePool: true})
	if err != nil {
		t.Fatalf("NewPostgres with the database down: %v", err)
	}
	defer s.Close()
	if _, err := s.Get(context.Background(), "k"); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Get with the database down: %v, want ErrUnavailable", err)
	}
}
