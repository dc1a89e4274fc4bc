// Command eventsguest is the Go function of `hearth bench events`. It does
// nothing for an ordinary request (the Go SDK no-op whose async
// completions the bench counts). Given a CloudEvent of type "bench.ping" (it is subscribed
// to the bench's topic), it publishes the event's id to the topic named in
// the event's data, so that the bench can time publish → handler.
package main

import (
	"encoding/json"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

type event struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		ReplyTo string `json:"reply_to"`
	} `json:"data"`
}

func init() {
	hearth.Handle(func(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
		// A CloudEvent comes with its type in a header: anything else is
		// an async invocation, and gets nothing but an answer.
		if req.Headers.Get("Ce-Type") != "bench.ping" {
			return hearth.Text("ok"), nil
		}
		var ev event
		if err := json.Unmarshal(req.Body, &ev); err != nil || ev.Type != "bench.ping" || ev.Data.ReplyTo == "" {
			return hearth.Text("ok"), nil
		}
		reply, err := json.Marshal(ev.ID)
		if err != nil {
			return hearth.Response{}, err
		}
		if _, err := ctx.Publish(ev.Data.ReplyTo, reply, hearth.EventType("bench.pong")); err != nil {
			return hearth.Response{}, err
		}
		return hearth.Text("ok"), nil
	})
}

func main() {}
