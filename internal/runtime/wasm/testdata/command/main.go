// Command command is the test guest for the wasm runtime's command shape:
// a plain WASI program that reads stdin and writes stdout.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	body, _ := io.ReadAll(os.Stdin)
	switch os.Getenv("PATH_INFO") {
	case "/fail":
		fmt.Fprintln(os.Stderr, "cannot do that")
		os.Exit(4)
	case "/panic":
		panic("command boom")
	case "/big":
		fmt.Print(strings.Repeat("x", 1<<20))
		return
	case "/loop":
		for {
		}
	}
	fmt.Fprintf(os.Stderr, "log %s\n", os.Getenv("HEARTH_REQUEST_ID"))
	fmt.Printf("%s %s %s %s", os.Getenv("REQUEST_METHOD"), os.Getenv("QUERY_STRING"), os.Getenv("HTTP_X_TEST"), body)
}
