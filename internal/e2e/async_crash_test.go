package e2e

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/client"
)

// TestAsyncSurvivesSIGKILL runs `hearth up` as a child process, queues many
// async invocations of a guest that counts its runs in state, SIGKILLs the
// node while events are queued, in flight and still being sent, restarts it
// on the same data directory and proves by counting:
//   - every event is processed at least once;
//   - an event sent with an Idempotency-Key is one invocation however often
//     the client re-sends it, and its effect is applied exactly once (the
//     guest dedupes by event, in one state transaction with the effect);
//   - events without a key may run twice (at least once): the test reports
//     how many did.
func TestAsyncSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the hearth binary and restarts a node")
	}
	bin := hearthBinary(t)
	data, addr := t.TempDir(), freePort(t)
	cmd := upProcess(t, bin, data, addr)
	c := client.New("http://" + addr)
	ctx := context.Background()
	retries := 5
	deploy(t, c, "count", client.FunctionConfig{Concurrency: 2, Retries: &retries,
		RetryBase: client.Duration(20 * time.Millisecond), RetryCap: client.Duration(200 * time.Millisecond)},
		build(t, "testdata/asynccount"))

	const events = 1000
	keyed := func(i int) bool { return i%2 == 0 }
	payload := func(i int) []byte { return fmt.Appendf(nil, `{"event":"e%d","dedupe":%v}`, i, keyed(i)) }
	key := func(i int) string {
		if keyed(i) {
			return "key-e" + strconv.Itoa(i)
		}
		return ""
	}

	// Send from 8 clients; the node is killed once a tenth of the events
	// are applied, while the rest are queued, running or not yet sent.
	ids := make([]string, events) // "" when the send failed or never ran
	var next atomic.Int64
	var killed atomic.Bool
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < events && !killed.Load(); i = int(next.Add(1)) - 1 {
				if id, err := c.InvokeAsync(ctx, "count", payload(i), key(i)); err == nil {
					ids[i] = id
				}
			}
		})
	}
	atKill := waitCount(t, c, events/10)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	killed.Store(true)
	_ = cmd.Wait()
	wg.Wait()
	sent := 0
	for _, id := range ids {
		if id != "" {
			sent++
		}
	}
	t.Logf("killed with %d of %d events accepted and at least %d applied", sent, events, atKill)

	upProcess(t, bin, data, addr)
	// A client that is unsure whether a send got through sends again: with
	// a key that is safe and yields the first invocation; without one it is
	// safe only for events the client never got an id for.
	resent := 0
	for i := range events {
		if !keyed(i) && ids[i] != "" {
			continue
		}
		id, err := c.InvokeAsync(ctx, "count", payload(i), key(i))
		if err != nil {
			t.Fatalf("re-send e%d after restart: %v", i, err)
		}
		if keyed(i) && ids[i] != "" && id != ids[i] {
			t.Errorf("re-sent e%d with its key: invocation %s, want the first one, %s", i, id, ids[i])
		}
		resent++
	}

	waitDone(t, c, events)
	keyedApplied, plainApplied := readInt(t, c, "applied/keyed"), readInt(t, c, "applied/plain")
	if keyedApplied != events/2 {
		t.Errorf("events with an idempotency key applied %d times, want exactly %d", keyedApplied, events/2)
	}
	if plainApplied < events/2 {
		t.Errorf("events without a key applied %d times, want at least %d (one each)", plainApplied, events/2)
	}
	runs := 0
	for i := range events {
		runs += readInt(t, c, "runs/e"+strconv.Itoa(i))
	}
	t.Logf("re-sent %d; %d runs for %d events; keyed effects %d (exact); unkeyed effects %d (%d duplicates, allowed: at least once)",
		resent, runs, events, keyedApplied, plainApplied, plainApplied-events/2)
}

// waitCount waits until the guest has applied at least n effects and
// returns how many it has.
func waitCount(t *testing.T, c *client.Client, n int) int {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		got := readInt(t, c, "applied/keyed") + readInt(t, c, "applied/plain")
		if got >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d effects applied after 60s, want %d", got, n)
		}
	}
}

// waitDone waits until every event has its done/ marker: each was
// processed at least once.
func waitDone(t *testing.T, c *client.Client, events int) {
	t.Helper()
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		done := 0
		for cursor := ""; ; {
			keys, next, err := c.StateList(context.Background(), "default", "done/", cursor, 1000)
			if err != nil {
				t.Fatalf("list done/: %v", err)
			}
			done += len(keys)
			if cursor = next; cursor == "" {
				break
			}
		}
		if done == events {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events processed after 120s: events were lost", done, events)
		}
	}
}

// readInt reads a counter of the default store; a missing key is 0.
func readInt(t *testing.T, c *client.Client, key string) int {
	t.Helper()
	v, _, err := c.StateGet(context.Background(), "default", key)
	if client.IsNotFound(err) {
		return 0
	}
	if err != nil {
		t.Fatalf("state get %s: %v", key, err)
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		t.Fatalf("state %s = %q: %v", key, v, err)
	}
	return n
}
