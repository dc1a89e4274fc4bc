package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/hearth-sh/hearth/internal/clock"
)

// DefaultStore is the store every node has.
const DefaultStore = "default"

// Spec says how to open one named store. It is parsed from the one-line
// form used by `hearth up --store` and config files:
//
//	NAME=BACKEND[,OPTION=VALUE]...
//
// BACKEND is memory, nats, a redis:// (or rediss://) URL, or a postgres://
// (or postgresql://) URL. The URL itself must not contain a comma. Options:
//
//	cache=SIZE[:TTL]   put a read cache in front (e.g. cache=10000:5s)
//	max_value=BYTES    value size limit (e.g. 4MiB; default 1MiB)
//	bucket=NAME        nats: the KV bucket (default hearth_state_NAME)
//	table=NAME         postgres: the table (default hearth_state)
//
// Examples: "default=nats", "orders=redis://127.0.0.1:6379/0,cache=1000:2s",
// "audit=postgres://hearth@db/hearth?sslmode=disable".
type Spec struct {
	Name    string
	Backend string // memory, nats, redis or postgres
	URL     string // redis and postgres
	Cache   *CacheConfig
	Limits  Limits
	Bucket  string
	Table   string
}

var storeNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ParseSpec parses the one-line form of a Spec.
func ParseSpec(line string) (Spec, error) {
	name, rest, ok := strings.Cut(strings.TrimSpace(line), "=")
	if !ok {
		return Spec{}, fmt.Errorf("store spec %q: want NAME=BACKEND", line)
	}
	if !storeNameRe.MatchString(name) {
		return Spec{}, fmt.Errorf("store spec %q: name %q must be 1-64 of A-Z a-z 0-9 _ -", line, name)
	}
	parts := strings.Split(rest, ",")
	sp := Spec{Name: name}
	switch b := parts[0]; {
	case b == "memory" || b == "nats":
		sp.Backend = b
	case strings.HasPrefix(b, "redis://") || strings.HasPrefix(b, "rediss://"):
		sp.Backend, sp.URL = "redis", b
	case strings.HasPrefix(b, "postgres://") || strings.HasPrefix(b, "postgresql://"):
		sp.Backend, sp.URL = "postgres", b
	default:
		return Spec{}, fmt.Errorf("store spec %q: unknown backend %q (want memory, nats, redis://..., postgres://...)", line, b)
	}
	for _, opt := range parts[1:] {
		k, v, _ := strings.Cut(opt, "=")
		var err error
		switch k {
		case "cache":
			sp.Cache, err = parseCacheOption(v)
		case "max_value":
			sp.Limits.MaxValueBytes, err = parseBytes(v)
		case "bucket":
			sp.Bucket = v
		case "table":
			sp.Table = v
		default:
			err = fmt.Errorf("unknown option %q", k)
		}
		if err != nil {
			return Spec{}, fmt.Errorf("store spec %q: %w", line, err)
		}
	}
	return sp, nil
}

func parseCacheOption(v string) (*CacheConfig, error) {
	cfg := &CacheConfig{}
	if v == "" {
		return cfg, nil
	}
	size, ttl, hasTTL := strings.Cut(v, ":")
	n, err := strconv.Atoi(size)
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("cache size %q: want a positive number", size)
	}
	cfg.Size = n
	if hasTTL {
		d, err := time.ParseDuration(ttl)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("cache TTL %q: want a positive duration like 5s", ttl)
		}
		cfg.TTL = d
	}
	return cfg, nil
}

// parseBytes reads "1048576", "512KiB", "4MiB".
func parseBytes(v string) (int, error) {
	mult := 1
	for suffix, m := range map[string]int{"KiB": 1 << 10, "MiB": 1 << 20} {
		if strings.HasSuffix(v, suffix) {
			v, mult = strings.TrimSuffix(v, suffix), m
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number of bytes, KiB or MiB", v)
	}
	return n * mult, nil
}

// Env is what opening a store may need from the node.
type Env struct {
	// JetStream is the node's backbone; required for nats stores.
	JetStream jetstream.JetStream
	Clock     clock.Clock
	Logger    *slog.Logger
	// Observe, if set, sees every operation on every store OpenAll opens.
	Observe Observer
}

// Open builds the store sp describes. Redis and PostgreSQL stores connect
// lazily: a server that is down makes calls fail with ErrUnavailable, not
// Open.
func Open(ctx context.Context, sp Spec, env Env) (Store, error) {
	var s Store
	var err error
	switch sp.Backend {
	case "memory":
		s = NewMemory(env.Clock, sp.Limits)
	case "nats":
		if env.JetStream == nil {
			return nil, fmt.Errorf("store %s: the nats backend needs the node's JetStream", sp.Name)
		}
		bucket := sp.Bucket
		if bucket == "" {
			bucket = "hearth_state_" + sp.Name
		}
		s, err = NewNATS(ctx, env.JetStream, NATSConfig{Bucket: bucket, Limits: sp.Limits, Logger: env.Logger})
	case "redis":
		var opts *redis.Options
		if opts, err = redis.ParseURL(sp.URL); err == nil {
			s, err = NewRedis(redis.NewClient(opts), RedisConfig{Namespace: sp.Name, Limits: sp.Limits, CloseClient: true})
		}
	case "postgres":
		var pool *pgxpool.Pool
		if pool, err = pgxpool.New(ctx, sp.URL); err == nil {
			s, err = NewPostgres(pool, PostgresConfig{Store: sp.Name, Table: sp.Table, Limits: sp.Limits,
				Clock: env.Clock, Logger: env.Logger, ClosePool: true})
		}
	default:
		return nil, fmt.Errorf("store %s: unknown backend %q", sp.Name, sp.Backend)
	}
	if err != nil {
		return nil, fmt.Errorf("store %s (%s): %w", sp.Name, sp.Backend, err)
	}
	if sp.Cache != nil {
		cfg := *sp.Cache
		if cfg.Clock == nil {
			cfg.Clock = env.Clock
		}
		c, err := NewCache(ctx, s, cfg)
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("store %s: %w", sp.Name, err)
		}
		s = c
	}
	return s, nil
}

// Registry holds a node's named stores. It is safe for concurrent reads;
// stores are fixed once it is built.
type Registry struct {
	stores map[string]Store
}

// OpenAll opens a store for every spec line and adds the "default" store
// when no line names it: nats when env has JetStream, memory otherwise.
// On error, the stores opened so far are closed.
func OpenAll(ctx context.Context, lines []string, env Env) (*Registry, error) {
	r := &Registry{stores: make(map[string]Store)}
	specs := make([]Spec, 0, len(lines)+1)
	seen := map[string]bool{}
	for _, l := range lines {
		sp, err := ParseSpec(l)
		if err != nil {
			return nil, err
		}
		if seen[sp.Name] {
			return nil, fmt.Errorf("store %s is configured twice", sp.Name)
		}
		seen[sp.Name] = true
		specs = append(specs, sp)
	}
	if !seen[DefaultStore] {
		def := Spec{Name: DefaultStore, Backend: "memory"}
		if env.JetStream != nil {
			def.Backend = "nats"
		}
		specs = append(specs, def)
	}
	for _, sp := range specs {
		s, err := Open(ctx, sp, env)
		if err != nil {
			_ = r.Close()
			return nil, err
		}
		if env.Observe != nil {
			s = &observed{Store: s, name: sp.Name, backend: sp.Backend, observe: env.Observe}
		}
		r.stores[sp.Name] = s
	}
	return r, nil
}

// NewRegistry wraps already opened stores (for tests and embedding).
func NewRegistry(stores map[string]Store) *Registry {
	m := make(map[string]Store, len(stores))
	for k, v := range stores {
		m[k] = v
	}
	return &Registry{stores: m}
}

// Store returns the named store.
func (r *Registry) Store(name string) (Store, bool) {
	s, ok := r.stores[name]
	return s, ok
}

// Names returns the store names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.stores))
	for n := range r.stores {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Close closes every store.
func (r *Registry) Close() error {
	var errs []error
	for name, s := range r.stores {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
