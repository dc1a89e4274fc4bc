// Command noop is a reactor that answers every request with nothing, to
// measure the runtime's own overhead.
package main

import hearth "github.com/hearth-sh/hearth/sdk/go"

func init() {
	hearth.Handle(func(hearth.Context, hearth.Request) (hearth.Response, error) { return hearth.Response{}, nil })
}

func main() {}
