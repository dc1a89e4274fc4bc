package process

import (
	"context"
	"os"
	"path/filepath"
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

// TestSpareSandboxesStopAfterAFailedBuild: a host that refuses a spare's
// namespaces or mounts is not asked again at every cold start: the set
// stops building and take hands out nothing, so launches build their own
// sandbox and report its error.
func TestSpareSandboxesStopAfterAFailedBuild(t *testing.T) {
	r := newRuntime(t, Config{SpareSandboxes: -1})
	if !r.Sandbox().Namespaces {
		t.Skipf("no namespaces on this host (%s)", r.Sandbox().NamespacesReason)
	}
	// A root under a regular file cannot be mounted on.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSpareSandboxes(filepath.Join(file, "root"), false, 1<<20, 2, r.log)
	defer s.close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		broken, building := s.broken, s.building
		s.mu.Unlock()
		if broken && building == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broken=%v building=%d, want the set marked broken", broken, building)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if sp := s.take(); sp != nil {
		t.Fatal("take gave out a spare from a broken set")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.building != 0 || len(s.ready) != 0 {
		t.Fatalf("a broken set built again: building=%d ready=%d", s.building, len(s.ready))
	}
}
