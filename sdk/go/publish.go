package hearth

import "github.com/hearth-sh/hearth/sdk/go/abi"

// PublishOption describes an event published with Context.Publish.
type PublishOption func(*abi.PublishCall)

// EventType sets the event's CloudEvents type (default "hearth.message").
func EventType(t string) PublishOption { return func(c *abi.PublishCall) { c.Type = t } }

// ContentType sets the data's content type; JSON data is embedded as JSON.
func ContentType(ct string) PublishOption { return func(c *abi.PublishCall) { c.ContentType = ct } }

// OrderingKey asks for in-order delivery of events with the same key to
// each subscriber (at a cost: see docs/async.md).
func OrderingKey(key string) PublishOption { return func(c *abi.PublishCall) { c.OrderingKey = key } }

// Publish sends data as a CloudEvents-shaped event to topic; every function
// subscribed to it receives it. It returns the event's id.
//
//	id, err := ctx.Publish("orders", []byte(`{"id":42}`), hearth.EventType("order.placed"))
func (c Context) Publish(topic string, data []byte, opts ...PublishOption) (string, error) {
	call := abi.PublishCall{Topic: topic, Data: data}
	for _, o := range opts {
		o(&call)
	}
	out, err := hostCall(abi.OpPublish, call.AppendBinary(nil))
	return string(out), err
}
