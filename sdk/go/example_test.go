package hearth_test

import (
	"errors"
	"fmt"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

// A function greets by name; the handler is registered from init because a
// reactor never runs main.
func ExampleHandle() {
	hearth.Handle(func(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
		var in struct {
			Name string `json:"name"`
		}
		if err := req.DecodeJSON(&in); err != nil {
			return hearth.Response{}, err
		}
		ctx.Logf("greeting %s", in.Name)
		return hearth.JSON(map[string]string{"message": "hello, " + in.Name})
	})
}

// Input the function refuses is a BadRequest: callers see its type and
// asynchronous invocations are not retried.
func ExampleBadRequest() {
	err := hearth.BadRequest(errors.New("name must not be empty"))
	var he *hearth.Error
	if errors.As(err, &he) {
		fmt.Println(he.Type, "-", he.Message)
	}
	// Output: BadRequest - name must not be empty
}

// Handlers are plain functions, so they are unit tested on the host by
// calling them.
func ExampleJSON() {
	resp, err := hearth.JSON(map[string]string{"message": "hello, x"})
	fmt.Println(resp.Status, resp.Headers["Content-Type"][0], string(resp.Body), err)
	// Output: 200 application/json {"message":"hello, x"} <nil>
}
