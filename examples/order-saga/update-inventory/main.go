// Command update-inventory is a step of the order saga (examples/order-saga): it
// reserves the items.
package main

import (
	"fmt"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

// order is the saga's input; Fail names the step that should fail, so
// that every path of the workflow can be tried.
type order struct {
	OrderID string   `json:"orderId"`
	Amount  float64  `json:"amount"`
	Items   []string `json:"items"`
	Fail    string   `json:"fail"`
	Payment *struct {
		PaymentID string `json:"paymentId"`
	} `json:"payment"`
}

func init() {
	hearth.Handle(func(_ hearth.Context, req hearth.Request) (hearth.Response, error) {
		var o order
		if err := req.DecodeJSON(&o); err != nil {
			return hearth.Response{}, err
		}
		if o.Fail == "inventory" {
			return hearth.Response{}, &hearth.Error{Type: "OutOfStock", Message: fmt.Sprintf("not enough stock for order %s", o.OrderID)}
		}
		return hearth.JSON(map[string]any{"reserved": o.Items})
	})
}

// main is empty: the module is a reactor, and the node calls the handler.
func main() {}
