package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"golang.org/x/sys/unix"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/api/lambdaapi"
	"github.com/hearth-sh/hearth/internal/fnlog"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/process"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
)

// processNode starts a node with the wasm and process runtimes.
func processNode(t *testing.T) (*node.Node, *client.Client, *process.Runtime) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	pr, err := process.New(ctx, process.Config{DataDir: filepath.Join(dir, "process"), Logger: logger, InitTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("process sandbox on this host: %+v", pr.Sandbox())
	w, err := wasm.New(ctx, wasm.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: the node (registered by startNode)
	// stops before the runtimes close.
	t.Cleanup(func() { _ = w.Close(ctx) })
	t.Cleanup(func() { _ = pr.Close(ctx) })
	n, c := startNode(t, node.Config{DataDir: filepath.Join(dir, "node"),
		Runtimes: map[string]runtime.Runtime{"wasm": w, "process": pr}})
	return n, c, pr
}

// buildLambda builds a Go Lambda function, as a user would for the
// provided.al2023 runtime, and zips it as a deployment package.
func buildLambda(t *testing.T, pkgDir string) []byte {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), ".")
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkgDir, err, out)
	}
	b, err := process.ZipDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// zipOf makes a package from name → (mode, content) entries.
func zipOf(t *testing.T, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		hdr.SetMode(e.mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, e.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zipEntry struct {
	name string
	mode os.FileMode
	body string
}

func shellPackage(t *testing.T, body string) []byte {
	return zipOf(t, zipEntry{"bootstrap", 0o755, "#!/bin/bash\n" + body})
}

// descendants counts the live (not zombie) processes below this test
// process. The test process is made a child subreaper so that orphans
// stay below it instead of escaping to init.
func descendants(t *testing.T) int {
	t.Helper()
	parent := map[int]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) < 2 || fields[0] == "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		parent[pid] = ppid
	}
	self, n := os.Getpid(), 0
	for pid := range parent {
		for p, hops := parent[pid], 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if p == self {
				n++
				break
			}
		}
	}
	return n
}

func invokeJSON(t *testing.T, c *client.Client, name string, event any) (*client.InvokeResult, error) {
	t.Helper()
	b, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	return c.Invoke(context.Background(), name, b)
}

func wantAPIError(t *testing.T, err error, status int, code, inMsg string) {
	t.Helper()
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != status || apiErr.Code != code || !strings.Contains(apiErr.Message, inMsg) {
		t.Fatalf("err = %v, want %d %s containing %q", err, status, code, inMsg)
	}
}

// TestProcessLambda runs a real aws-lambda-go function, unmodified, on a
// node: success, its environment and context, returned errors, panics,
// deadlines, timeouts, large payloads, logs and crashes.
func TestProcessLambda(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("become a subreaper: %v", err)
	}
	_, c, pr := processNode(t)
	pkg := buildLambda(t, "testdata/lambda/behave")
	// GOMEMLIMIT, as AWS advises for Go functions, keeps the Go collector
	// ahead of the 64 MB limit when the machine is busy: without it a few
	// megabytes of garbage from one large payload, collected late, plus the
	// next one's copies sometimes reached the limit (the kernel's kill, not
	// the response limit the test asks about).
	deploy(t, c, "behave", client.FunctionConfig{Runtime: "process", Handler: "bootstrap", MemoryMB: 64,
		Timeout: client.Duration(2 * time.Second), Env: map[string]string{"GREETING": "hi", "GOMEMLIMIT": "40MiB"}}, pkg)

	t.Run("success cold then warm", func(t *testing.T) {
		first, err := invokeJSON(t, c, "behave", map[string]string{"action": "echo", "data": "one"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(first.Body), `"data":"one"`) {
			t.Fatalf("echo answered %s", first.Body)
		}
		second, err := invokeJSON(t, c, "behave", map[string]string{"action": "echo", "data": "two"})
		if err != nil {
			t.Fatal(err)
		}
		if second.Cold || !strings.Contains(string(second.Body), `"data":"two"`) {
			t.Fatalf("second: cold=%v %s, want a warm answer", second.Cold, second.Body)
		}
	})

	t.Run("environment and context", func(t *testing.T) {
		res, err := invokeJSON(t, c, "behave", map[string]string{"action": "info"})
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			RequestID     string            `json:"request_id"`
			FunctionARN   string            `json:"function_arn"`
			TraceID       string            `json:"trace_id"`
			Hostname      string            `json:"hostname"`
			UID           int               `json:"uid"`
			DeadlineInMs  int64             `json:"deadline_in_ms"`
			Env           map[string]string `json:"env"`
			WriteTaskRoot string            `json:"write_task_root"`
			WriteTmp      string            `json:"write_tmp"`
		}
		if err := json.Unmarshal(res.Body, &info); err != nil {
			t.Fatalf("%v: %s", err, res.Body)
		}
		checks := map[string]bool{
			"request id":    info.RequestID == res.RequestID,
			"function name": info.Env["AWS_LAMBDA_FUNCTION_NAME"] == "behave",
			"version":       info.Env["AWS_LAMBDA_FUNCTION_VERSION"] == "1",
			"memory":        info.Env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "64",
			"handler":       info.Env["_HANDLER"] == "bootstrap",
			"user env":      info.Env["GREETING"] == "hi",
			"region":        info.Env["AWS_REGION"] != "",
			"runtime api":   info.Env["AWS_LAMBDA_RUNTIME_API"] != "",
			"arn":           strings.HasSuffix(info.FunctionARN, ":function:behave"),
			"trace id":      strings.HasPrefix(info.TraceID, "Root=1-"),
			// The guest's X-Ray header is the invocation's W3C trace.
			"trace joined":      res.TraceID == "" || strings.HasPrefix(info.TraceID, "Root=1-"+res.TraceID[:8]+"-"+res.TraceID[8:]+";"),
			"deadline":          info.DeadlineInMs > 0 && info.DeadlineInMs <= 2000,
			"task root written": info.WriteTaskRoot != "ok",
			"tmp written":       info.WriteTmp == "ok",
		}
		if pr.Sandbox().Namespaces {
			checks["task root"] = info.Env["LAMBDA_TASK_ROOT"] == "/var/task"
			checks["own uid"] = info.UID != 0
			checks["own hostname"] = info.Hostname == "hearth"
		}
		for what, ok := range checks {
			if !ok {
				t.Errorf("%s: wrong in %s", what, res.Body)
			}
		}
	})

	t.Run("returned error", func(t *testing.T) {
		res, err := invokeJSON(t, c, "behave", map[string]string{"action": "error"})
		if err != nil {
			t.Fatal(err)
		}
		if res.FunctionError == "" || !strings.Contains(string(res.Body), "failed on purpose") {
			t.Fatalf("function error %q body %s", res.FunctionError, res.Body)
		}
	})

	t.Run("panic is a function error, then the function recovers", func(t *testing.T) {
		res, err := invokeJSON(t, c, "behave", map[string]string{"action": "panic"})
		if err != nil {
			t.Fatal(err)
		}
		if res.FunctionError == "" || !strings.Contains(string(res.Body), "panicked on purpose") {
			t.Fatalf("panic: function error %q body %s", res.FunctionError, res.Body)
		}
		// aws-lambda-go exits after reporting a panic; the next event
		// gets a fresh process.
		if res, err := invokeJSON(t, c, "behave", map[string]string{"action": "echo", "data": "after"}); err != nil || !strings.Contains(string(res.Body), "after") {
			t.Fatalf("after panic: %v %v", res, err)
		}
	})

	t.Run("context deadline is honoured", func(t *testing.T) {
		res, err := invokeJSON(t, c, "behave", map[string]string{"action": "deadline"})
		// The function gives up at its deadline, racing hearth's own kill:
		// either answer is right, a hang is not.
		if err != nil {
			wantAPIError(t, err, 504, "function_timeout", "timed out")
			return
		}
		if !strings.Contains(string(res.Body), "deadline exceeded") {
			t.Fatalf("deadline: %s", res.Body)
		}
	})

	t.Run("timeout kills and replaces the process", func(t *testing.T) {
		_, err := invokeJSON(t, c, "behave", map[string]string{"action": "hang"})
		wantAPIError(t, err, 504, "function_timeout", "killed")
		if _, err := invokeJSON(t, c, "behave", map[string]string{"action": "echo"}); err != nil {
			t.Fatalf("after a timeout: %v", err)
		}
	})

	t.Run("large payload", func(t *testing.T) {
		data := strings.Repeat("y", 5<<20)
		res, err := invokeJSON(t, c, "behave", map[string]string{"action": "echo", "data": data})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Body) < 5<<20 || !bytes.Contains(res.Body, []byte(data[:1000])) {
			t.Fatalf("large echo: %d bytes back", len(res.Body))
		}
	})

	t.Run("response too large", func(t *testing.T) {
		// Just over the 6 MB response limit.
		_, err := invokeJSON(t, c, "behave", map[string]any{"action": "big", "size": 6<<20 + 1024})
		wantAPIError(t, err, 500, "response_too_large", "too large")
	})

	t.Run("logs line by line", func(t *testing.T) {
		res, err := invokeJSON(t, c, "behave", map[string]string{"action": "log"})
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "both log lines", func() bool {
			entries, err := c.Logs(context.Background(), "behave", 50)
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			for _, e := range entries {
				if e.RequestID == res.RequestID && (e.Stream+e.Message == "stdoutto stdout" || e.Stream+e.Message == "stderrto stderr") {
					seen++
				}
			}
			return seen == 2
		})
	})

	t.Run("exit between invocations", func(t *testing.T) {
		if _, err := invokeJSON(t, c, "behave", map[string]string{"action": "exit"}); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the next invocation to succeed on a fresh process", func() bool {
			res, err := invokeJSON(t, c, "behave", map[string]string{"action": "echo", "data": "again"})
			if err != nil {
				t.Fatalf("after exit: %v", err)
			}
			return strings.Contains(string(res.Body), "again")
		})
	})

	t.Run("forks children and exits: all killed", func(t *testing.T) {
		deploy(t, c, "forker", client.FunctionConfig{Runtime: "process", Timeout: client.Duration(2 * time.Second)}, pkg)
		before := descendants(t)
		_, err := invokeJSON(t, c, "forker", map[string]any{"action": "fork", "children": 3})
		wantAPIError(t, err, 500, "function_crashed", "status 3")
		if after := descendants(t); after != before {
			t.Fatalf("%d processes below the test before, %d after: leaked children", before, after)
		}
	})

	t.Run("memory limit", func(t *testing.T) {
		if pr.Sandbox().Cgroup == process.CgroupNone {
			t.Skip("no cgroup on this host: memory is not limited")
		}
		_, err := invokeJSON(t, c, "behave", map[string]any{"action": "alloc", "size": 200})
		wantAPIError(t, err, 500, "function_out_of_memory", "memory")
	})

	if res, err := invokeJSON(t, c, "behave", map[string]string{"action": "echo", "data": "end"}); err != nil || !strings.Contains(string(res.Body), "end") {
		t.Fatalf("after everything: %v %v", res, err)
	}
}

// TestProcessBadInput: bad packages are refused with what to fix; bad
// processes fail their invocation clearly, leave no process behind, and the
// node keeps working.
func TestProcessBadInput(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("become a subreaper: %v", err)
	}
	_, c, pr := processNode(t)
	ctx := context.Background()
	cfg := client.FunctionConfig{Runtime: "process", Timeout: client.Duration(time.Second)}
	// A child that leaves the process group (setsid) is caught only by a
	// PID namespace or a cgroup; without either hearth cannot find it.
	escapee := "setsid sleep 1000 &\n"
	if sb := pr.Sandbox(); !sb.Namespaces && sb.Cgroup == process.CgroupNone {
		t.Logf("no PID namespace and no cgroup here: not testing a child that leaves its process group")
		escapee = ""
	}

	packages := []struct {
		name     string
		artifact []byte
		wantMsg  string
	}{
		{"not a zip", []byte("#!/bin/sh\necho hi\n"), "not a zip"},
		{"zip slip", zipOf(t, zipEntry{"../../evil", 0o755, "x"}, zipEntry{"bootstrap", 0o755, "#!/bin/sh\n"}), "escapes"},
		{"absolute path", zipOf(t, zipEntry{"/etc/evil", 0o644, "x"}), "escapes"},
		{"symlink out", zipOf(t, zipEntry{"bootstrap", 0o777 | os.ModeSymlink, "../../../../bin/sh"}), "outside the package"},
		{"missing bootstrap", zipOf(t, zipEntry{"main.py", 0o644, "print(1)"}), "no bootstrap"},
		{"bootstrap not executable", zipOf(t, zipEntry{"bootstrap", 0o644, "#!/bin/sh\n"}), "not executable"},
	}
	for _, tt := range packages {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Deploy(ctx, "badpkg", cfg, tt.artifact)
			wantAPIError(t, err, 422, "invalid_artifact", tt.wantMsg)
		})
	}
	if _, err := c.Get(ctx, "badpkg"); !client.IsNotFound(err) {
		t.Fatalf("an invalid package was stored: %v", err)
	}

	before := descendants(t)
	processes := []struct {
		name, script, wantCode, wantMsg string
	}{
		{"exits at once", "exit 4\n", "function_init_failed", "status 4"},
		{"never calls next", "exec sleep 1000\n", "function_init_failed", "did not ask for an event"},
		{"garbage to the runtime api", `exec 3<>/dev/tcp/${AWS_LAMBDA_RUNTIME_API%:*}/${AWS_LAMBDA_RUNTIME_API#*:}
printf 'GARBAGE\r\n\x00\xff\r\n\r\n' >&3
cat <&3 >/dev/null
exit 1
`, "function_init_failed", "status 1"},
		{"forks children and exits", "sleep 1000 &\nsleep 1000 &\n" + escapee + "exit 0\n", "function_init_failed", "status 0"},
	}
	for _, tt := range processes {
		t.Run(tt.name, func(t *testing.T) {
			deploy(t, c, "bad", cfg, shellPackage(t, tt.script))
			_, err := c.Invoke(ctx, "bad", []byte(`{}`))
			wantAPIError(t, err, 500, tt.wantCode, tt.wantMsg)
		})
	}
	if after := descendants(t); after != before {
		t.Fatalf("%d processes below the test before the bad processes, %d after: leaked", before, after)
	}
	deploy(t, c, "fine", cfg, shellPackage(t, `api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  id=$(curl -s -D - -o /tmp/event "$api/invocation/next" | tr -d '\r' | sed -n 's/^Lambda-Runtime-Aws-Request-Id: //ip')
  curl -s -X POST --data-binary @/tmp/event "$api/invocation/$id/response" >/dev/null
done
`))
	if res, err := c.Invoke(ctx, "fine", []byte(`{"still":"working"}`)); err != nil || string(res.Body) != `{"still":"working"}` {
		t.Fatalf("a shell custom runtime after the bad ones: %v %v", res, err)
	}
}

// waitUntil polls cond: log lines travel through a pipe, so they may trail
// the response they belong to by a moment.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// clientLogs serves the Lambda API's log tail from the node's log API.
type clientLogs struct{ c *client.Client }

func (l clientLogs) Tail(function string, n int) []fnlog.Entry {
	entries, err := l.c.Logs(context.Background(), function, n)
	if err != nil {
		return nil
	}
	out := make([]fnlog.Entry, len(entries))
	for i, e := range entries {
		out[i] = fnlog.Entry{Time: e.Time, Function: e.Function, Version: e.Version, RequestID: e.RequestID, Stream: e.Stream, Message: e.Message}
	}
	return out
}

// TestLambdaInvokeAPIOnANode: the official AWS SDK's Invoke runs a real
// aws-lambda-go function on the process runtime and a wasm function alike.
func TestLambdaInvokeAPIOnANode(t *testing.T) {
	n, c, _ := processNode(t)
	deploy(t, c, "behave", client.FunctionConfig{Runtime: "process", Timeout: client.Duration(time.Second)}, buildLambda(t, "testdata/lambda/behave"))
	deploy(t, c, "hello", client.FunctionConfig{}, build(t, "../../examples/hello"))
	api := lambdaapi.New(lambdaapi.Config{Invoker: n, Logs: clientLogs{c}})
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = api.Close(context.Background()) })
	sdk := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "hearth", SecretAccessKey: "hearth"}, nil
		})})
	ctx := context.Background()

	tests := []struct {
		name, function, payload string
		logType                 types.LogType
		wantFuncError, want     string
	}{
		{"process success", "behave", `{"action":"echo","data":"sdk"}`, "", "", `"data":"sdk"`},
		{"process error", "behave", `{"action":"error"}`, "", "Unhandled", `"errorType":"errorString"`},
		{"process panic with stack", "behave", `{"action":"panic"}`, "", "Unhandled", `"stackTrace"`},
		{"process timeout", "behave", `{"action":"hang"}`, "", "Unhandled", `"errorType":"Sandbox.Timedout"`},
		{"process log tail", "behave", `{"action":"log"}`, types.LogTypeTail, "", `"logged"`},
		{"wasm success", "hello", `{"name":"sdk"}`, "", "", `hello, sdk`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := sdk.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(tt.function), Payload: []byte(tt.payload), LogType: tt.logType})
			if err != nil {
				t.Fatal(err)
			}
			if out.StatusCode != 200 || aws.ToString(out.FunctionError) != tt.wantFuncError || !strings.Contains(string(out.Payload), tt.want) {
				t.Fatalf("got %d %q %s, want 200 %q %s", out.StatusCode, aws.ToString(out.FunctionError), out.Payload, tt.wantFuncError, tt.want)
			}
			if tt.logType == types.LogTypeTail {
				tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
				if !strings.Contains(string(tail), "REPORT RequestId:") {
					t.Fatalf("log tail %q", tail)
				}
			}
		})
	}
	_, err := sdk.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("missing")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("unknown function: %v, want ResourceNotFoundException", err)
	}
	out, err := sdk.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("behave"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"action":"log"}`)})
	if err != nil || out.StatusCode != 202 {
		t.Fatalf("event: %v %v, want 202", out, err)
	}
	if err := api.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestProcessPoolSemantics: min-warm provisions a process before the first
// invocation, and concurrent invocations get processes of their own.
func TestProcessPoolSemantics(t *testing.T) {
	n, c, _ := processNode(t)
	pkg := buildLambda(t, "testdata/lambda/behave")
	deploy(t, c, "warm", client.FunctionConfig{Runtime: "process", Concurrency: 2, MinWarm: 1}, pkg)
	waitUntil(t, "a provisioned (warm) first invocation", func() bool {
		res, err := invokeJSON(t, c, "warm", map[string]string{"action": "echo"})
		if err != nil {
			t.Fatal(err)
		}
		return !res.Cold
	})

	// Two overlapping invocations need two processes; both then stay warm.
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() {
			_, err := invokeJSON(t, c, "warm", map[string]any{"action": "sleep", "size": 500})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(n.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `hearth_instances{function="warm",state="idle",version="1"} 2`; !bytes.Contains(metrics, []byte(want)) {
		t.Fatalf("metrics lack %s:\n%s", want, grepLines(metrics, "hearth_instances"))
	}
}

func grepLines(b []byte, substr string) string {
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
