package state_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/state"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		line    string
		want    state.Spec
		wantErr bool
	}{
		{line: "default=nats", want: state.Spec{Name: "default", Backend: "nats"}},
		{line: "m=memory,max_value=4MiB", want: state.Spec{Name: "m", Backend: "memory", Limits: state.Limits{MaxValueBytes: 4 << 20}}},
		{line: "orders=redis://127.0.0.1:6379/0,cache=1000:2s", want: state.Spec{Name: "orders", Backend: "redis",
			URL: "redis://127.0.0.1:6379/0", Cache: &state.CacheConfig{Size: 1000, TTL: 2 * time.Second}}},
		{line: "audit=postgres://u:p@db/x?sslmode=disable,table=kv", want: state.Spec{Name: "audit", Backend: "postgres",
			URL: "postgres://u:p@db/x?sslmode=disable", Table: "kv"}},
		{line: "c=nats,cache,bucket=b", want: state.Spec{Name: "c", Backend: "nats", Cache: &state.CacheConfig{}, Bucket: "b"}},
		{line: "nobackend", wantErr: true},
		{line: "bad name=nats", wantErr: true},
		{line: "x=mysql://h", wantErr: true},
		{line: "x=nats,cache=0", wantErr: true},
		{line: "x=nats,cache=10:forever", wantErr: true},
		{line: "x=nats,max_value=-1", wantErr: true},
		{line: "x=nats,colour=blue", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			got, err := state.ParseSpec(tc.line)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseSpec = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSpec: %v", err)
			}
			if got.Name != tc.want.Name || got.Backend != tc.want.Backend || got.URL != tc.want.URL ||
				got.Limits != tc.want.Limits || got.Bucket != tc.want.Bucket || got.Table != tc.want.Table ||
				(got.Cache == nil) != (tc.want.Cache == nil) || got.Cache != nil && *got.Cache != *tc.want.Cache {
				t.Fatalf("ParseSpec = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestOpenAll(t *testing.T) {
	ctx := context.Background()
	js := startNATS(t)
	reg, err := state.OpenAll(ctx, []string{"scratch=memory,cache=10", "orders=nats,max_value=2MiB"}, state.Env{JetStream: js})
	if err != nil {
		t.Fatalf("OpenAll: %v", err)
	}
	defer reg.Close()
	if got := reg.Names(); len(got) != 3 || got[0] != "default" || got[1] != "orders" || got[2] != "scratch" {
		t.Fatalf("Names = %q, want default, orders, scratch", got)
	}
	def, _ := reg.Store("default")
	if _, ok := def.(*state.NATS); !ok {
		t.Fatalf("default store is %T, want *state.NATS", def)
	}
	orders, _ := reg.Store("orders")
	if _, err := orders.Set(ctx, "big", make([]byte, 2<<20), state.SetOptions{}); err != nil {
		t.Fatalf("2 MiB value in a store with max_value=2MiB: %v", err)
	}
	// A Redis that is down does not stop the node from opening its stores;
	// the store reports ErrUnavailable until the server is there.
	down, err := state.OpenAll(ctx, []string{"r=redis://127.0.0.1:1/0", "p=postgres://x@127.0.0.1:1/x?connect_timeout=1"}, state.Env{})
	if err != nil {
		t.Fatalf("OpenAll with unreachable servers: %v", err)
	}
	defer down.Close()
	for _, name := range []string{"r", "p"} {
		s, _ := down.Store(name)
		if _, err := s.Get(ctx, "k"); !errors.Is(err, state.ErrUnavailable) {
			t.Fatalf("store %s with its server down: Get = %v, want ErrUnavailable", name, err)
		}
	}
	if _, ok := reg.Store("nope"); ok {
		t.Fatal("Store(nope) found a store")
	}
	if _, err := state.OpenAll(ctx, []string{"a=memory", "a=memory"}, state.Env{}); err == nil {
		t.Fatal("OpenAll accepted a store configured twice")
	}
	if _, err := state.OpenAll(ctx, []string{"a=nats"}, state.Env{}); err == nil {
		t.Fatal("OpenAll opened a nats store without JetStream")
	}
}
