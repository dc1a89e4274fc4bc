// Command charge-payment charges a reserved order and publishes
// "payment.charged" to the "payments" topic, or "payment.failed" when the
// card is declined, which makes reserve-stock release the stock.
//
//	hearth subscribe stock --fn charge-payment
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
	ID     string `json:"id"`
	Amount int    `json:"amount"`
	Card   string `json:"card"`
}

func init() {
	hearth.Handle(func(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
		var ev event
		if err := req.DecodeJSON(&ev); err != nil {
			return hearth.Response{}, err
		}
		if ev.Type != "stock.reserved" {
			return hearth.Text("ignored " + ev.Type), nil
		}
		var o order
		if err := json.Unmarshal(ev.Data, &o); err != nil || o.ID == "" {
			return hearth.Response{}, hearth.BadRequest(errors.New("event " + ev.ID + " carries no order"))
		}
		progress, next := "paid", "payment.charged"
		if o.Card == "declined" {
			// A declined card is an answer, not an error: retrying would
			// not change it, so the function reports it as an event.
			progress, next = "payment-failed", "payment.failed"
		}
		_, err := ctx.State("default").Set("order/"+o.ID+"/"+progress, ev.Data, hearth.IfNoneMatch())
		if err != nil && !errors.Is(err, hearth.ErrExists) {
			return hearth.Response{}, err
		}
		if _, err := ctx.Publish("payments", ev.Data, hearth.EventType(next), hearth.OrderingKey(o.ID)); err != nil {
			return hearth.Response{}, err
		}
		return hearth.Text(progress), nil
	})
}

func main() {}
