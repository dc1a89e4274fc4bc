package process

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// BenchmarkWarmInvoke times one event through the Runtime API to a warm
// aws-lambda-go echo process and back.
func BenchmarkWarmInvoke(b *testing.B) {
	r := newRuntime(b, Config{})
	art := buildLambda(b, "../../../examples/lambda-echo")
	tmpl, err := r.Prepare(context.Background(), spec("bench"), art)
	if err != nil {
		b.Fatal(err)
	}
	inst, _, err := tmpl.Spawn(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Close(context.Background())
	req := runtime.Request{ID: "b", Body: []byte(`{"hello":"bench"}`)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ResetTimer()
	for b.Loop() {
		if _, err := inst.Invoke(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
