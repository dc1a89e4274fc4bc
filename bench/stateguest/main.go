// Command stateguest is the function of `hearth bench state`: it runs state
// operations back to back inside wasm, through the SDK's host calls
// (ctx.State(store).Get/Set), and times each one with the guest's own clock,
// so that what it reports is what a function sees: the SDK's encoding, the
// host call, the node's decoding, the store, and the way back.
//
// A request is one run (JSON, see run). The response is the measured
// latencies, one little-endian uint32 of nanoseconds per operation, in the
// order they ran.
//
// # Notes
//
// Each operation is timed with one monotonic clock reading between
// operations (the end of one is the start of the next), so the timing adds
// one WASI clock call per operation; op "clock" measures that alone.
// Writers of a concurrent run are given one absolute start time on the
// shared wall clock and stop at the same moment, so their counts add up to
// the aggregate rate over the run's duration.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	hearth "github.com/hearth-sh/hearth/sdk/go"
	"github.com/hearth-sh/hearth/sdk/go/abi"
)

// run says what to measure.
type run struct {
	// Store is the node's state store to use.
	Store string `json:"store"`
	// Op is get, set, or one of the ops that take a Get apart: rawget (the
	// host call with input encoded once, outside the loop, and its answer
	// left undecoded: no SDK), codec (the SDK's binary encoding of a Get and
	// decoding of its answer, with no host call) and clock (nothing: the
	// timer's own cost).
	Op string `json:"op"`
	// Writer separates the keys of concurrent writers.
	Writer int `json:"writer"`
	// Keys is how many distinct keys the run cycles through.
	Keys int `json:"keys"`
	// ValueSize is the size of the values written (and read back).
	ValueSize int `json:"value_size"`
	// StartUnixNano is when to start (wall clock); 0 starts at once.
	StartUnixNano int64 `json:"start_unix_nano"`
	// WarmupMillis of operations run but not recorded, then DurationMillis
	// of recorded ones.
	WarmupMillis   int64 `json:"warmup_ms"`
	DurationMillis int64 `json:"duration_ms"`
	// MaxOps caps the recorded operations (the response has 4 bytes each).
	MaxOps int `json:"max_ops"`
}

func init() { hearth.Handle(handle) }

func handle(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
	var r run
	if err := req.DecodeJSON(&r); err != nil {
		return hearth.Response{}, err
	}
	if r.Keys <= 0 || r.DurationMillis <= 0 || r.MaxOps <= 0 {
		return hearth.Response{}, hearth.BadRequest(errors.New("keys, duration_ms and max_ops must be positive"))
	}
	op, err := prepare(ctx, r)
	if err != nil {
		return hearth.Response{}, err
	}
	if r.StartUnixNano > 0 {
		time.Sleep(time.Until(time.Unix(0, r.StartUnixNano)))
	}
	lat, err := measure(op, time.Duration(r.WarmupMillis)*time.Millisecond, time.Duration(r.DurationMillis)*time.Millisecond, r.MaxOps)
	if err != nil {
		return hearth.Response{}, err
	}
	out := make([]byte, 4*len(lat))
	for i, d := range lat {
		binary.LittleEndian.PutUint32(out[4*i:], d)
	}
	return hearth.Response{Status: 200, Headers: map[string][]string{"Content-Type": {"application/octet-stream"}}, Body: out}, nil
}

// prepare builds the keys and value of a run outside the timed loop (and,
// for reads, writes the keys first) and returns its operation.
func prepare(ctx hearth.Context, r run) (func(i int) error, error) {
	store := ctx.State(r.Store)
	keys := make([]string, r.Keys)
	for i := range keys {
		keys[i] = "bench/" + r.Op + "/w" + strconv.Itoa(r.Writer) + "/" + strconv.Itoa(i)
	}
	value := make([]byte, r.ValueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	switch r.Op {
	case "clock":
		return func(int) error { return nil }, nil
	case "set":
		return func(i int) error {
			_, err := store.Set(keys[i%len(keys)], value)
			return err
		}, nil
	case "get", "rawget", "codec":
		for _, k := range keys {
			if _, err := store.Set(k, value); err != nil {
				return nil, fmt.Errorf("seed %s: %w", k, err)
			}
		}
		if r.Op != "get" {
			return takeApart(r, keys)
		}
		return func(i int) error {
			v, _, found, err := store.Get(keys[i%len(keys)])
			if err == nil && (!found || len(v) != len(value)) {
				err = fmt.Errorf("get %s: found=%v, %d bytes, want %d", keys[i%len(keys)], found, len(v), len(value))
			}
			return err
		}, nil
	}
	return nil, hearth.BadRequest(fmt.Errorf("op %q: want get, set, rawget, codec or clock", r.Op))
}

// takeApart returns the rawget or codec op: the two halves of a Get's cost.
func takeApart(r run, keys []string) (func(i int) error, error) {
	ins := make([][]byte, len(keys))
	for i, k := range keys {
		c := abi.StateCall{Store: r.Store, Key: k}
		ins[i] = c.AppendBinary(nil)
	}
	if r.Op == "rawget" {
		return func(i int) error {
			out, err := hearth.HostCall(abi.OpStateGet, ins[i%len(ins)])
			if err == nil && len(out) < r.ValueSize {
				err = fmt.Errorf("rawget: %d bytes of answer for a %d-byte value", len(out), r.ValueSize)
			}
			return err
		}, nil
	}
	answer, err := hearth.HostCall(abi.OpStateGet, ins[0])
	if err != nil {
		return nil, err
	}
	return func(i int) error {
		c := abi.StateCall{Store: r.Store, Key: keys[i%len(keys)]}
		_ = c.AppendBinary(nil)
		_, err := abi.DecodeStateResult(answer)
		return err
	}, nil
}

// measure runs op back to back for warmup, then records each op's
// duration for d or until maxOps are recorded.
func measure(op func(int) error, warmup, d time.Duration, maxOps int) ([]uint32, error) {
	base := time.Now()
	recordFrom, end := warmup, warmup+d
	lat := make([]uint32, 0, maxOps)
	t0 := time.Since(base)
	for i := 0; t0 < end && len(lat) < maxOps; i++ {
		if err := op(i); err != nil {
			return nil, err
		}
		t1 := time.Since(base)
		if t0 >= recordFrom {
			lat = append(lat, uint32(min(t1-t0, time.Duration(^uint32(0)))))
		}
		t0 = t1
	}
	return lat, nil
}

func main() {}
