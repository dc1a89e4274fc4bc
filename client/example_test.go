package client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/wasmbuild"
)

// Deploy a function and invoke it. The example starts its own node on a
// temporary directory; against a running node, only client.New is needed.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hearth-example-")
	defer os.RemoveAll(dir)
	n, err := node.Start(ctx, node.Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		log.Fatal(err)
	}
	defer n.Stop(ctx)

	wasm, err := wasmbuild.Build(ctx, "../examples/hello")
	if err != nil {
		log.Fatal(err)
	}
	c := client.New(n.URL()) // client.WithToken(...) when the node has one
	fn, err := c.Deploy(ctx, "hello", client.FunctionConfig{MemoryMB: 64}, wasm)
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.Invoke(ctx, "hello", []byte(`{"name":"example"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("version %d, cold %v: %s\n", fn.Version, res.Cold, res.Body)
	// Output: version 1, cold true: {"message":"hello, example"}
}

// A function that does not exist is a *client.Error with the node's status.
func ExampleIsNotFound() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hearth-example-")
	defer os.RemoveAll(dir)
	n, err := node.Start(ctx, node.Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		log.Fatal(err)
	}
	defer n.Stop(ctx)

	_, err = client.New(n.URL()).Invoke(ctx, "nope", nil)
	fmt.Println(client.IsNotFound(err), err)
	// Output: true function not found: nope
}
