package main

import (
	"reflect"
	"testing"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

// TestEcho calls the handler on the host; examples/hello and the wasm
// runtime's benchmarks run such handlers inside the runtime.
func TestEcho(t *testing.T) {
	headers := hearth.NewHeader(map[string][]string{"Content-Type": {"text/plain"}, "X-Trace": {"t1"}})
	tests := []struct {
		method, path, query string
		want                map[string][]string
	}{
		{"POST", "/", "", map[string][]string{"Content-Type": {"text/plain"}}},
		{"PUT", "/a", "q=1", map[string][]string{"Content-Type": {"text/plain"}, "X-Echo-Method": {"PUT"}, "X-Echo-Path": {"/a"}, "X-Echo-Query": {"q=1"},
			"X-Echo-Content-Type": {"text/plain"}, "X-Echo-X-Trace": {"t1"}}},
	}
	for _, tt := range tests {
		resp, err := echo(hearth.Context{}, hearth.Request{Method: tt.method, Path: tt.path, Query: tt.query, Headers: headers, Body: []byte("hi")})
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Body) != "hi" || !reflect.DeepEqual(resp.Headers, tt.want) {
			t.Fatalf("echo %s %s?%s = %q %v, want %q %v", tt.method, tt.path, tt.query, resp.Body, resp.Headers, "hi", tt.want)
		}
	}
}
