// Command echo answers with what it was sent. Through the invoke API it
// returns the body unchanged (it is the function of the warm-path
// benchmark); through the HTTP trigger it also reports the request's
// method, path and query in X-Echo-Method, X-Echo-Path and X-Echo-Query, and
// every request header H as X-Echo-H.
//
//	hearth deploy echo ./examples/echo
//	curl -i 'http://127.0.0.1:8080/fn/echo/some/path?q=1' -d hi
package main

import (
	hearth "github.com/hearth-sh/hearth/sdk/go"
)

func init() { hearth.Handle(echo) }

func echo(_ hearth.Context, req hearth.Request) (hearth.Response, error) {
	h := make(map[string][]string, len(req.Headers)+4)
	for k, v := range req.Headers {
		h["X-Echo-"+k] = v
	}
	h["X-Echo-Method"] = []string{req.Method}
	h["X-Echo-Path"] = []string{req.Path}
	h["X-Echo-Query"] = []string{req.Query}
	if ct := req.Header("Content-Type"); ct != "" {
		h["Content-Type"] = []string{ct}
	}
	return hearth.Response{Status: 200, Headers: h, Body: req.Body}, nil
}

func main() {}
