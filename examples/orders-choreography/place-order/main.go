// Command place-order starts the orders choreography: it records the order
// and publishes an "order.placed" event to the "orders" topic. Every later
// step is a function subscribed to the previous step's topic.
//
//	hearth invoke place-order --data '{"id":"o1","sku":"book","qty":1,"amount":20,"card":"ok"}'
package main

import (
	"encoding/json"
	"errors"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

// order is the payload every event of the choreography carries.
type order struct {
	ID     string `json:"id"`
	SKU    string `json:"sku"`
	Qty    int    `json:"qty"`
	Amount int    `json:"amount"`
	// Card "declined" makes the payment fail: the compensation path.
	Card string `json:"card"`
}

func init() {
	hearth.Handle(func(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
		var o order
		if err := req.DecodeJSON(&o); err != nil {
			return hearth.Response{}, err
		}
		if o.ID == "" || o.SKU == "" || o.Qty <= 0 {
			return hearth.Response{}, hearth.BadRequest(errors.New(`an order needs "id", "sku" and a positive "qty"`))
		}
		// Create-only: placing the same order twice is refused rather than
		// starting a second choreography for it.
		if _, err := ctx.State("default").Set("order/"+o.ID+"/placed", req.Body, hearth.IfNoneMatch()); err != nil {
			if errors.Is(err, hearth.ErrExists) {
				return hearth.Response{}, hearth.BadRequest(errors.New("order " + o.ID + " was placed already"))
			}
			return hearth.Response{}, err
		}
		data, err := json.Marshal(o)
		if err != nil {
			return hearth.Response{}, err
		}
		// The order id is the ordering key: one order's events stay in order.
		id, err := ctx.Publish("orders", data, hearth.EventType("order.placed"), hearth.OrderingKey(o.ID))
		if err != nil {
			return hearth.Response{}, err
		}
		return hearth.JSON(map[string]string{"order": o.ID, "event": id})
	})
}

func main() {}
