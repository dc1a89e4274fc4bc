package state_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hearth-sh/hearth/internal/state"
)

// BenchmarkNATSSet16Interleaved compares, with 16 concurrent writers, the
// nats store's Set with a synchronous raw publish of the same message to
// the same bucket, in alternating 250 ms slices, so that a shared machine's
// changing load falls on both alike:
//
//	go test -run XXX -bench NATSSet16Interleaved -benchtime 1x ./internal/state/
//
// It reports each side's rate; b.N only repeats the whole comparison.
func BenchmarkNATSSet16Interleaved(b *testing.B) {
	ctx := context.Background()
	js := startNATS(b)
	st, err := state.NewNATS(ctx, js, state.NATSConfig{Bucket: "interleaved"})
	if err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 128)
	sides := []struct {
		name string
		op   func(w, i int) error
	}{
		{"store", func(w, i int) error {
			_, err := st.Set(ctx, "w"+strconv.Itoa(w)+"-"+strconv.Itoa(i%100), value, state.SetOptions{})
			return err
		}},
		{"rawsync", func(w, i int) error {
			_, err := js.PublishMsg(ctx, &nats.Msg{Subject: "$KV.interleaved.r" + strconv.Itoa(w) + "-" + strconv.Itoa(i%100), Data: value})
			return err
		}},
	}
	const slice, rounds = 250 * time.Millisecond, 8
	for range b.N {
		counts := make([]int64, len(sides))
		for range rounds {
			for i, side := range sides {
				n, err := writers16(slice, side.op)
				if err != nil {
					b.Fatal(err)
				}
				counts[i] += n
			}
		}
		for i, side := range sides {
			b.ReportMetric(float64(counts[i])/(rounds*slice.Seconds()), side.name+"-ops/s")
		}
	}
}

// writers16 runs op from 16 goroutines for d and counts the calls.
func writers16(d time.Duration, op func(w, i int) error) (int64, error) {
	var (
		n    atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs error
	)
	end := time.Now().Add(d)
	for w := range 16 {
		wg.Go(func() {
			for i := 0; time.Now().Before(end); i++ {
				if err := op(w, i); err != nil {
					mu.Lock()
					errs = err
					mu.Unlock()
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load(), errs
}
