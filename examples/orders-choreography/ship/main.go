// Command ship ships a paid order: the last step of the choreography.
//
//	hearth subscribe payments --fn ship
package main

import (
	"encoding/json"
	"errors"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

type event struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

type order struct {
	ID string `json:"id"`
}

func init() {
	hearth.Handle(func(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
		var ev event
		if err := req.DecodeJSON(&ev); err != nil {
			return hearth.Response{}, err
		}
		if ev.Type != "payment.charged" {
			return hearth.Text("ignored " + ev.Type), nil // payment.failed: nothing to ship
		}
		var o order
		if err := json.Unmarshal(ev.Data, &o); err != nil || o.ID == "" {
			return hearth.Response{}, hearth.BadRequest(errors.New("event " + ev.ID + " carries no order"))
		}
		_, err := ctx.State("default").Set("order/"+o.ID+"/shipped", ev.Data, hearth.IfNoneMatch())
		if err != nil && !errors.Is(err, hearth.ErrExists) {
			return hearth.Response{}, err
		}
		return hearth.Text("shipped"), nil
	})
}

func main() {}
