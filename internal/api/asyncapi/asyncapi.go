// Package asyncapi serves hearth's async subsystem over HTTP: invocation
// records, dead-letter queues, topics and subscriptions, publishing and
// schedules (see docs/async.md). It is thin: the semantics are
// internal/async's, and every error kind maps to one status, in StatusOf.
package asyncapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/hearth-sh/hearth/internal/apierror"
	"github.com/hearth-sh/hearth/internal/async"
	"github.com/hearth-sh/hearth/internal/registry"
)

// Headers of a publish in binary mode (besides the CloudEvents ce-*).
const (
	// HeaderOrderingKey asks for in-order delivery per key.
	HeaderOrderingKey = "X-Hearth-Ordering-Key"
	// contentTypeCloudEvent marks a body that is a whole CloudEvent.
	contentTypeCloudEvent = "application/cloudevents+json"
)

type api struct{ svc *async.Service }

// Register adds the async endpoints to mux.
func Register(mux *http.ServeMux, svc *async.Service) {
	a := &api{svc: svc}
	mux.HandleFunc("GET /v1/invocations/{id}", a.invocation)
	mux.HandleFunc("GET /v1/functions/{name}/dlq", a.deadLetters)
	mux.HandleFunc("GET /v1/functions/{name}/dlq/{id}", a.deadLetter)
	mux.HandleFunc("POST /v1/functions/{name}/dlq/redrive", a.redrive)
	mux.HandleFunc("POST /v1/topics", a.createTopic)
	mux.HandleFunc("GET /v1/topics", a.listTopics)
	mux.HandleFunc("GET /v1/topics/{topic}", a.getTopic)
	mux.HandleFunc("DELETE /v1/topics/{topic}", a.deleteTopic)
	mux.HandleFunc("POST /v1/topics/{topic}/publish", a.publish)
	mux.HandleFunc("POST /v1/topics/{topic}/subscriptions", a.subscribe)
	mux.HandleFunc("POST /v1/topics/{topic}/subscriptions/{fn}", a.subscribe)
	mux.HandleFunc("DELETE /v1/topics/{topic}/subscriptions/{fn}", a.unsubscribe)
	mux.HandleFunc("GET /v1/schedules", a.listSchedules)
	mux.HandleFunc("POST /v1/schedules", a.addSchedule)
	mux.HandleFunc("GET /v1/schedules/{name}", a.getSchedule)
	mux.HandleFunc("DELETE /v1/schedules/{name}", a.deleteSchedule)
}

// StatusOf maps an error of internal/async to its API error. The invoke
// handler uses it for Enqueue and Idempotent errors too.
func StatusOf(err error) *apierror.Error {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae
	}
	msg := err.Error()
	switch {
	case errors.Is(err, async.ErrInvalid), errors.Is(err, registry.ErrInvalidName):
		return apierror.BadRequest("%s", msg)
	case errors.Is(err, async.ErrNotFound), errors.Is(err, async.ErrTopicNotFound), errors.Is(err, registry.ErrNotFound):
		return apierror.NotFound("%s", msg)
	case errors.Is(err, async.ErrExists):
		return apierror.Conflict("%s", msg)
	case errors.Is(err, async.ErrInProgress):
		e := apierror.New(http.StatusConflict, "in_progress", "%s; repeat the request later for its result", msg)
		e.RetryAfter = 1
		return e
	case errors.Is(err, async.ErrTooLarge):
		return apierror.TooLarge("%s", msg)
	}
	return apierror.Internal("%s", msg)
}

func writeError(w http.ResponseWriter, err error) { apierror.Write(w, StatusOf(err)) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads at most limit bytes; more is a 413.
func readBody(r *http.Request, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return nil, apierror.BadRequest("read request body: %v", err)
	}
	if len(b) > limit {
		return nil, apierror.TooLarge("request body over %d bytes", limit)
	}
	return b, nil
}

// decodeJSON reads a small JSON request body into v, refusing unknown fields.
func decodeJSON(r *http.Request, v any) error {
	b, err := readBody(r, async.MaxPayloadBytes+64<<10)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apierror.BadRequest("request body: %v", err)
	}
	return nil
}

func (a *api) invocation(w http.ResponseWriter, r *http.Request) {
	rec, err := a.svc.Invocation(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (a *api) deadLetters(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, apierror.BadRequest("limit %q must be a positive integer", v))
			return
		}
		limit = n
	}
	dls, err := a.svc.DeadLetters(r.Context(), r.PathValue("name"), limit)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": dls})
}

func (a *api) deadLetter(w http.ResponseWriter, r *http.Request) {
	dl, err := a.svc.DeadLetter(r.Context(), r.PathValue("name"), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, dl)
}

// redrive re-queues all dead letters, or the one named by ?id= or a JSON
// body {"id": "..."}.
func (a *api) redrive(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if id == "" && r.ContentLength != 0 {
		var body struct {
			ID string `json:"id"`
		}
		if err := decodeJSON(r, &body); err != nil && !errors.Is(err, io.EOF) {
			writeError(w, err)
			return
		}
		id = body.ID
	}
	ids, err := a.svc.Redrive(r.Context(), r.PathValue("name"), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"redriven": ids})
}

func (a *api) createTopic(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if err := a.svc.CreateTopic(r.Context(), body.Name); err != nil {
		writeError(w, err)
		return
	}
	top, err := a.svc.Topic(r.Context(), body.Name)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, top)
}

func (a *api) listTopics(w http.ResponseWriter, r *http.Request) {
	topics, err := a.svc.Topics(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"topics": topics})
}

func (a *api) getTopic(w http.ResponseWriter, r *http.Request) {
	top, err := a.svc.Topic(r.Context(), r.PathValue("topic"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, top)
}

func (a *api) deleteTopic(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeleteTopic(r.Context(), r.PathValue("topic")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// publish takes the body as the event's data (CloudEvents binary mode:
// ce-type, ce-source, ce-id headers), or as a whole event when the content
// type is application/cloudevents+json (structured mode).
func (a *api) publish(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	ct := r.Header.Get("Content-Type")
	structured := strings.HasPrefix(ct, contentTypeCloudEvent)
	limit := async.MaxPayloadBytes
	if structured {
		limit += 64 << 10 // room for the attributes around the data
	}
	body, err := readBody(r, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	var id string
	if structured {
		var ev async.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			writeError(w, apierror.BadRequest("malformed CloudEvent: %v", err))
			return
		}
		id, err = a.svc.PublishEvent(r.Context(), topic, ev)
	} else {
		key := r.Header.Get(HeaderOrderingKey)
		if key == "" {
			key = r.Header.Get("Ce-Orderingkey")
		}
		id, err = a.svc.Publish(r.Context(), topic, body, async.PublishOptions{
			ID: r.Header.Get("Ce-Id"), Source: r.Header.Get("Ce-Source"), Type: r.Header.Get("Ce-Type"),
			ContentType: ct, OrderingKey: key,
		})
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id})
}

func (a *api) subscribe(w http.ResponseWriter, r *http.Request) {
	fn := r.PathValue("fn")
	if fn == "" {
		var body struct {
			Function string `json:"function"`
		}
		if err := decodeJSON(r, &body); err != nil {
			writeError(w, err)
			return
		}
		fn = body.Function
	}
	topic := r.PathValue("topic")
	if err := a.svc.Subscribe(r.Context(), topic, fn); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, async.Subscription{Topic: topic, Function: fn})
}

func (a *api) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.Unsubscribe(r.Context(), r.PathValue("topic"), r.PathValue("fn")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// scheduleBody is a schedule as a client sends it.
type scheduleBody struct {
	Name     string `json:"name"`
	Function string `json:"function"`
	Cron     string `json:"cron,omitempty"`
	// Every is a Go duration ("30s", "5m").
	Every string `json:"every,omitempty"`
	Data  string `json:"data,omitempty"`
}

func (a *api) addSchedule(w http.ResponseWriter, r *http.Request) {
	var body scheduleBody
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, err)
		return
	}
	sc := async.Schedule{Name: body.Name, Function: body.Function, Cron: body.Cron, Data: body.Data}
	if body.Every != "" {
		var d registry.Duration
		if err := d.UnmarshalJSON([]byte(strconv.Quote(body.Every))); err != nil {
			writeError(w, apierror.BadRequest("every: %v (use a duration such as 30s or 5m)", err))
			return
		}
		sc.Every = d
	}
	sc, err := a.svc.AddSchedule(r.Context(), sc)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, sc)
}

func (a *api) listSchedules(w http.ResponseWriter, r *http.Request) {
	list, err := a.svc.Schedules(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedules": list})
}

func (a *api) getSchedule(w http.ResponseWriter, r *http.Request) {
	sc, err := a.svc.Schedule(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sc)
}

func (a *api) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeleteSchedule(r.Context(), r.PathValue("name")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
