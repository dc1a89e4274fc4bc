// Command badinit is a reactor whose initialisation panics.
package main

import hearth "github.com/hearth-sh/hearth/sdk/go"

func init() {
	hearth.Handle(func(hearth.Context, hearth.Request) (hearth.Response, error) { return hearth.Text("unreachable"), nil })
	panic("bad init")
}

func main() {}
