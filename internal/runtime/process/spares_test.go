package process

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// TestSpareSandboxes: cold starts take sandboxes built ahead of time, the
// spares are built again, and each guest still sees only its own package
// at /var/task, whichever spare it got.
func TestSpareSandboxes(t *testing.T) {
	tests := []struct {
		name      string
		spares    int
		wantReady int // spares ready between cold starts
		wantUsed  int // cold starts that took one
	}{
		{"one spare", 1, 1, 4},
		{"three spares", 3, 3, 4},
		{"none", -1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRuntime(t, Config{SpareSandboxes: tt.spares})
			if !r.Sandbox().Namespaces {
				t.Skipf("no namespaces on this host (%s): nothing to prepare", r.Sandbox().NamespacesReason)
			}
			for _, who := range []string{"first", "second", "third", "fourth"} {
				waitSpares(t, r, tt.wantReady)
				art := runtime.Artifact{Bytes: makeZip(t,
					zipFile{"bootstrap", 0o755, "#!/bin/bash\n" + shellPrelude +
						`next; curl -s -X POST --data-binary @/var/task/who "$api/invocation/$id/response"; next` + "\n"},
					zipFile{"who", 0o644, who})}
				tmpl, err := r.Prepare(context.Background(), spec(who), art)
				if err != nil {
					t.Fatal(err)
				}
				inst, _, err := tmpl.Spawn(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				resp, err := inst.Invoke(ctx, runtime.Request{ID: "r-" + who, Body: []byte(`{}`)})
				cancel()
				_ = inst.Close(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if string(resp.Body) != who {
					t.Fatalf("guest %s read %q from /var/task/who", who, resp.Body)
				}
			}
			if _, used := r.spares.count(); used != tt.wantUsed {
				t.Fatalf("%d cold starts took a spare sandbox, want %d", used, tt.wantUsed)
			}
		})
	}
}

func waitSpares(t *testing.T, r *Runtime, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ready, _ := r.spares.count()
		if ready == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d spare sandboxes ready, want %d", ready, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
