// Command hello is the smallest useful hearth function: it greets by name.
//
//	hearth deploy hello ./examples/hello
//	hearth invoke hello --data '{"name":"x"}'   # {"message":"hello, x"}
package main

import (
	"errors"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

type greeting struct {
	Name string `json:"name"`
}

func init() {
	// A reactor never runs main: the handler is registered at init.
	hearth.Handle(hello)
}

func hello(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
	var in greeting
	if err := req.DecodeJSON(&in); err != nil {
		return hearth.Response{}, err
	}
	if in.Name == "" {
		return hearth.Response{}, hearth.BadRequest(errors.New(`say who to greet: {"name":"..."}`))
	}
	return hearth.JSON(map[string]string{"message": "hello, " + in.Name})
}

func main() {}
