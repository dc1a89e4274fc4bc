// Command reserve-stock reserves stock for a placed order and publishes
// "stock.reserved" to the "stock" topic. It also owns the compensation: on
// "payment.failed" (topic "payments") it releases what it reserved and
// publishes "stock.released".
//
//	hearth subscribe orders --fn reserve-stock
//	hearth subscribe payments --fn reserve-stock
package main

import (
	"encoding/json"
	"errors"
	"strconv"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

// event is the part of the CloudEvent this function reads: subscribed
// functions receive the whole event as their request body.
type event struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

type order struct {
	ID  string `json:"id"`
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

func init() {
	hearth.Handle(func(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
		var ev event
		if err := req.DecodeJSON(&ev); err != nil {
			return hearth.Response{}, err
		}
		var o order
		if err := json.Unmarshal(ev.Data, &o); err != nil || o.ID == "" {
			return hearth.Response{}, hearth.BadRequest(errors.New("event " + ev.ID + " carries no order"))
		}
		switch ev.Type {
		case "order.placed":
			return step(ctx, o, ev.Data, "stock-reserved", o.Qty, "stock", "stock.reserved")
		case "payment.failed":
			return step(ctx, o, ev.Data, "stock-released", -o.Qty, "stock", "stock.released")
		default:
			return hearth.Text("ignored " + ev.Type), nil // not this function's business
		}
	})
}

// step records the order's progress, moves the reserved count by delta and
// publishes the next event. The progress key is written create-only, so a
// redelivered event (delivery is at least once) moves no stock twice.
func step(ctx hearth.Context, o order, data []byte, progress string, delta int, topic, eventType string) (hearth.Response, error) {
	store := ctx.State("default")
	_, err := store.Set("order/"+o.ID+"/"+progress, data, hearth.IfNoneMatch())
	switch {
	case errors.Is(err, hearth.ErrExists):
		// Done before, perhaps without the publish: publish again (the
		// next step is idempotent in the same way).
	case err != nil:
		return hearth.Response{}, err
	default:
		if err := addReserved(store, o.SKU, delta); err != nil {
			return hearth.Response{}, err
		}
	}
	if _, err := ctx.Publish(topic, data, hearth.EventType(eventType), hearth.OrderingKey(o.ID)); err != nil {
		return hearth.Response{}, err
	}
	return hearth.Text(progress), nil
}

// addReserved changes the reserved count of sku with optimistic
// concurrency: orders for the same sku run concurrently.
func addReserved(store *hearth.Store, sku string, delta int) error {
	key := "stock/" + sku + "/reserved"
	for {
		v, etag, found, err := store.Get(key)
		if err != nil {
			return err
		}
		n := 0
		opt := hearth.IfNoneMatch()
		if found {
			if n, err = strconv.Atoi(string(v)); err != nil {
				return err
			}
			opt = hearth.IfMatch(etag)
		}
		_, err = store.Set(key, []byte(strconv.Itoa(n+delta)), opt)
		if errors.Is(err, hearth.ErrConflict) || errors.Is(err, hearth.ErrExists) {
			continue
		}
		return err
	}
}

func main() {}
