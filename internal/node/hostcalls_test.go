package node

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hearth-sh/hearth/internal/state"
	"github.com/hearth-sh/hearth/internal/telemetry"
	"github.com/hearth-sh/hearth/sdk/go/abi"
)

// hostCallNode is a Node with just what HostCall needs: a memory store
// named "default" and a tracer that records every span into rec.
func hostCallNode(t *testing.T) (*Node, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	mem := state.NewMemory(nil, state.Limits{})
	t.Cleanup(func() { _ = mem.Close() })
	return &Node{stores: state.NewRegistry(map[string]state.Store{"default": mem}),
		tracing: &telemetry.Tracing{Provider: tp, Tracer: tp.Tracer("test")}}, rec
}

// TestHostCallAnswersInTheCallersVersion: a guest built with an older SDK
// (state payload v1) gets v1 answers; a current one gets v2.
func TestHostCallAnswersInTheCallersVersion(t *testing.T) {
	n, _ := hostCallNode(t)
	ctx := context.Background()
	for _, v := range []byte{abi.StateCodecV1, abi.StateCodecV2} {
		set := abi.StateCall{Store: "default", Key: "k", Value: []byte("value")}
		out, err := n.HostCall(ctx, abi.OpStateSet, set.AppendBinaryVersion(nil, v))
		if err != nil {
			t.Fatalf("v%d set: %v", v, err)
		}
		if abi.StateVersion(out) != v {
			t.Fatalf("v%d set answered in v%d", v, abi.StateVersion(out))
		}
		setRes, err := abi.DecodeStateResult(out)
		if err != nil || setRes.Error != nil || setRes.ETag == "" {
			t.Fatalf("v%d set: %+v %v", v, setRes, err)
		}
		get := abi.StateCall{Store: "default", Key: "k"}
		out, err = n.HostCall(ctx, abi.OpStateGet, get.AppendBinaryVersion(nil, v))
		if err != nil {
			t.Fatalf("v%d get: %v", v, err)
		}
		res, err := abi.DecodeStateResult(out)
		if err != nil || abi.StateVersion(out) != v || !res.Found || string(res.Value) != "value" || res.ETag != setRes.ETag {
			t.Fatalf("v%d get: %+v (version %d) %v; set's etag %s", v, res, abi.StateVersion(out), err, setRes.ETag)
		}
	}
}

// TestHostCallSpans: host calls get spans only inside a recorded trace, and
// at most maxHostCallSpans of them under one parent.
func TestHostCallSpans(t *testing.T) {
	tests := []struct {
		name      string
		traced    bool
		calls     int
		wantSpans int
	}{
		{"no trace", false, 10, 0},
		{"traced, few calls", true, 10, 10},
		{"traced, past the limit", true, maxHostCallSpans + 50, maxHostCallSpans},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, rec := hostCallNode(t)
			ctx := context.Background()
			if tt.traced {
				var parent trace.Span
				ctx, parent = n.tracing.Tracer.Start(ctx, "handler")
				defer parent.End()
			}
			in := (&abi.StateCall{Store: "default", Key: "k"}).AppendBinary(nil)
			for range tt.calls {
				if _, err := n.HostCall(ctx, abi.OpStateGet, in); err != nil {
					t.Fatal(err)
				}
			}
			got := 0
			for _, s := range rec.Ended() {
				if s.Name() == "host "+abi.OpStateGet {
					got++
				}
			}
			if got != tt.wantSpans {
				t.Fatalf("%d host call spans, want %d", got, tt.wantSpans)
			}
		})
	}
}
