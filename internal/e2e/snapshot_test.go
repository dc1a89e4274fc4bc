package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
)

// squaresAnswer is what testdata/snapshot answers to "table": the count and
// sum of the squares its init computed.
const squaresAnswer = "65536 93822844764160"

func phaseNames(res *client.InvokeResult) []string {
	names := make([]string, len(res.Phases))
	for i, p := range res.Phases {
		names[i] = p.Name
	}
	return names
}

// snapshotOf reads a function's snapshot description from GET
// /v1/functions/{name}.
func snapshotOf(t *testing.T, c *client.Client, name string) map[string]any {
	t.Helper()
	fn, err := c.Get(context.Background(), name)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	if fn.Snapshot == nil {
		t.Fatalf("get %s: no snapshot description", name)
	}
	return fn.Snapshot
}

// count reads a number of a snapshot description (JSON numbers decode as
// float64).
func count(snap map[string]any, field string) int64 {
	v, _ := snap[field].(float64)
	return int64(v)
}

// TestSnapshotColdStarts deploys one guest several ways on one node (which
// compiles it once) and checks how its cold starts happen and what its
// instances can see.
func TestSnapshotColdStarts(t *testing.T) {
	_, c := startNode(t, node.Config{})
	wasm := build(t, "testdata/snapshot")

	tests := []struct {
		name      string
		cfg       client.FunctionConfig
		wantMode  string
		wantPhase string // present in the cold start's phases
		nophase   string // absent from them
		bodies    []string
		want      []string // answers to bodies, on one instance
	}{
		{
			name: "restore", cfg: client.FunctionConfig{Concurrency: 1},
			wantMode: "restore", wantPhase: "restore", nophase: "init",
			bodies: []string{"table", "a", "b"}, want: []string{squaresAnswer, "saw ", "saw a"},
		},
		{
			name: "off", cfg: client.FunctionConfig{Concurrency: 1, Snapshot: "off"},
			wantMode: "off", wantPhase: "init", nophase: "restore",
			bodies: []string{"table", "a", "b"}, want: []string{squaresAnswer, "saw ", "saw a"},
		},
		{
			name: "per-request", cfg: client.FunctionConfig{Concurrency: 1, Isolation: "per-request"},
			wantMode: "restore", wantPhase: "restore", nophase: "init",
			bodies: []string{"secret-1", "secret-2", "table"}, want: []string{"saw ", "saw ", squaresAnswer},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deploy(t, c, tt.name, tt.cfg, wasm)
			before := snapshotOf(t, c, tt.name)
			if before["mode"] != tt.wantMode {
				t.Fatalf("snapshot mode %v (%v), want %s", before["mode"], before, tt.wantMode)
			}
			for i, body := range tt.bodies {
				res := invoke(t, c, tt.name, body)
				if string(res.Body) != tt.want[i] {
					t.Fatalf("request %d (%q) answered %q, want %q", i+1, body, res.Body, tt.want[i])
				}
				if res.Cold != (i == 0) {
					t.Fatalf("request %d: cold=%v, want every request on the first instance", i+1, res.Cold)
				}
				if i > 0 {
					continue
				}
				if names := phaseNames(res); !slices.Contains(names, tt.wantPhase) || slices.Contains(names, tt.nophase) {
					t.Fatalf("cold start phases %v: want %q and no %q", names, tt.wantPhase, tt.nophase)
				}
			}
			after := snapshotOf(t, c, tt.name)
			switch tt.wantMode {
			case "restore":
				if count(after, "bytes") <= 0 || after["key"] == "" {
					t.Fatalf("snapshot %v: want its size and key", after)
				}
				if count(after, "restored") <= count(before, "restored") || count(after, "initialised") != 0 {
					t.Fatalf("restored %d -> %d, initialised %d: want one more restore and no init",
						count(before, "restored"), count(after, "restored"), count(after, "initialised"))
				}
			default:
				if count(after, "initialised") <= count(before, "initialised") || count(after, "restored") != 0 {
					t.Fatalf("initialised %d -> %d, restored %d: want one more init and no restore",
						count(before, "initialised"), count(after, "initialised"), count(after, "restored"))
				}
			}
			if tt.cfg.Isolation == "per-request" && count(after, "resets") < int64(len(tt.bodies)-1) {
				t.Fatalf("%d resets for %d requests on one instance, want %d", count(after, "resets"), len(tt.bodies), len(tt.bodies)-1)
			}
		})
	}
	t.Run("redeploy new env", func(t *testing.T) { redeployNewEnv(t, c, wasm) })
}

// redeployNewEnv: a new version with another environment gets a snapshot of
// its own, and its restored instances see the new environment.
func redeployNewEnv(t *testing.T, c *client.Client, wasm []byte) {
	var keys []any
	for _, greeting := range []string{"v1", "v2"} {
		deploy(t, c, "f", client.FunctionConfig{Env: map[string]string{"GREETING": greeting}}, wasm)
		res := invoke(t, c, "f", "env")
		if string(res.Body) != greeting || !res.Cold || !slices.Contains(phaseNames(res), "restore") {
			t.Fatalf("GREETING=%s: answered %q cold=%v phases %v, want a restored cold start", greeting, res.Body, res.Cold, phaseNames(res))
		}
		snap := snapshotOf(t, c, "f")
		if snap["mode"] != "restore" {
			t.Fatalf("GREETING=%s: snapshot %v", greeting, snap)
		}
		keys = append(keys, snap["key"])
	}
	if keys[0] == keys[1] {
		t.Fatalf("both versions use snapshot %v, want one each", keys[0])
	}
}

// TestSnapshotSurvivesRestart: a restarted node restores from the snapshot
// file the first node captured instead of capturing it again.
func TestSnapshotSurvivesRestart(t *testing.T) {
	dataDir := t.TempDir()
	first, c := startNode(t, node.Config{DataDir: dataDir})
	deploy(t, c, "f", client.FunctionConfig{}, build(t, "testdata/snapshot"))
	snap := snapshotOf(t, c, "f")
	if snap["mode"] != "restore" || snap["loaded"] == true {
		t.Fatalf("after deploy: snapshot %v, want one captured by this node", snap)
	}
	key, _ := snap["key"].(string)
	file := filepath.Join(dataDir, "snapshots", key+".snap")
	captured, err := os.Stat(file)
	if err != nil {
		t.Fatalf("snapshot file: %v", err)
	}
	if err := first.Stop(context.Background()); err != nil {
		t.Fatalf("stop: %v", err)
	}

	_, c = startNode(t, node.Config{DataDir: dataDir})
	res := invoke(t, c, "f", "table")
	if string(res.Body) != squaresAnswer || !slices.Contains(phaseNames(res), "restore") {
		t.Fatalf("after restart: answered %q phases %v, want a restore", res.Body, phaseNames(res))
	}
	snap = snapshotOf(t, c, "f")
	if snap["key"] != key || snap["loaded"] != true {
		t.Fatalf("after restart: snapshot %v, want %s loaded from disk", snap, key)
	}
	reused, err := os.Stat(file)
	if err != nil {
		t.Fatalf("snapshot file after restart: %v", err)
	}
	if !reused.ModTime().Equal(captured.ModTime()) || !os.SameFile(captured, reused) {
		t.Fatalf("snapshot file rewritten at restart (mtime %v -> %v)", captured.ModTime(), reused.ModTime())
	}
}
