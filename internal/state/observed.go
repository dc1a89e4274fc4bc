package state

import (
	"context"
	"errors"
	"time"
)

// Observer receives every operation on a store: which store and backend,
// the operation (get, bulk_get, set, delete, transact, list), how long it
// took and how it ended. The node turns these into metrics.
type Observer func(store, backend, op string, d time.Duration, err error)

// observed reports each operation of a store to an Observer.
type observed struct {
	Store
	name, backend string
	observe       Observer
}

func (o *observed) done(op string, start time.Time, err error) {
	// A missing key is an answer, not a failure of the store.
	if errors.Is(err, ErrNotFound) {
		err = nil
	}
	o.observe(o.name, o.backend, op, time.Since(start), err)
}

func (o *observed) Get(ctx context.Context, key string) (Entry, error) {
	start := time.Now()
	e, err := o.Store.Get(ctx, key)
	o.done("get", start, err)
	return e, err
}

func (o *observed) BulkGet(ctx context.Context, keys []string) ([]Item, error) {
	start := time.Now()
	items, err := o.Store.BulkGet(ctx, keys)
	o.done("bulk_get", start, err)
	return items, err
}

func (o *observed) Set(ctx context.Context, key string, value []byte, opts SetOptions) (string, error) {
	start := time.Now()
	etag, err := o.Store.Set(ctx, key, value, opts)
	o.done("set", start, err)
	return etag, err
}

func (o *observed) Delete(ctx context.Context, key string, opts DeleteOptions) error {
	start := time.Now()
	err := o.Store.Delete(ctx, key, opts)
	o.done("delete", start, err)
	return err
}

func (o *observed) Transact(ctx context.Context, ops []Op) error {
	start := time.Now()
	err := o.Store.Transact(ctx, ops)
	o.done("transact", start, err)
	return err
}

func (o *observed) List(ctx context.Context, prefix, cursor string, limit int) (Page, error) {
	start := time.Now()
	p, err := o.Store.List(ctx, prefix, cursor, limit)
	o.done("list", start, err)
	return p, err
}
