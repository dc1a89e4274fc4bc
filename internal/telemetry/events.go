package telemetry

import "time"

// Invocation is one finished invocation, as reported to Recorders.
type Invocation struct {
	Time      time.Time // when it finished
	Function  string
	Version   int64
	RequestID string
	TraceID   string
	Cold      bool
	// Phases of a cold start by name (provision, runtime, code, init or
	// restore, handler); nil when warm (Duration is the handler time).
	Phases   map[string]time.Duration
	Duration time.Duration // handler time
	// Outcome is success, error, timeout, crash or throttled.
	Outcome string
}

// Recorder receives every finished invocation (the dashboard keeps its
// live views with one). Record runs on the invoke path: it must be quick
// and must not block.
type Recorder interface {
	Record(inv Invocation)
}
