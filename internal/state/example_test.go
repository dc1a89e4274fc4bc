package state_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/hearth-sh/hearth/internal/state"
)

// Optimistic concurrency: read, change, write with IfMatch, and retry when
// another writer got there first.
func Example_increment() {
	ctx := context.Background()
	s := state.NewMemory(nil, state.Limits{})
	defer s.Close()

	increment := func(key string) error {
		for {
			n, etag := 0, ""
			e, err := s.Get(ctx, key)
			switch {
			case err == nil:
				n, etag = mustAtoi(e.Value), e.ETag
			case !errors.Is(err, state.ErrNotFound):
				return err
			}
			opts := state.SetOptions{IfMatch: etag, IfNoneMatch: etag == ""}
			_, err = s.Set(ctx, key, []byte(strconv.Itoa(n+1)), opts)
			if errors.Is(err, state.ErrETagMismatch) || errors.Is(err, state.ErrKeyExists) {
				continue // lost a race: read again
			}
			return err
		}
	}
	for i := 0; i < 3; i++ {
		if err := increment("visits"); err != nil {
			fmt.Println(err)
		}
	}
	e, _ := s.Get(ctx, "visits")
	fmt.Println(string(e.Value))
	// Output: 3
}

// A transaction applies all of its operations or none.
func Example_transact() {
	ctx := context.Background()
	s := state.NewMemory(nil, state.Limits{})
	defer s.Close()

	etag, _ := s.Set(ctx, "balance/alice", []byte("100"), state.SetOptions{})
	err := s.Transact(ctx, []state.Op{
		{Kind: state.OpSet, Key: "balance/alice", Value: []byte("70"), IfMatch: etag},
		{Kind: state.OpSet, Key: "balance/bob", Value: []byte("30"), IfNoneMatch: true},
	})
	fmt.Println(err)

	// The same transaction again: alice's ETag is stale now, so nothing happens.
	err = s.Transact(ctx, []state.Op{
		{Kind: state.OpSet, Key: "balance/alice", Value: []byte("40"), IfMatch: etag},
		{Kind: state.OpSet, Key: "balance/carol", Value: []byte("30")},
	})
	var cerr *state.ConditionError
	fmt.Println(errors.As(err, &cerr), cerr.Op, errors.Is(err, state.ErrETagMismatch))
	_, err = s.Get(ctx, "balance/carol")
	fmt.Println(errors.Is(err, state.ErrNotFound))
	// Output:
	// <nil>
	// true 0 true
	// true
}

func mustAtoi(b []byte) int {
	n, err := strconv.Atoi(string(b))
	if err != nil {
		panic(err)
	}
	return n
}
