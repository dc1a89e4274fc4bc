// Command counter keeps a count per name in the node's default state store,
// with optimistic concurrency: read the value and its ETag, write with
// IfMatch, and on a conflict read again. Concurrent invocations never lose
// an increment.
//
//	hearth deploy counter ./examples/counter
//	hearth invoke counter --data '{"name":"visits"}'      # {"name":"visits","count":1}
//	hearth state get default count/visits                 # 1
package main

import (
	"errors"
	"strconv"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

type request struct {
	Name string `json:"name"`
}

func init() {
	hearth.Handle(func(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
		var in request
		if err := req.DecodeJSON(&in); err != nil {
			return hearth.Response{}, err
		}
		if in.Name == "" {
			return hearth.Response{}, hearth.BadRequest(errors.New(`give a "name" to count`))
		}
		store := ctx.State("default")
		key := "count/" + in.Name
		for {
			v, etag, found, err := store.Get(key)
			if err != nil {
				return hearth.Response{}, err
			}
			n := 0
			if found {
				if n, err = strconv.Atoi(string(v)); err != nil {
					return hearth.Response{}, err
				}
			}
			n++
			opt := hearth.IfNoneMatch()
			if found {
				opt = hearth.IfMatch(etag)
			}
			_, err = store.Set(key, []byte(strconv.Itoa(n)), opt)
			if errors.Is(err, hearth.ErrConflict) || errors.Is(err, hearth.ErrExists) {
				continue // someone else wrote first: read again
			}
			if err != nil {
				return hearth.Response{}, err
			}
			return hearth.JSON(map[string]any{"name": in.Name, "count": n})
		}
	})
}

func main() {}
