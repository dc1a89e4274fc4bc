// Command asynccount is the guest of the async crash test: it counts, in
// the default state store, how often each event ran and how often its
// effect was applied, so a test can prove by counting what delivery
// guarantees held across a SIGKILL.
//
// The body is {"event":"e1","dedupe":true}. Every run increments
// runs/<event>. The effect increments applied/keyed or applied/plain:
//   - with dedupe (the idempotent style, used for the events sent with an
//     Idempotency-Key), the effect and a create-only done/<event> marker are
//     written in one transaction, so a redelivered event is seen and skipped
//     and the effect happens exactly once;
//   - without it, every run applies the effect again (at least once), and
//     done/<event> is simply overwritten.
package main

import (
	"errors"
	"strconv"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

type request struct {
	Event  string `json:"event"`
	Dedupe bool   `json:"dedupe"`
}

func init() {
	hearth.Handle(func(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
		var in request
		if err := req.DecodeJSON(&in); err != nil {
			return hearth.Response{}, err
		}
		if in.Event == "" {
			return hearth.Response{}, hearth.BadRequest(errors.New(`give an "event"`))
		}
		store := ctx.State("default")
		if err := increment(store, "runs/"+in.Event, nil); err != nil {
			return hearth.Response{}, err
		}
		m := marker{key: "done/" + in.Event, createOnly: in.Dedupe}
		counter := "applied/plain"
		if in.Dedupe {
			counter = "applied/keyed"
		}
		err := increment(store, counter, &m)
		if errors.Is(err, errDuplicate) {
			return hearth.Text("duplicate"), nil
		}
		if err != nil {
			return hearth.Response{}, err
		}
		return hearth.Text("applied"), nil
	})
}

// marker is the done/<event> key written with an effect; created only once
// when createOnly is set.
type marker struct {
	key        string
	createOnly bool
}

// errDuplicate: a create-only marker exists, so an earlier run applied the
// effect already.
var errDuplicate = errors.New("applied before")

// increment adds one to key with optimistic concurrency, in one transaction
// with m when there is one: the effect and its marker are written together
// or not at all, even if the node dies between them.
func increment(store *hearth.Store, key string, m *marker) error {
	for {
		v, etag, found, err := store.Get(key)
		if err != nil {
			return err
		}
		n, cond := 0, hearth.IfNoneMatch()
		if found {
			if n, err = strconv.Atoi(string(v)); err != nil {
				return err
			}
			cond = hearth.IfMatch(etag)
		}
		next := []byte(strconv.Itoa(n + 1))
		if m == nil {
			_, err = store.Set(key, next, cond)
		} else {
			var opts []hearth.SetOption
			if m.createOnly {
				opts = append(opts, hearth.IfNoneMatch())
			}
			err = store.Transact(hearth.SetOp(m.key, []byte("1"), opts...), hearth.SetOp(key, next, cond))
		}
		if errors.Is(err, hearth.ErrConflict) || errors.Is(err, hearth.ErrExists) {
			if m != nil && m.createOnly {
				if _, _, done, gerr := store.Get(m.key); gerr == nil && done {
					return errDuplicate
				}
			}
			continue // another run wrote the counter first: read again
		}
		return err
	}
}

func main() {}
