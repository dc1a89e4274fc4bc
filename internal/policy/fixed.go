package policy

import "time"

// Fixed keeps every idle instance warm for a fixed time after its last use
// and never pre-warms: the keep-alive most platforms ship (AWS Lambda keeps
// about 10 minutes, Azure Functions 20). It is the baseline the other
// policies are measured against.
type Fixed struct {
	ttl time.Duration
}

// NewFixed returns a Fixed policy with the given keep-alive.
func NewFixed(ttl time.Duration) *Fixed { return &Fixed{ttl: ttl} }

// Observe does nothing: a fixed policy learns nothing.
func (*Fixed) Observe(Invocation) {}

// Decide keeps idle instances for the TTL after each completion. When the
// window ends there is nothing left to decide, so it returns the zero
// Decision and the pool stays cold until the next invocation.
func (f *Fixed) Decide(_ time.Time, s State) Decision {
	if s.Expired {
		return Decision{}
	}
	return Decision{KeepAlive: f.ttl}
}
