package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/backbone"
	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/workflow"
)

// The crash test runs the engine in a child process (this test binary,
// re-executed with crashChildEnv set), kills it with SIGKILL while many
// executions are between Tasks, and restarts it on the same data.
const (
	crashChildEnv  = "HEARTH_WF_CRASH_CHILD" // data directory
	crashGenEnv    = "HEARTH_WF_CRASH_GEN"   // 1: start executions; 2: resume
	crashExecs     = 40
	crashTasks     = 3
	crashKillAfter = 30 // task runs logged before the kill
)

// TestCrashChild is the child process; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("runs only as the child process of TestSIGKILLResumesEveryExecution")
	}
	ctx := context.Background()
	gen := os.Getenv(crashGenEnv)
	bb, err := backbone.Open(ctx, backbone.Config{DataDir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := os.OpenFile(filepath.Join(dir, "runs.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	inv := &countingInvoker{gen: gen, log: runs}
	eng, err := New(ctx, Options{JS: bb.JS, Invoker: inv, Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	if gen == "1" {
		if _, err := eng.CreateMachine(ctx, MachineSpec{Name: "crash", Definition: `{"StartAt":"A","States":{
			"A":{"Type":"Task","Resource":"count","Next":"B"},
			"B":{"Type":"Task","Resource":"count","Next":"C"},
			"C":{"Type":"Task","Resource":"count","End":true}}}`}); err != nil {
			t.Fatal(err)
		}
		for i := range crashExecs {
			if _, err := eng.Start(ctx, StartInput{Machine: "crash", Name: fmt.Sprint("x", i), Input: json.RawMessage(`{"N":0}`)}); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Println("STARTED")
	}
	list, err := eng.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range list {
		if _, err := eng.Wait(ctx, x.ARN); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("FINISHED")
	_ = eng.Close(ctx)
	_ = bb.Close()
}

// countingInvoker logs "generation idempotency-key" for every run of the
// count function before doing its work, then adds one to N.
type countingInvoker struct {
	gen string
	log *os.File
}

func (c *countingInvoker) Invoke(ctx context.Context, _ string, req runtime.Request) (*invoke.Result, error) {
	// One write(2) per line with O_APPEND: lines do not interleave.
	if _, err := fmt.Fprintf(c.log, "%s %s\n", c.gen, req.Headers["Idempotency-Key"][0]); err != nil {
		return nil, err
	}
	// Real work takes time; this is the window the kill lands in.
	select {
	case <-time.After(3 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var in struct{ N int }
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]int{"N": in.N + 1})
	return &invoke.Result{Response: runtime.Response{Status: 200, Body: body}}, nil
}

// TestSIGKILLResumesEveryExecution proves by counting that a SIGKILL in
// the middle of many executions loses none of them and runs no completed
// Task twice, and that each Task in flight at the kill runs again with
// the same idempotency key.
func TestSIGKILLResumesEveryExecution(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()

	child := startCrashChild(t, dir, "1")
	waitForLine(t, child.out, "STARTED")
	logPath := filepath.Join(dir, "runs.log")
	eventually(t, "task runs before the kill", func() bool { return len(readRuns(t, logPath)) >= crashKillAfter })
	if err := child.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.cmd.Wait()
	runsAtKill := len(readRuns(t, logPath))

	// What the backbone holds after the kill: the Tasks whose outcome it
	// recorded, which must never run again.
	completed := completedTasks(t, filepath.Join(dir, "data"))
	if len(completed) >= crashExecs*crashTasks {
		t.Fatalf("every task had completed before the kill (%d); the kill came too late to test anything", len(completed))
	}

	child = startCrashChild(t, dir, "2")
	waitForLine(t, child.out, "FINISHED")
	if err := child.cmd.Wait(); err != nil {
		t.Fatalf("resumed child: %v", err)
	}

	byKey := map[string]map[string]int{} // key -> generation -> runs
	for _, r := range readRuns(t, logPath) {
		if byKey[r[1]] == nil {
			byKey[r[1]] = map[string]int{}
		}
		byKey[r[1]][r[0]]++
	}
	if len(byKey) != crashExecs*crashTasks {
		t.Fatalf("%d distinct tasks ran, want %d", len(byKey), crashExecs*crashTasks)
	}
	rerun := 0
	for k, gens := range byKey {
		if gens["1"] > 1 || gens["2"] > 1 {
			t.Errorf("task %s ran %v times in one process", k, gens)
		}
		if completed[k] && gens["2"] > 0 {
			t.Errorf("task %s completed before the kill and ran again after it", k)
		}
		if gens["1"] == 1 && !completed[k] {
			if gens["2"] != 1 {
				t.Errorf("task %s was in flight at the kill and did not run again with its key", k)
			}
			rerun++
		}
	}
	t.Logf("%d task runs before the kill, %d tasks completed then, %d in flight ran again", runsAtKill, len(completed), rerun)

	// Every execution finished, with every Task's effect counted once.
	bb, err := backbone.Open(context.Background(), backbone.Config{DataDir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	eng, err := New(context.Background(), Options{JS: bb.JS, Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	list, err := eng.List(context.Background(), Filter{})
	if err != nil || len(list) != crashExecs {
		t.Fatalf("%d executions, %v", len(list), err)
	}
	for _, x := range list {
		if x.Status != workflow.StatusSucceeded || string(x.Output) != `{"N":3}` {
			t.Errorf("%s ended %s with %s", x.Name, x.Status, x.Output)
		}
	}
}

type crashChild struct {
	cmd *exec.Cmd
	out *bufio.Scanner
}

func startCrashChild(t *testing.T, dir, gen string) crashChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashGenEnv+"="+gen)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return crashChild{cmd: cmd, out: bufio.NewScanner(out)}
}

func waitForLine(t *testing.T, s *bufio.Scanner, want string) {
	t.Helper()
	for s.Scan() {
		if strings.TrimSpace(s.Text()) == want {
			return
		}
	}
	t.Fatalf("child ended before printing %s: %v", want, s.Err())
}

func readRuns(t *testing.T, path string) [][2]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for _, line := range strings.Split(string(data), "\n") {
		if gen, key, ok := strings.Cut(line, " "); ok {
			out = append(out, [2]string{gen, key})
		}
	}
	return out
}

// completedTasks reads every history on the backbone and returns the
// idempotency keys of the Tasks with a recorded outcome.
func completedTasks(t *testing.T, dataDir string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	bb, err := backbone.Open(ctx, backbone.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	store, err := workflow.NewJetStreamStore(ctx, bb.JS, workflow.JetStreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	done := map[string]bool{}
	for i := range crashExecs {
		arn := fmt.Sprintf("arn:aws:states:local:000000000000:execution:crash:x%d", i)
		events, err := store.Load(ctx, arn)
		if err != nil {
			t.Fatal(err)
		}
		scheduled := ""
		for _, ev := range events {
			switch ev.Type {
			case workflow.TaskScheduled:
				scheduled = arn + "/" + ev.Key
			case workflow.TaskSucceeded, workflow.TaskFailed:
				done[scheduled] = true
			}
		}
	}
	return done
}
