package async

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// DestinationEvent is what a destination receives about a finished async
// invocation (the body of the function's request, or the data of the
// topic's event), in the spirit of AWS Lambda destinations.
type DestinationEvent struct {
	InvocationID string `json:"invocation_id"`
	Function     string `json:"function"`
	// Condition is "Success", "RetriesExhausted", "BadRequest" or
	// "FunctionNotFound".
	Condition       string          `json:"condition"`
	Attempts        int             `json:"attempts"`
	RequestPayload  json.RawMessage `json:"request_payload,omitempty"`
	ResponsePayload json.RawMessage `json:"response_payload,omitempty"`
	Error           string          `json:"error,omitempty"`
}

// payload keeps JSON as JSON and wraps anything else as a JSON string.
func payload(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// deliver sends an invocation's outcome to dest ("function:NAME" or
// "topic:NAME"; empty: nowhere). The id of what it sends derives from the
// invocation's, so a redelivered invocation does not send twice within the
// streams' duplicate window.
func (s *Service) deliver(ctx context.Context, dest string, env envelope, rec *Record, condition string) {
	kind, name, ok := strings.Cut(dest, ":")
	if !ok {
		return
	}
	ev := DestinationEvent{InvocationID: env.ID, Function: env.Function, Condition: condition, Attempts: len(rec.Attempts),
		RequestPayload: payload(env.Request.Body), Error: rec.Error}
	if rec.Result != nil {
		ev.ResponsePayload = payload(rec.Result.Body)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("encode destination event", "id", env.ID, "err", err)
		return
	}
	suffix := "-ok"
	if condition != "Success" {
		suffix = "-fail"
	}
	switch kind {
	case "function":
		next := envelope{ID: env.ID + suffix, Function: name, Source: "destination:" + env.Function}
		next.Request.Method, next.Request.Path, next.Request.Body = http.MethodPost, "/", body
		next.Request.Headers = map[string][]string{"Content-Type": {"application/json"}}
		_, err = s.enqueue(ctx, next, next.ID)
	case "topic":
		typ := "hearth.invocation.success"
		if condition != "Success" {
			typ = "hearth.invocation.failure"
		}
		_, err = s.Publish(ctx, name, body, PublishOptions{ID: env.ID + suffix, Type: typ, Source: "hearth/functions/" + env.Function})
	}
	if err != nil {
		s.log.Error("send to destination", "id", env.ID, "destination", dest, "err", err)
	}
}
