package e2e

import (
	"context"
	"os"
	"testing"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// BenchmarkWarmInvoke measures the warm path below HTTP: dispatcher, pool
// and the wasm call of the echo function.
func BenchmarkWarmInvoke(b *testing.B) {
	dir := b.TempDir()
	n, err := node.Start(context.Background(), node.Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Stop(context.Background())
	c := client.New(n.URL())
	wasm, err := wasmBuild("../../examples/echo")
	if err != nil {
		b.Fatal(err)
	}
	gogc := os.Getenv("BENCH_GOGC")
	cfg := client.FunctionConfig{}
	if gogc != "" {
		cfg.Env = map[string]string{"GOGC": gogc}
	}
	if _, err := c.Deploy(context.Background(), "echo", cfg, wasm); err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name    string
		headers map[string][]string
	}{
		{"body-only", nil},
		{"with-headers", map[string][]string{"Content-Type": {"application/json"}, "User-Agent": {"Go-http-client/1.1"}, "Content-Length": {"16"}}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			req := runtime.Request{Method: "POST", Path: "/", Headers: tc.headers, Body: []byte(`{"name":"bench"}`)}
			for b.Loop() {
				if _, err := n.Invoke(context.Background(), "echo", req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
