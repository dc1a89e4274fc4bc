package process

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/runtime"
)

func TestEchoColdThenWarm(t *testing.T) {
	art := buildLambda(t, "../../../examples/lambda-echo")
	modes := []struct {
		name string
		cfg  Config
	}{{"sandbox", Config{}}, {"sandbox with network", Config{Network: true}}, {"no sandbox", Config{NoSandbox: true}}}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { testEchoColdThenWarm(t, art, m.cfg) })
	}
}

func testEchoColdThenWarm(t *testing.T, art runtime.Artifact, cfg Config) {
	r := newRuntime(t, cfg)
	t.Logf("sandbox: %+v", r.Sandbox())
	var logs logBook
	sp := spec("echo")
	sp.Log = logs.log
	tmpl, err := r.Prepare(context.Background(), sp, art)
	if err != nil {
		t.Fatal(err)
	}
	inst, phases, err := tmpl.Spawn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(context.Background())
	if phases.Provision <= 0 || phases.Runtime <= 0 {
		t.Fatalf("phases %+v: provision and runtime must be timed", phases)
	}
	for i, body := range []string{`{"a":1}`, `"two"`} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := inst.Invoke(ctx, runtime.Request{ID: "req-" + body, Body: []byte(body)})
		cancel()
		if err != nil {
			t.Fatalf("invoke %d: %v", i, err)
		}
		if string(resp.Body) != body || resp.Error != nil {
			t.Fatalf("invoke %d: %q %+v, want the event back", i, resp.Body, resp.Error)
		}
	}
}

func TestScriptedRuntimes(t *testing.T) {
	r := newRuntime(t, Config{InitTimeout: time.Second})
	api := `api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"` + "\n"
	tests := []struct {
		name      string
		script    string
		wantSpawn error
		wantMsg   string
	}{
		{"exits at once", "exit 7\n", runtime.ErrInit, "status 7"},
		{"never calls next", "exec sleep 1000\n", runtime.ErrInit, "did not ask for an event"},
		{"init error", api + `curl -s -X POST -d '{"errorMessage":"no config","errorType":"InitFailed"}' "$api/init/error"; sleep 1000` + "\n", runtime.ErrInit, "no config"},
		{"garbage", `exec 3<>/dev/tcp/${AWS_LAMBDA_RUNTIME_API%:*}/${AWS_LAMBDA_RUNTIME_API#*:}; printf 'NOT HTTP\r\n\r\n\x00\xff' >&3; cat <&3; sleep 1000` + "\n", runtime.ErrInit, "did not ask"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := r.Prepare(context.Background(), spec("s"), script(t, tt.script))
			if err != nil {
				t.Fatal(err)
			}
			inst, _, err := tmpl.Spawn(context.Background())
			if err == nil {
				inst.Close(context.Background())
				t.Fatal("spawn succeeded")
			}
			if !errors.Is(err, tt.wantSpawn) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("spawn: %v, want %v containing %q", err, tt.wantSpawn, tt.wantMsg)
			}
		})
	}
}
