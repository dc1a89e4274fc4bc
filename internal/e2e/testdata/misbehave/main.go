// Command misbehave is a test function that does, on request, every bad
// thing a guest can do. The request body names the behaviour.
package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

// hog keeps allocations reachable so the garbage collector cannot free them.
var hog [][]byte

func init() {
	hearth.Handle(func(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
		switch string(req.Body) {
		case "panic":
			panic("deliberate panic")
		case "loop":
			for {
			}
		case "alloc":
			for {
				hog = append(hog, make([]byte, 1<<20))
			}
		case "big":
			return hearth.Response{Body: make([]byte, 7<<20)}, nil
		case "log":
			fmt.Println("to stdout")
			fmt.Fprintln(os.Stderr, "to stderr")
			return hearth.Text("logged"), nil
		case "error":
			return hearth.Response{}, errors.New("deliberate error")
		case "bad":
			return hearth.Response{}, hearth.BadRequest(errors.New("bad input"))
		case "env":
			return hearth.Text(os.Getenv("GREETING")), nil
		case "sleep":
			time.Sleep(300 * time.Millisecond)
			return hearth.Text("slept " + os.Getenv("GREETING")), nil
		case "exit":
			os.Exit(3)
		}
		return hearth.Text("ok " + os.Getenv("GREETING")), nil
	})
}

func main() {}
