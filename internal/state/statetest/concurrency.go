package statetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/hearth-sh/hearth/internal/state"
)

// testConcurrentIncrements runs many clients doing compare-and-set
// increments on one key and checks that no increment is lost.
func testConcurrentIncrements(t *testing.T, h Harness) {
	const workers, each = 8, 20
	s := h.Store
	mustSet(t, s, "counter", "0", state.SetOptions{})
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := ctxFor(t)
			for done := 0; done < each; {
				e, err := s.Get(ctx, "counter")
				if err != nil {
					errs <- fmt.Errorf("read counter: %w", err)
					return
				}
				n, err := strconv.Atoi(string(e.Value))
				if err != nil {
					errs <- fmt.Errorf("counter holds %q: %w", e.Value, err)
					return
				}
				_, err = s.Set(ctx, "counter", []byte(strconv.Itoa(n+1)), state.SetOptions{IfMatch: e.ETag})
				switch {
				case err == nil:
					done++
				case errors.Is(err, state.ErrETagMismatch):
					conflicts.Add(1)
				default:
					errs <- fmt.Errorf("write counter: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantValue(t, s, "counter", strconv.Itoa(workers*each))
	t.Logf("%d increments, %d conflicts retried", workers*each, conflicts.Load())
}

// testConcurrentCreate races create-only writes of one key: exactly one wins.
func testConcurrentCreate(t *testing.T, h Harness) {
	const workers = 8
	var wins, losses atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.Store.Set(ctxFor(t), "once", []byte(strconv.Itoa(w)), state.SetOptions{IfNoneMatch: true})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, state.ErrKeyExists):
				losses.Add(1)
			default:
				t.Errorf("create: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || losses.Load() != workers-1 {
		t.Fatalf("%d creates won and %d lost, want 1 and %d", wins.Load(), losses.Load(), workers-1)
	}
}

// The linearizability model: each key is a register holding (value, ETag).

type regState struct {
	exists      bool
	value, etag string
}

type regInput struct {
	key     string
	kind    string // get, put, cas, del
	value   string
	ifMatch string
}

type regOutput struct {
	ok          bool // get: found; cas: applied
	value, etag string
}

var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(regInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return regState{} },
	Step: func(st, in, out any) (bool, any) {
		s, i, o := st.(regState), in.(regInput), out.(regOutput)
		switch i.kind {
		case "get":
			if !o.ok {
				return !s.exists, s
			}
			return s.exists && s.value == o.value && s.etag == o.etag, s
		case "put":
			return true, regState{exists: true, value: i.value, etag: o.etag}
		case "cas":
			matches := s.exists && s.etag == i.ifMatch
			if o.ok {
				return matches, regState{exists: true, value: i.value, etag: o.etag}
			}
			return !matches, s
		case "del":
			return true, regState{}
		}
		return false, s
	},
	DescribeOperation: func(in, out any) string {
		i, o := in.(regInput), out.(regOutput)
		return fmt.Sprintf("%s(%s %q if=%s) -> %v %q %s", i.kind, i.key, i.value, i.ifMatch, o.ok, o.value, o.etag)
	},
}

// testLinearizable records a history of concurrent gets, puts, deletes and
// compare-and-sets on two keys and checks it with porcupine.
func testLinearizable(t *testing.T, h Harness) {
	const clients, opsEach = 4, 40
	s := h.Store
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	var mu sync.Mutex
	var history []porcupine.Operation
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := ctxFor(t)
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			lastETag := map[string]string{}
			for n := 0; n < opsEach; n++ {
				in := regInput{key: []string{"r0", "r1"}[rng.IntN(2)], value: fmt.Sprintf("c%d-%d", c, n)}
				var out regOutput
				call := now()
				var err error
				switch r := rng.IntN(10); {
				case r < 4:
					in.kind = "get"
					var e state.Entry
					e, err = s.Get(ctx, in.key)
					if err == nil {
						out = regOutput{ok: true, value: string(e.Value), etag: e.ETag}
						lastETag[in.key] = e.ETag
					} else if errors.Is(err, state.ErrNotFound) {
						err = nil
					}
				case r < 6:
					in.kind = "put"
					out.etag, err = s.Set(ctx, in.key, []byte(in.value), state.SetOptions{})
					out.ok = err == nil
				case r < 9:
					in.kind = "cas"
					in.ifMatch = lastETag[in.key]
					if in.ifMatch == "" {
						in.ifMatch = "1"
					}
					out.etag, err = s.Set(ctx, in.key, []byte(in.value), state.SetOptions{IfMatch: in.ifMatch})
					out.ok = err == nil
					if errors.Is(err, state.ErrETagMismatch) {
						err = nil
					}
				default:
					in.kind = "del"
					err = s.Delete(ctx, in.key, state.DeleteOptions{})
				}
				ret := now()
				if err != nil {
					t.Errorf("%s %s: %v", in.kind, in.key, err)
					return
				}
				if out.ok && out.etag != "" {
					lastETag[in.key] = out.etag
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	switch res := porcupine.CheckOperationsTimeout(registerModel, history, 30*time.Second); res {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Logf("linearizability check of %d operations timed out; no verdict", len(history))
	default:
		t.Fatalf("history of %d operations is not linearizable", len(history))
	}
}

// testConcurrentTransfers moves money between accounts with conditioned
// transactions from several clients at once. A transaction that applied
// only in part, or applied over a concurrent change, would break the total.
func testConcurrentTransfers(t *testing.T, h Harness) {
	const accounts, workers, each, start = 4, 4, 10, 100
	s := h.Store
	for i := 0; i < accounts; i++ {
		mustSet(t, s, fmt.Sprintf("acct/%d", i), strconv.Itoa(start), state.SetOptions{})
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := ctxFor(t)
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for done := 0; done < each; {
				from, to := rng.IntN(accounts), rng.IntN(accounts-1)
				if to >= from {
					to++
				}
				keys := []string{fmt.Sprintf("acct/%d", from), fmt.Sprintf("acct/%d", to)}
				items, err := s.BulkGet(ctx, keys)
				if err != nil {
					errs <- fmt.Errorf("bulk get: %w", err)
					return
				}
				a, _ := strconv.Atoi(string(items[0].Value))
				b, _ := strconv.Atoi(string(items[1].Value))
				amount := rng.IntN(10) + 1
				err = s.Transact(ctx, []state.Op{
					{Kind: state.OpSet, Key: keys[0], Value: []byte(strconv.Itoa(a - amount)), IfMatch: items[0].ETag},
					{Kind: state.OpSet, Key: keys[1], Value: []byte(strconv.Itoa(b + amount)), IfMatch: items[1].ETag},
				})
				switch {
				case err == nil:
					done++
				case !errors.Is(err, state.ErrETagMismatch):
					errs <- fmt.Errorf("transfer: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	for i := 0; i < accounts; i++ {
		e := wantValueAny(t, s, fmt.Sprintf("acct/%d", i))
		n, err := strconv.Atoi(string(e.Value))
		if err != nil {
			t.Fatalf("account %d holds %q", i, e.Value)
		}
		total += n
	}
	if total != accounts*start {
		t.Fatalf("accounts hold %d in total after the transfers, want %d", total, accounts*start)
	}
}

func wantValueAny(t *testing.T, s state.Store, key string) state.Entry {
	t.Helper()
	e, err := s.Get(ctxFor(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return e
}
