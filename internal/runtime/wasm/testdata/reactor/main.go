// Command reactor is the test guest for the wasm runtime's reactor shape.
// The request path picks a behaviour.
package main

import (
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

// table holds closures made at init, which a restored instance must still
// be able to call.
var table = map[int]func() string{}

// jobs feeds a goroutine started at init: a restored instance must resume
// it, blocked where the snapshot left it.
var jobs = make(chan chan string)

var (
	calls    int // survives across invocations of one instance
	hoard    [][]byte
	restores int // OnRestore calls this instance saw
	initEnv  = os.Getenv("GREETING")
)

func init() {
	fmt.Println("init says hi")
	for i := range 10 {
		table[i] = func() string { return "closure " + strconv.Itoa(i) }
	}
	hearth.Handle(handle)
	hearth.OnRestore(func() { restores++ })
	go func() {
		n := 0
		for reply := range jobs {
			n++
			reply <- "worker " + strconv.Itoa(n)
		}
	}()
}

func handle(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
	calls++
	switch req.Path {
	case "/echo":
		return hearth.Response{Status: 201, Headers: map[string][]string{"X-Method": {req.Method}, "X-Query": {req.Query}, "X-Got": {req.Headers.Get("x-test")}}, Body: req.Body}, nil
	case "/restores":
		return hearth.Text(fmt.Sprint(restores)), nil
	case "/goroutine":
		reply := make(chan string)
		jobs <- reply
		return hearth.Text(<-reply), nil
	case "/count":
		return hearth.Text(fmt.Sprint(calls)), nil
	case "/env":
		return hearth.Text(initEnv + " " + os.Getenv("HEARTH_FUNCTION")), nil
	case "/log":
		fmt.Println("to stdout")
		fmt.Fprintln(os.Stderr, "to stderr")
		fmt.Print("partial line")
		ctx.Log(hearth.LevelWarn, "careful")
		return hearth.Text("logged"), nil
	case "/error":
		return hearth.Response{}, errors.New("it went wrong")
	case "/badrequest":
		return hearth.Response{}, hearth.BadRequest(errors.New("no such thing"))
	case "/panic":
		panic("boom")
	case "/loop":
		for {
			calls++
		}
	case "/alloc":
		for {
			hoard = append(hoard, make([]byte, 1<<20))
		}
	case "/grow":
		// Grows the memory past the snapshot's: recycle mode must start
		// the next request from a fresh instance, with an empty hoard.
		b := make([]byte, 32<<20)
		for i := range len(b) / 4096 {
			b[i*4096] = byte(i) | 1
		}
		hoard = append(hoard, b)
		return hearth.Text(fmt.Sprint(len(hoard))), nil
	case "/big":
		return hearth.Response{Body: []byte(strings.Repeat("x", 1<<20))}, nil
	case "/exit":
		os.Exit(3)
	case "/gc":
		// Work the heap and collect: a restored instance's runtime must
		// be whole, not just its memory.
		m := map[int]string{}
		for i := range 20000 {
			m[i] = strconv.Itoa(i)
		}
		goruntime.GC()
		sum := 0
		for k, v := range m {
			if strconv.Itoa(k) == v {
				sum++
			}
		}
		return hearth.Text(fmt.Sprint(sum, " ", len(table), " ", table[7]())), nil
	case "/hostcall":
		out, err := hearth.HostCall("test.upper", req.Body)
		if err != nil {
			return hearth.Response{}, err
		}
		return hearth.Response{Body: out}, nil
	}
	return hearth.Response{}, hearth.BadRequest(fmt.Errorf("unknown path %q", req.Path))
}

func main() {}
