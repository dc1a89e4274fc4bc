// Command echo answers with what it was sent. A plain invocation (POST /
// with no query, which is what the invoke API sends) gets its body back
// unchanged with its Content-Type: it is the function of the warm-path
// benchmark, so it does nothing more. Any other request (through the HTTP
// trigger) also gets its method, path and query back in X-Echo-Method,
// X-Echo-Path and X-Echo-Query, and every request header H as X-Echo-H.
//
//	hearth deploy echo ./examples/echo
//	hearth invoke echo --data hi
//	curl -i 'http://127.0.0.1:8080/fn/echo/some/path?q=1' -d hi
package main

import hearth "github.com/hearth-sh/hearth/sdk/go"

func init() { hearth.Handle(echo) }

func echo(_ hearth.Context, req hearth.Request) (hearth.Response, error) {
	resp := hearth.Response{Status: 200, Body: req.Body}
	if ct := req.Headers.Get("Content-Type"); ct != "" {
		resp.Headers = map[string][]string{"Content-Type": {ct}}
	}
	if req.Method == "POST" && req.Path == "/" && req.Query == "" {
		return resp, nil
	}
	if resp.Headers == nil {
		resp.Headers = map[string][]string{}
	}
	h := resp.Headers
	h["X-Echo-Method"] = []string{req.Method}
	h["X-Echo-Path"] = []string{req.Path}
	h["X-Echo-Query"] = []string{req.Query}
	for k, v := range req.Headers.All() {
		h["X-Echo-"+k] = append(h["X-Echo-"+k], v)
	}
	return resp, nil
}

func main() {}
