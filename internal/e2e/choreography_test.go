package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
)

// TestOrdersChoreography runs examples/orders-choreography on a real node:
// each step is a function subscribed to the previous step's topic and
// publishing from inside the guest. A paid order is shipped; a declined card
// takes the compensation path (stock released, nothing shipped), and the
// reserved count goes back to where it was.
func TestOrdersChoreography(t *testing.T) {
	_, c := startNode(t, node.Config{})
	ctx := context.Background()

	fns := []string{"place-order", "reserve-stock", "charge-payment", "ship"}
	var wg sync.WaitGroup
	wasm := make([][]byte, len(fns))
	for i, fn := range fns {
		wg.Go(func() { wasm[i] = build(t, "../../examples/orders-choreography/"+fn) })
	}
	wg.Wait()
	for i, fn := range fns {
		deploy(t, c, fn, client.FunctionConfig{}, wasm[i])
	}
	for _, topic := range []string{"orders", "stock", "payments"} {
		if _, err := c.CreateTopic(ctx, topic); err != nil {
			t.Fatalf("create topic %s: %v", topic, err)
		}
	}
	for _, sub := range [][2]string{{"orders", "reserve-stock"}, {"stock", "charge-payment"},
		{"payments", "ship"}, {"payments", "reserve-stock"}} {
		if err := c.Subscribe(ctx, sub[0], sub[1]); err != nil {
			t.Fatalf("subscribe %s to %s: %v", sub[1], sub[0], err)
		}
	}

	tests := []struct {
		name     string
		card     string
		final    string   // the step the choreography ends with
		want     []string // the progress keys it must have written
		wantNone []string // the ones it must not have written
	}{
		{"happy path", "ok", "shipped",
			[]string{"placed", "stock-reserved", "paid", "shipped"}, []string{"payment-failed", "stock-released"}},
		{"declined card compensates", "declined", "stock-released",
			[]string{"placed", "stock-reserved", "payment-failed", "stock-released"}, []string{"paid", "shipped"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("o%d", i)
			order := fmt.Sprintf(`{"id":%q,"sku":"book-%d","qty":3,"amount":20,"card":%q}`, id, i, tt.card)
			if res := invoke(t, c, "place-order", order); res.FunctionError != "" {
				t.Fatalf("place-order: %s %s", res.FunctionError, res.Body)
			}
			waitState(t, c, "order/"+id+"/"+tt.final)
			for _, step := range tt.want {
				if _, _, err := c.StateGet(ctx, "default", "order/"+id+"/"+step); err != nil {
					t.Errorf("step %s of order %s: %v", step, id, err)
				}
			}
			for _, step := range tt.wantNone {
				if _, _, err := c.StateGet(ctx, "default", "order/"+id+"/"+step); !client.IsNotFound(err) {
					t.Errorf("order %s went through %s (err %v)", id, step, err)
				}
			}
			wantReserved := "3"
			if tt.final == "stock-released" {
				wantReserved = "0"
			}
			if v, _, err := c.StateGet(ctx, "default", fmt.Sprintf("stock/book-%d/reserved", i)); err != nil || string(v) != wantReserved {
				t.Errorf("reserved stock = %q (%v), want %s", v, err, wantReserved)
			}
		})
	}

	// Placing an order twice is refused: it would start a second choreography.
	if res := invoke(t, c, "place-order", `{"id":"o0","sku":"book-0","qty":3}`); res.FunctionError != "BadRequest" {
		t.Fatalf("second place-order of o0: %q %s, want a BadRequest", res.FunctionError, res.Body)
	}
}

// waitState polls the default store until key exists: the choreography
// runs asynchronously, behind the invoke that started it.
func waitState(t *testing.T, c *client.Client, key string) []byte {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v, _, err := c.StateGet(context.Background(), "default", key)
		if err == nil {
			return v
		}
		if !client.IsNotFound(err) || time.Now().After(deadline) {
			t.Fatalf("waiting for state %s: %v", key, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
