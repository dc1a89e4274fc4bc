package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/api/wfapi"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/workflow/engine"
)

// startWorkflows starts a workflow engine beside a node, on the node's
// backbone, with the node's functions as Task resources, and serves the
// workflow API; it returns a client of that API.
func startWorkflows(t *testing.T, n *node.Node) *client.Client {
	t.Helper()
	eng, err := engine.New(context.Background(), engine.Options{JS: n.Backbone().JS, Invoker: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = eng.Close(ctx)
	})
	mux := http.NewServeMux()
	wfapi.Register(mux, eng)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return client.New(srv.URL)
}

// TestOrderSaga runs examples/order-saga on a node: the happy path, and a
// failure at each step with the compensations it must run.
func TestOrderSaga(t *testing.T) {
	if testing.Short() {
		t.Skip("builds five Go functions")
	}
	n, c := startNode(t, node.Config{})
	dir := filepath.Join("..", "..", "examples", "order-saga")
	for _, fn := range []string{"validate-order", "process-payment", "update-inventory", "refund-payment", "rollback-order"} {
		deploy(t, c, fn, client.FunctionConfig{}, build(t, filepath.Join(dir, fn)))
	}
	def, err := os.ReadFile(filepath.Join(dir, "workflow.json"))
	if err != nil {
		t.Fatal(err)
	}
	wf := startWorkflows(t, n)
	ctx := context.Background()
	if _, err := wf.CreateWorkflow(ctx, "order-saga", def, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, fail string
		status     string
		errName    string
		states     []string
	}{
		{"happy path", "", "SUCCEEDED", "", []string{"ValidateOrder", "ProcessPayment", "UpdateInventory", "OrderSucceeded"}},
		{"invalid order", "validate", "FAILED", "InvalidOrder", []string{"ValidateOrder", "OrderFailed"}},
		{"payment declined", "payment", "FAILED", "PaymentDeclined", []string{"ValidateOrder", "ProcessPayment", "RollbackOrder", "OrderFailed"}},
		{"out of stock", "inventory", "FAILED", "OutOfStock", []string{"ValidateOrder", "ProcessPayment", "UpdateInventory", "RefundPayment", "RollbackOrder", "OrderFailed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input, _ := json.Marshal(map[string]any{"orderId": "o-1", "amount": 42, "items": []string{"book"}, "fail": tc.fail})
			x, err := wf.StartExecution(ctx, "order-saga", client.StartOptions{Input: input, Sync: true})
			if err != nil {
				t.Fatal(err)
			}
			if x.Status != tc.status || x.Error != tc.errName {
				t.Fatalf("ended %s %s (%s), want %s %s", x.Status, x.Error, x.Cause, tc.status, tc.errName)
			}
			events, err := wf.ExecutionHistory(ctx, "order-saga", x.Name, false)
			if err != nil {
				t.Fatal(err)
			}
			var states []string
			for _, ev := range events {
				if len(ev.Type) > len("StateEntered") && ev.Type[len(ev.Type)-len("StateEntered"):] == "StateEntered" {
					states = append(states, ev.Name)
				}
			}
			if !slices.Equal(states, tc.states) {
				t.Fatalf("states %v, want %v", states, tc.states)
			}
			if tc.status == "SUCCEEDED" {
				var out struct {
					Payment   struct{ PaymentID string }
					Inventory struct{ Reserved []string }
				}
				if err := json.Unmarshal(x.Output, &out); err != nil || out.Payment.PaymentID != "pay-o-1" || len(out.Inventory.Reserved) != 1 {
					t.Fatalf("output %s", x.Output)
				}
			}
		})
	}
}
