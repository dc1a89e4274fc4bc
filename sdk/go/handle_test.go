package hearth

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/hearth-sh/hearth/sdk/go/abi"
)

// TestServe runs the SDK's side of an invocation on the host: decode the
// request envelope, call the handler, encode what it returned.
func TestServe(t *testing.T) {
	tests := []struct {
		name    string
		handler HandlerFunc
		want    abi.Response
	}{
		{"response", func(ctx Context, req Request) (Response, error) {
			return Response{Status: 201, Headers: map[string][]string{"X-Id": {ctx.RequestID()}}, Body: req.Body}, nil
		}, abi.Response{Status: 201, Headers: map[string][]string{"X-Id": {"r1"}}, Body: []byte("in")}},
		{"zero status is 200", func(Context, Request) (Response, error) { return Response{}, nil },
			abi.Response{Status: 200}},
		{"plain error", func(Context, Request) (Response, error) { return Text("ignored"), errors.New("nope") },
			abi.Response{Status: 500, ErrorType: "HandlerError", ErrorMessage: "nope"}},
		{"bad request", func(Context, Request) (Response, error) {
			return Response{}, fmt.Errorf("wrapped: %w", BadRequest(errors.New("missing name")))
		}, abi.Response{Status: 400, ErrorType: "BadRequest", ErrorMessage: "missing name"}},
		{"custom error type", func(Context, Request) (Response, error) {
			return Response{}, &Error{Type: "NotFound", Message: "no such user"}
		}, abi.Response{Status: 500, ErrorType: "NotFound", ErrorMessage: "no such user"}},
		{"JSON decode failure", func(_ Context, req Request) (Response, error) {
			var v struct{ Name string }
			return Response{}, req.DecodeJSON(&v)
		}, abi.Response{Status: 400, ErrorType: "BadRequest", ErrorMessage: "request body is not the JSON this function expects: invalid character 'i' looking for beginning of value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			guest.handler = tt.handler
			t.Cleanup(func() { guest.handler = nil })
			req := abi.Request{ID: "r1", Method: "POST", Path: "/", Body: []byte("in"), Headers: map[string][]string{"A": {"b"}}}
			b := make([]byte, req.Size())
			req.Encode(b)
			got, err := abi.DecodeResponse(serve(b))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Body) == 0 {
				got.Body = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("response:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	h := NewHeader(map[string][]string{"Content-Type": {"application/json"}, "X-Many": {"a", "b"}})
	for name, want := range map[string]string{"Content-Type": "application/json", "content-type": "application/json", "x-many": "a", "Missing": ""} {
		if got := h.Get(name); got != want {
			t.Errorf("Get(%q) = %q, want %q", name, got, want)
		}
	}
	if got := h.Values("X-MANY"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Values = %q, want [a b]", got)
	}
	if got, want := h.Map(), map[string][]string{"Content-Type": {"application/json"}, "X-Many": {"a", "b"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Map = %v, want %v", got, want)
	}
}
