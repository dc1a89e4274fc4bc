package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// hearthBinary builds the CLI once per test run.
func hearthBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hearth")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/hearth").CombinedOutput()
	if err != nil {
		t.Fatalf("build hearth: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// upProcess runs `hearth up` as its own process and waits until it serves.
func upProcess(t *testing.T, bin, data, addr string, extra ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"up", "--data", data, "--listen", addr}, extra...)...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for ; ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("hearth up did not serve within 60s:\n%s", out.String())
		}
	}
	// The node serves before up prints its greeting: wait for it too.
	for !strings.Contains(out.String(), "hearth deploy hello") {
		if time.Now().After(deadline) {
			t.Fatalf("hearth up did not say how to deploy a first function:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type cli struct {
	t   *testing.T
	bin string
	url string
	env []string
}

// run runs the CLI and returns stdout, stderr and whether it succeeded.
func (c cli) run(stdin string, args ...string) (string, string, bool) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = "../.." // so that ./examples/... resolves as in the README
	cmd.Env = append(append(os.Environ(), "HEARTH_URL="+c.url), c.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err == nil
}

func (c cli) ok(args ...string) string {
	c.t.Helper()
	out, errOut, ok := c.run("", args...)
	if !ok {
		c.t.Fatalf("hearth %s failed:\n%s%s", strings.Join(args, " "), out, errOut)
	}
	return out
}

// TestCLI walks the README's quick start with the real binary, then the
// error paths, then a restart.
func TestCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the hearth binary")
	}
	bin := hearthBinary(t)
	data := t.TempDir()
	addr := freePort(t)
	up := upProcess(t, bin, data, addr)
	h := cli{t: t, bin: bin, url: "http://" + addr}

	if out := h.ok("deploy", "hello", "./examples/hello"); !strings.Contains(out, "deployed hello version 1") {
		t.Fatalf("deploy: %s", out)
	}
	if out := h.ok("invoke", "hello", "--data", `{"name":"x"}`); strings.TrimSpace(out) != `{"message":"hello, x"}` {
		t.Fatalf("invoke: %q", out)
	}
	out, verbose, ok := h.run(`{"name":"stdin"}`, "invoke", "hello", "--data", "-", "--verbose")
	if !ok || !strings.Contains(out, "hello, stdin") || !strings.Contains(verbose, "warm") || !strings.Contains(verbose, "handler") {
		t.Fatalf("invoke --verbose from stdin: %q %q", out, verbose)
	}

	wasmFile := filepath.Join(t.TempDir(), "echo.wasm")
	if err := os.WriteFile(wasmFile, build(t, "../../examples/echo"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.ok("deploy", "echo", "--wasm", wasmFile, "--memory", "64MiB", "--timeout", "5s", "--concurrency", "3",
		"--min-warm", "1", "--keep-alive", "1m", "--env", "A=b")
	if out := h.ok("get", "echo"); !strings.Contains(out, `"memory_mb": 64`) || !strings.Contains(out, `"min_warm": 1`) || !strings.Contains(out, `"A": "b"`) {
		t.Fatalf("get echo: %s", out)
	}
	if out := h.ok("ls"); !strings.Contains(out, "hello") || !strings.Contains(out, "echo") {
		t.Fatalf("ls: %s", out)
	}
	resp, err := http.Post("http://"+addr+"/fn/echo/some/path?q=1", "text/plain", strings.NewReader("trigger body"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	hdr := resp.Header
	if resp.StatusCode != 200 || string(body) != "trigger body" || hdr.Get("X-Echo-Method") != "POST" ||
		hdr.Get("X-Echo-Path") != "/some/path" || hdr.Get("X-Echo-Query") != "q=1" || hdr.Get("Content-Type") != "text/plain" {
		t.Fatalf("HTTP trigger: %d %s %v", resp.StatusCode, body, hdr)
	}

	if out := h.ok("logs", "hello"); !strings.Contains(out, "END request=") {
		t.Fatalf("logs: %s", out)
	}
	follow := exec.Command(bin, "logs", "hello", "--follow", "--tail", "0")
	follow.Env = append(os.Environ(), "HEARTH_URL=http://"+addr)
	pipe, _ := follow.StdoutPipe()
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	h.ok("invoke", "hello", "--data", `{"name":"followed"}`)
	line, err := bufio.NewReader(pipe).ReadString('\n')
	_ = follow.Process.Kill()
	_ = follow.Wait()
	if err != nil || !strings.Contains(line, "hearth") {
		t.Fatalf("logs --follow: %q %v", line, err)
	}

	// Errors: a message that says what is wrong, and a non-zero exit.
	errCases := []struct {
		args []string
		want string
	}{
		{[]string{"invoke", "nope"}, "not found"},
		{[]string{"deploy", "Bad_Name", "--wasm", wasmFile}, "lower-case"},
		{[]string{"deploy", "x", "--wasm", wasmFile, "--memory", "lots"}, "--memory"},
		{[]string{"deploy", "x"}, "nothing to deploy"},
		{[]string{"invoke", "hello", "--data", "not json"}, "BadRequest"},
		{[]string{"rm", "nope"}, "not found"},
	}
	for _, ec := range errCases {
		out, errOut, ok := h.run("", ec.args...)
		if ok || !strings.Contains(out+errOut, ec.want) {
			t.Errorf("hearth %s: ok=%v out=%q err=%q, want failure mentioning %q", strings.Join(ec.args, " "), ok, out, errOut, ec.want)
		}
	}

	// State from the CLI: set, get, conditional writes, list, delete.
	etag := strings.TrimSpace(h.ok("state", "set", "default", "greeting/en", "hello"))
	if out := h.ok("state", "get", "default", "greeting/en"); strings.TrimSpace(out) != "hello" {
		t.Fatalf("state get: %q", out)
	}
	h.ok("state", "set", "default", "greeting/en", "hi", "--if-match", etag)
	if _, errOut, ok := h.run("", "state", "set", "default", "greeting/en", "stale", "--if-match", etag); ok || !strings.Contains(errOut, "etag") {
		t.Fatalf("stale --if-match: ok=%v %s", ok, errOut)
	}
	if out := h.ok("state", "ls", "default", "greeting/"); strings.TrimSpace(out) != "greeting/en" {
		t.Fatalf("state ls: %q", out)
	}
	h.ok("state", "rm", "default", "greeting/en")
	if _, errOut, ok := h.run("", "state", "get", "default", "greeting/en"); ok || !strings.Contains(errOut, "not found") {
		t.Fatalf("state get after rm: ok=%v %s", ok, errOut)
	}
	if _, errOut, ok := h.run("", "state", "get", "nostore", "k"); ok || !strings.Contains(errOut, "nostore") {
		t.Fatalf("unknown store: ok=%v %s", ok, errOut)
	}

	// Workflows from the CLI: create, start and wait, describe, history, ls, graph.
	h.ok("wf", "create", "greet", "examples/workflows/greet-jsonata.asl.json")
	if out := h.ok("wf", "start", "greet", "--name", "first", "--input", `{"names":["Ada"]}`, "--wait"); !strings.Contains(out, "SUCCEEDED") || !strings.Contains(out, "Hello, Ada!") {
		t.Fatalf("wf start --wait: %s", out)
	}
	if out := h.ok("wf", "ls", "greet"); !strings.Contains(out, "first") {
		t.Fatalf("wf ls: %s", out)
	}
	if out := h.ok("wf", "history", "greet", "first"); !strings.Contains(out, "ExecutionSucceeded") {
		t.Fatalf("wf history: %s", out)
	}
	if out := h.ok("wf", "graph", "examples/workflows/greet-jsonata.asl.json"); !strings.Contains(out, "Setup") {
		t.Fatalf("wf graph: %s", out)
	}
	if _, errOut, ok := h.run("", "wf", "start", "nope"); ok || !strings.Contains(strings.ToLower(errOut), "not exist") && !strings.Contains(errOut, "not found") {
		t.Fatalf("wf start of an unknown workflow: ok=%v %s", ok, errOut)
	}

	// A restart keeps what was deployed.
	_ = up.Process.Signal(os.Interrupt)
	_ = up.Wait()
	upProcess(t, bin, data, addr)
	if out := h.ok("invoke", "hello", "--data", `{"name":"again"}`); !strings.Contains(out, "hello, again") {
		t.Fatalf("after restart: %q", out)
	}
	if out := h.ok("rm", "hello"); !strings.Contains(out, "removed hello") {
		t.Fatalf("rm: %s", out)
	}
	if _, errOut, ok := h.run("", "get", "hello"); ok || !strings.Contains(errOut, "not found") {
		t.Fatalf("get after rm: %v %s", ok, errOut)
	}
}

func TestCLIRefusesPublicListenWithoutToken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the hearth binary")
	}
	bin := hearthBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "up", "--data", t.TempDir(), "--listen", "0.0.0.0:0")
	cmd.Env = append(os.Environ(), "HEARTH_TOKEN=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "token") {
		t.Fatalf("hearth up on 0.0.0.0 without a token: err=%v out=%s", err, out)
	}
}
