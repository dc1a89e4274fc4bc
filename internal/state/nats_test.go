package state_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hearth-sh/hearth/internal/state"
	"github.com/hearth-sh/hearth/internal/state/statetest"
)

// startNATS runs an embedded JetStream server on a temporary directory and
// returns a JetStream handle on an in-process connection.
func startNATS(t testing.TB) jetstream.JetStream {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		JetStream:  true,
		StoreDir:   t.TempDir(),
		DontListen: true,
		NoSigs:     true,
		NoLog:      true,
		// hearth's value limit is 1 MiB; the NATS default max payload is
		// exactly 1 MiB, which leaves no room for headers.
		MaxPayload: 8 << 20,
	})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

func TestNATSConformance(t *testing.T) {
	js := startNATS(t)
	var n atomic.Int64
	statetest.Run(t, func(t *testing.T) statetest.Harness {
		s, err := state.NewNATS(context.Background(), js, state.NATSConfig{Bucket: fmt.Sprintf("test%d", n.Add(1))})
		if err != nil {
			t.Fatalf("NewNATS: %v", err)
		}
		return statetest.Harness{Store: s, RealTTL: time.Second}
	})
}

func TestNATSKeyEncoding(t *testing.T) {
	tests := []struct{ key, enc string }{
		{"plain-key_1/2", "plain-key_1/2"},
		{"a.b", "a=2Eb"},
		{"=", "=3D"},
		{"é", "=C3=A9"},
		{"a b*>", "a=20b=2A=3E"},
	}
	for _, tc := range tests {
		if got := state.EncodeNATSKeyForTest(tc.key); got != tc.enc {
			t.Errorf("encode(%q) = %q, want %q", tc.key, got, tc.enc)
		}
		got, err := state.DecodeNATSKeyForTest(tc.enc)
		if err != nil || got != tc.key {
			t.Errorf("decode(%q) = %q, %v; want %q", tc.enc, got, err, tc.key)
		}
	}
	for _, bad := range []string{"=", "=4", "=4g", "=zz"} {
		if _, err := state.DecodeNATSKeyForTest(bad); err == nil {
			t.Errorf("decode(%q) succeeded, want an error", bad)
		}
	}
}

func FuzzNATSKeyEncoding(f *testing.F) {
	for _, s := range []string{"a", "a.b", "=41", "ключ", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		enc := state.EncodeNATSKeyForTest(key)
		for i := 0; i < len(enc); i++ {
			if c := enc[i]; !(c == '=' || c == '-' || c == '_' || c == '/' ||
				c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				t.Fatalf("encode(%q) = %q has byte %q outside the NATS key alphabet", key, enc, c)
			}
		}
		dec, err := state.DecodeNATSKeyForTest(enc)
		if err != nil || dec != key {
			t.Fatalf("round trip of %q gave %q, %v", key, dec, err)
		}
	})
}

// TestNATSSurvivesRestart checks that state written to the file-backed
// bucket is there after the server restarts on the same directory, with the
// same ETag.
func TestNATSSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() (*state.NATS, func()) {
		srv, err := server.NewServer(&server.Options{JetStream: true, StoreDir: dir, DontListen: true,
			NoSigs: true, NoLog: true, MaxPayload: 8 << 20})
		if err != nil {
			t.Fatal(err)
		}
		go srv.Start()
		if !srv.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats server did not start")
		}
		nc, err := nats.Connect("", nats.InProcessServer(srv))
		if err != nil {
			t.Fatal(err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		s, err := state.NewNATS(ctx, js, state.NATSConfig{Bucket: "durable"})
		if err != nil {
			t.Fatal(err)
		}
		return s, func() { nc.Close(); srv.Shutdown(); srv.WaitForShutdown() }
	}
	s, stop := open()
	etag, err := s.Set(ctx, "k", []byte("v"), state.SetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Transact(ctx, []state.Op{{Kind: state.OpSet, Key: "t", Value: []byte("tx")}}); err != nil {
		t.Fatal(err)
	}
	stop()
	s, stop = open()
	defer stop()
	e, err := s.Get(ctx, "k")
	if err != nil || string(e.Value) != "v" || e.ETag != etag {
		t.Fatalf("after restart Get = %q %s, %v; want v %s", e.Value, e.ETag, err, etag)
	}
	if e, err := s.Get(ctx, "t"); err != nil || string(e.Value) != "tx" {
		t.Fatalf("after restart Get(t) = %q, %v; want tx", e.Value, err)
	}
}

// TestNATSSmallMaxPayload checks that a server whose max payload cannot hold
// the value limit lowers the limit (values over it are ErrTooLarge, not a
// server error) instead of failing to open.
func TestNATSSmallMaxPayload(t *testing.T) {
	srv, err := server.NewServer(&server.Options{JetStream: true, StoreDir: t.TempDir(), DontListen: true,
		NoSigs: true, NoLog: true, MaxPayload: 512 << 10})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); srv.Shutdown(); srv.WaitForShutdown() })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := state.NewNATS(context.Background(), js, state.NATSConfig{Bucket: "small"})
	if err != nil {
		t.Fatalf("NewNATS: %v", err)
	}
	limit := s.Limits().MaxValueBytes
	if limit >= 512<<10 {
		t.Fatalf("value limit %d not lowered below the 512 KiB max payload", limit)
	}
	if _, err := s.Set(context.Background(), "k", make([]byte, limit), state.SetOptions{}); err != nil {
		t.Fatalf("Set at the lowered limit: %v", err)
	}
	if _, err := s.Set(context.Background(), "k", make([]byte, limit+1), state.SetOptions{}); !errors.Is(err, state.ErrTooLarge) {
		t.Fatalf("Set over the lowered limit: %v, want ErrTooLarge", err)
	}
}
