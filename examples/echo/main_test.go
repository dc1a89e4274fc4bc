package main

import (
	"reflect"
	"testing"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

// TestEcho calls the handler on the host; examples/hello and the wasm
// runtime's benchmarks run such handlers inside the runtime.
func TestEcho(t *testing.T) {
	resp, err := echo(hearth.Context{}, hearth.Request{Method: "PUT", Path: "/a", Query: "q=1",
		Headers: map[string][]string{"Content-Type": {"text/plain"}, "X-Trace": {"t1"}}, Body: []byte("hi")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"Content-Type": {"text/plain"}, "X-Echo-Content-Type": {"text/plain"}, "X-Echo-X-Trace": {"t1"},
		"X-Echo-Method": {"PUT"}, "X-Echo-Path": {"/a"}, "X-Echo-Query": {"q=1"},
	}
	if string(resp.Body) != "hi" || !reflect.DeepEqual(resp.Headers, want) {
		t.Fatalf("echo = %q %v, want %q %v", resp.Body, resp.Headers, "hi", want)
	}
}
