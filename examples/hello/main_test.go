package main

import (
	"context"
	"errors"
	"testing"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
	"github.com/hearth-sh/hearth/internal/wasmbuild"
)

// TestHello builds the function for wasip1 and invokes it in the wasm
// runtime, as a node would.
func TestHello(t *testing.T) {
	ctx := context.Background()
	code, err := wasmbuild.Cached(ctx, ".")
	if errors.Is(err, wasmbuild.ErrNoGo) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	r, err := wasm.New(ctx, wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	tmpl, err := r.Prepare(ctx, runtime.Spec{Name: "hello"}, runtime.Artifact{Bytes: code})
	if err != nil {
		t.Fatal(err)
	}
	defer tmpl.Close(ctx)
	inst, _, err := tmpl.Spawn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	tests := []struct {
		in, body, errType string
	}{
		{in: `{"name":"x"}`, body: `{"message":"hello, x"}`},
		{in: `{}`, errType: "BadRequest"},
		{in: `not json`, errType: "BadRequest"},
	}
	for _, tt := range tests {
		resp, err := inst.Invoke(ctx, runtime.Request{Method: "POST", Path: "/", Body: []byte(tt.in)})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tt.errType != "" && (resp.Error == nil || resp.Error.Type != tt.errType):
			t.Errorf("%s: error %v, want %s", tt.in, resp.Error, tt.errType)
		case tt.errType == "" && string(resp.Body) != tt.body:
			t.Errorf("%s: body %s (error %v), want %s", tt.in, resp.Body, resp.Error, tt.body)
		}
	}
}
