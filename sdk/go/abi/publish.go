package abi

// OpPublish publishes an event to a topic: the input is an encoded
// PublishCall, the output the event's id.
const OpPublish = "publish"

// PublishCall is one event a function publishes.
type PublishCall struct {
	Topic string
	Data  []byte
	// Type and ContentType describe the event (CloudEvents type and
	// datacontenttype); OrderingKey asks for in-order delivery per key.
	Type, ContentType, OrderingKey string
}

// AppendBinary appends the encoded call to b (the state codec's layout).
func (c *PublishCall) AppendBinary(b []byte) []byte {
	e := enc{b}
	e.u8(publishCodecVersion)
	e.str(c.Topic)
	e.bytes(c.Data)
	e.str(c.Type)
	e.str(c.ContentType)
	e.str(c.OrderingKey)
	return e.b
}

// DecodePublishCall reads an encoded call; Data aliases b.
func DecodePublishCall(b []byte) (PublishCall, error) {
	d := dec{b: b}
	d.version(publishCodecVersion, publishCodecVersion)
	c := PublishCall{Topic: d.str(), Data: d.bytes(), Type: d.str(), ContentType: d.str(), OrderingKey: d.str()}
	return c, d.done()
}
