package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/api/asyncapi"
	"github.com/hearth-sh/hearth/internal/async"
	"github.com/hearth-sh/hearth/internal/backbone"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

// echoNode has one function, "echo", that answers with its request body
// and fails on "fail".
type echoNode struct{}

func (echoNode) Get(_ context.Context, name string) (registry.Function, error) {
	if name != "echo" {
		return registry.Function{}, fmt.Errorf("%w: %s", registry.ErrNotFound, name)
	}
	zero := 0
	return registry.Function{Name: name, Version: 1, Config: registry.Config{Retries: &zero}.Defaults()}, nil
}

func (echoNode) Invoke(_ context.Context, _ string, req runtime.Request) (*invoke.Result, error) {
	resp := runtime.Response{Status: 200, Body: req.Body}
	if string(req.Body) == "fail" {
		resp.Error = &runtime.FunctionError{Type: "HandlerError", Message: "asked to fail"}
	}
	return &invoke.Result{Response: resp, RequestID: req.ID, Version: 1}, nil
}

func asyncNode(t *testing.T) *client.Client {
	t.Helper()
	bb, err := backbone.Open(context.Background(), backbone.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bb.Close() })
	svc, err := async.New(context.Background(), async.Options{JS: bb.JS, Conn: bb.Conn, Invoker: echoNode{}, Functions: echoNode{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	mux := http.NewServeMux()
	asyncapi.Register(mux, svc)
	mux.HandleFunc("POST /v1/functions/{name}/invoke", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		asyncapi.ServeAsyncInvoke(w, r, svc, r.PathValue("name"), runtime.Request{Method: "POST", Body: body})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return client.New(srv.URL)
}

func waitInvocation(t *testing.T, c *client.Client, id, status string) client.Invocation {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		inv, err := c.Invocation(context.Background(), id)
		if err == nil && inv.Status == status {
			return inv
		}
		if time.Now().After(deadline) {
			t.Fatalf("invocation %s: %+v %v, want %s", id, inv, err, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAsyncClient(t *testing.T) {
	c := asyncNode(t)
	ctx := context.Background()

	id, err := c.InvokeAsync(ctx, "echo", []byte(`"hi"`), "key-1")
	if err != nil {
		t.Fatal(err)
	}
	inv := waitInvocation(t, c, id, "succeeded")
	if string(inv.Result.Body) != `"hi"` || len(inv.Attempts) != 1 || inv.Attempts[0].Outcome != "success" {
		t.Fatalf("invocation %+v", inv)
	}
	if again, err := c.InvokeAsync(ctx, "echo", []byte(`"hi"`), "key-1"); err != nil || again != id {
		t.Fatalf("repeat: %s %v, want %s", again, err, id)
	}
	if _, err := c.InvokeAsync(ctx, "ghost", nil, ""); !client.IsNotFound(err) {
		t.Fatalf("unknown function: %v", err)
	}

	failed, err := c.InvokeAsync(ctx, "echo", []byte("fail"), "")
	if err != nil {
		t.Fatal(err)
	}
	waitInvocation(t, c, failed, "failed")
	dls, err := c.DeadLetters(ctx, "echo")
	if err != nil || len(dls) != 1 || dls[0].ID != failed || string(dls[0].Request.Body) != "fail" || dls[0].Condition != "RetriesExhausted" {
		t.Fatalf("dead letters %+v %v", dls, err)
	}
	if dl, err := c.DeadLetter(ctx, "echo", failed); err != nil || len(dl.Attempts) != 1 {
		t.Fatalf("dead letter %+v %v", dl, err)
	}
	if ids, err := c.Redrive(ctx, "echo", ""); err != nil || len(ids) != 1 {
		t.Fatalf("redrive %v %v", ids, err)
	}

	if _, err := c.CreateTopic(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(ctx, "orders", "echo"); err != nil {
		t.Fatal(err)
	}
	evID, err := c.Publish(ctx, "orders", []byte(`{"n":1}`), client.PublishOptions{Type: "order.placed", OrderingKey: "c1"})
	if err != nil || evID == "" {
		t.Fatalf("publish %q %v", evID, err)
	}
	topics, err := c.Topics(ctx)
	if err != nil || len(topics) != 1 || topics[0].Subscriptions[0].Function != "echo" {
		t.Fatalf("topics %+v %v", topics, err)
	}
	if err := c.Unsubscribe(ctx, "orders", "echo"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteTopic(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Topic(ctx, "orders"); !client.IsNotFound(err) {
		t.Fatalf("deleted topic: %v", err)
	}

	sc, err := c.AddSchedule(ctx, client.ScheduleSpec{Name: "often", Function: "echo", Every: client.Duration(30 * time.Second), Data: "x"})
	if err != nil || time.Duration(sc.Every) != 30*time.Second || sc.Next.IsZero() {
		t.Fatalf("add schedule %+v %v", sc, err)
	}
	var apiErr *client.Error
	if _, err := c.AddSchedule(ctx, client.ScheduleSpec{Name: "bad", Function: "echo", Cron: "nope"}); !errors.As(err, &apiErr) || apiErr.Status != 400 {
		t.Fatalf("bad cron: %v", err)
	}
	if list, err := c.Schedules(ctx); err != nil || len(list) != 1 {
		t.Fatalf("schedules %+v %v", list, err)
	}
	if err := c.DeleteSchedule(ctx, "often"); err != nil {
		t.Fatal(err)
	}
}

// Queue an invocation, then read how it went.
func ExampleClient_InvokeAsync() {
	c := client.New(client.DefaultURL)
	ctx := context.Background()
	id, err := c.InvokeAsync(ctx, "resize", []byte(`{"image":"a.png"}`), "resize-a.png")
	if err != nil {
		fmt.Println(err)
		return
	}
	inv, err := c.Invocation(ctx, id)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(inv.Status, len(inv.Attempts))
}

// Fan events out to functions; events of one customer arrive in order.
func ExampleClient_Publish() {
	c := client.New(client.DefaultURL)
	ctx := context.Background()
	if _, err := c.CreateTopic(ctx, "orders"); err != nil {
		fmt.Println(err)
		return
	}
	for _, fn := range []string{"ship", "audit"} {
		if err := c.Subscribe(ctx, "orders", fn); err != nil {
			fmt.Println(err)
			return
		}
	}
	id, err := c.Publish(ctx, "orders", []byte(`{"order":42}`), client.PublishOptions{Type: "order.placed", OrderingKey: "customer-7"})
	fmt.Println(id, err)
}
