package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/telemetry"
	"github.com/hearth-sh/hearth/internal/web"
)

// browserTools finds Chromium, Node.js and playwright-core (installed by
// .ci/browser.sh). Without them the test skips, except in CI
// (HEARTH_CI=1), where a missing browser is a broken setup.
func browserTools(t *testing.T) (chromium, nodeBin, nodePath string) {
	t.Helper()
	missing := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...) + "; run .ci/browser.sh to install it"
		if os.Getenv("HEARTH_CI") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	chromium = os.Getenv("HEARTH_CHROMIUM")
	if chromium == "" {
		chromium = "chromium"
	}
	chromium, err := exec.LookPath(chromium)
	if err != nil {
		missing("no Chromium (Debian package chromium): %v", err)
	}
	nodeBin, err = exec.LookPath("node")
	if err != nil {
		missing("no Node.js to run playwright-core: %v", err)
	}
	dir := os.Getenv("HEARTH_BROWSER_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			missing("no home directory to find playwright-core in (set HEARTH_BROWSER_DIR): %v", err)
		}
		dir = filepath.Join(home, ".cache", "hearth-browser")
	}
	nodePath = filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(nodePath, "playwright-core", "package.json")); err != nil {
		missing("no playwright-core under %s", nodePath)
	}
	return chromium, nodeBin, nodePath
}

// dashboardSeen is what testdata/dashboard/drive.cjs reports.
type dashboardSeen struct {
	ConsoleErrors     []string          `json:"consoleErrors"`
	Screenshots       []string          `json:"screenshots"`
	Title             string            `json:"title"`
	Row               []string          `json:"row"`
	Headers           []string          `json:"headers"`
	ColdPct           string            `json:"coldPct"`
	PoolSeries        []string          `json:"poolSeries"`
	Hash              string            `json:"hash"`
	Heading           string            `json:"heading"`
	Waterfall         [][]segment       `json:"waterfall"`
	Legend            []string          `json:"legend"`
	Histogram         int               `json:"histogram"`
	AskedForToken     bool              `json:"askedForToken"`
	ErrorsBeforeToken []string          `json:"errorsBeforeToken"`
	Execution         []string          `json:"execution"`
	Graph             map[string]string `json:"graph"`
	Edges             int               `json:"edges"`
	DeadLetters       string            `json:"deadLetters"`
	Traces            int               `json:"traces"`
	Spans             []string          `json:"spans"`
}

type segment struct {
	Phase string  `json:"phase"`
	X     float64 `json:"x"`
	Width float64 `json:"width"`
}

// TestDashboardInBrowser deploys and invokes hello on a real node, then
// opens the dashboard in headless Chromium behind a token: the page asks
// for the token, the functions table shows hello with its cold-start
// percentage, its page shows the five-phase waterfall and the latency
// histogram, a workflow execution shows its coloured state graph, and a
// trace its spans; with no console errors anywhere.
func TestDashboardInBrowser(t *testing.T) {
	chromium, nodeBin, nodePath := browserTools(t)
	n, c := startNode(t, node.Config{})

	// Until node.Config wires a dashboard in (the Recorder on the dispatcher
	// and the routes on the API), the test builds one beside the node: it
	// lists the node's functions, reads pool sizes and traces from the
	// node's API, and records the invocations the client makes.
	// The workflow engine is not on the node yet either: a fixed execution of
	// examples/workflows/order-check checks the graph.
	def, err := os.ReadFile("../../examples/workflows/order-check.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	execution := web.ExecutionDetail{
		Execution:  web.Execution{ID: "arn:hearth:states:local:execution:order-check/o-1", Name: "o-1", Machine: "order-check", Status: "RUNNING", Start: time.Now()},
		Definition: def,
		States:     map[string]string{"Normalize": web.StateSucceeded, "Route": web.StateSucceeded, "Large": web.StateRunning},
	}
	dash := web.New(web.Options{Functions: n, Pools: metricsPools(t, n.URL()),
		PoolEvery: 100 * time.Millisecond, Traces: &apiTraces{base: n.URL()}, Workflows: oneExecution{execution}})
	t.Cleanup(dash.Close)
	mux := http.NewServeMux()
	dash.Register(mux)
	nodeURL, err := url.Parse(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", httputil.NewSingleHostReverseProxy(nodeURL))
	// The token check the API makes, with the page itself public (as
	// web.PublicPath says) so that it can ask for the token.
	const token = "s3cret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !web.PublicPath(r.URL.Path) && r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, `{"error":{"code":"unauthorized","message":"a token is required"}}`, http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	deploy(t, c, "hello", client.FunctionConfig{}, build(t, "../../examples/hello"))
	var cold, total int
	for i := range 4 {
		res := invoke(t, c, "hello", fmt.Sprintf(`{"name":"n%d"}`, i))
		dash.Record(invocationOf("hello", res))
		total++
		if res.Cold {
			cold++
		}
	}
	if cold == 0 {
		t.Fatal("no invocation cold-started: there is no waterfall to look at")
	}

	shots := os.Getenv("HEARTH_SCREENSHOTS") // set to keep the screenshots
	if shots == "" {
		shots = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "testdata/dashboard/drive.cjs")
	cmd.Env = append(os.Environ(), "DASHBOARD_URL="+srv.URL+"/", "SCREENSHOT_DIR="+shots,
		"CHROMIUM="+chromium, "FUNCTION=hello", "TOKEN="+token, "NODE_PATH="+nodePath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("drive the dashboard: %v\n%s", err, stderr.String())
	}
	var seen dashboardSeen
	if err := json.Unmarshal(stdout.Bytes(), &seen); err != nil {
		t.Fatalf("read the browser's report %q: %v", stdout.String(), err)
	}
	t.Logf("screenshots: %s", strings.Join(seen.Screenshots, ", "))

	if len(seen.ConsoleErrors) > 0 {
		t.Errorf("console errors: %q", seen.ConsoleErrors)
	}
	if want := fmt.Sprintf("%.1f%%", 100*float64(cold)/float64(total)); seen.ColdPct != want {
		t.Errorf("cold starts of hello in the table = %q, want %q (row %q)", seen.ColdPct, want, seen.Row)
	}
	if len(seen.Row) == 0 || seen.Row[0] != "hello" || seen.Row[len(seen.Row)-1] != strconv.Itoa(total) {
		t.Errorf("functions table row = %q, want hello with %d invocations in all", seen.Row, total)
	}
	for _, h := range []string{"Rate", "Errors", "p50", "p99", "Cold starts"} {
		if !contains(seen.Headers, h) {
			t.Errorf("functions table headers %q lack %q", seen.Headers, h)
		}
	}
	if len(seen.PoolSeries) != 3 {
		t.Errorf("pool chart of hello draws %q, want warm, busy and provisioned", seen.PoolSeries)
	}
	if seen.Hash != "#/functions/hello" || !strings.HasPrefix(seen.Heading, "hello") {
		t.Errorf("after clicking hello: at %q with heading %q", seen.Hash, seen.Heading)
	}
	if len(seen.Waterfall) != cold {
		t.Fatalf("waterfall has %d cold starts, want %d", len(seen.Waterfall), cold)
	}
	for i, row := range seen.Waterfall {
		var names []string
		end := 0.0
		for _, s := range row {
			names = append(names, s.Phase)
			if s.X+0.01 < end {
				t.Errorf("cold start %d: phase %s starts at %.2f, before the previous phase ends (%.2f)", i, s.Phase, s.X, end)
			}
			end = s.X + s.Width
		}
		if strings.Join(names, ",") != strings.Join(web.Phases[:], ",") {
			t.Errorf("cold start %d shows phases %q, want %q in order", i, names, web.Phases)
		}
	}
	if strings.Join(seen.Legend, ",") != strings.Join(web.Phases[:], ",") {
		t.Errorf("waterfall legend = %q", seen.Legend)
	}
	if seen.Histogram != total {
		t.Errorf("latency histogram counts %d invocations, want %d", seen.Histogram, total)
	}
	if !seen.AskedForToken {
		t.Error("the page did not ask for the API token")
	}
	for _, e := range seen.ErrorsBeforeToken {
		if !strings.Contains(e, "401") {
			t.Errorf("console error before the token was given: %q", e)
		}
	}
	if len(seen.Execution) < 3 || seen.Execution[0] != "o-1" || seen.Execution[2] != "RUNNING" {
		t.Errorf("workflows table row = %q, want o-1 RUNNING", seen.Execution)
	}
	wantGraph := map[string]string{"Normalize": "succeeded", "Route": "succeeded", "Large": "running",
		"Small": "unreached", "Empty": "unreached", "Done": "unreached"}
	if fmt.Sprint(seen.Graph) != fmt.Sprint(wantGraph) {
		t.Errorf("state graph colours = %v, want %v", seen.Graph, wantGraph)
	}
	if seen.Edges != 6 { // Normalize→Route, Route→Large|Empty|Small, Large→Done, Small→Done
		t.Errorf("state graph has %d transitions, want 6", seen.Edges)
	}
	if !strings.Contains(seen.DeadLetters, "does not report its dead-letter queue") {
		t.Errorf("dead-letter view without a source says %q", seen.DeadLetters)
	}
	if seen.Traces == 0 || len(seen.Spans) == 0 {
		t.Errorf("traces view lists %d traces, the newest with spans %q; hello was invoked %d times", seen.Traces, seen.Spans, total)
	}
	for _, p := range seen.Screenshots {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("screenshot %s: %v", p, err)
		}
	}
}

// invocationOf turns what the client saw into what the dispatcher would
// report to a Recorder.
func invocationOf(fn string, res *client.InvokeResult) telemetry.Invocation {
	inv := telemetry.Invocation{Time: time.Now(), Function: fn, Version: res.Version, RequestID: res.RequestID,
		Cold: res.Cold, Phases: map[string]time.Duration{}, Outcome: "success"}
	for _, p := range res.Phases {
		inv.Phases[p.Name] = p.Duration
	}
	inv.Duration = inv.Phases["handler"]
	if res.FunctionError != "" {
		inv.Outcome = "error"
	}
	return inv
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// instancesLine matches a hearth_instances sample of the Prometheus text format.
var instancesLine = regexp.MustCompile(`^hearth_instances\{function="([^"]+)",state="([a-z]+)"\} ([0-9.e+]+)$`)

// metricsPools reads pool sizes from the node's /metrics, the one place the
// node exposes them outside its process.
func metricsPools(t *testing.T, base string) func() []telemetry.PoolGauge {
	return func() []telemetry.PoolGauge {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Logf("read pool sizes: %v", err)
			return nil
		}
		defer resp.Body.Close()
		byFn := map[string]*telemetry.PoolGauge{}
		var order []string
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			m := instancesLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			g := byFn[m[1]]
			if g == nil {
				g = &telemetry.PoolGauge{Function: m[1]}
				byFn[m[1]] = g
				order = append(order, m[1])
			}
			v, _ := strconv.ParseFloat(m[3], 64)
			switch m[2] {
			case "idle":
				g.Idle = int(v)
			case "busy":
				g.Busy = int(v)
			case "provisioned":
				g.Provisioned = int(v)
			}
		}
		out := make([]telemetry.PoolGauge, 0, len(order))
		for _, fn := range order {
			out = append(out, *byFn[fn])
		}
		return out
	}
}

// oneExecution is a web.WorkflowSource of one execution.
type oneExecution struct{ e web.ExecutionDetail }

func (o oneExecution) Executions(context.Context, int) ([]web.Execution, error) {
	return []web.Execution{o.e.Execution}, nil
}

func (o oneExecution) Execution(_ context.Context, id string) (web.ExecutionDetail, error) {
	if id != o.e.ID {
		return web.ExecutionDetail{}, fmt.Errorf("execution %s: %w", id, web.ErrNotFound)
	}
	return o.e, nil
}

// apiTraces is a web.TraceSource over the node's /v1/traces.
type apiTraces struct{ base string }

func (a *apiTraces) List(n int) []telemetry.Trace {
	var body struct {
		Traces []telemetry.Trace `json:"traces"`
	}
	if err := getJSON(a.base+"/v1/traces?limit="+strconv.Itoa(n), &body); err != nil {
		return nil
	}
	return body.Traces
}

func (a *apiTraces) Get(id string) (telemetry.Trace, bool) {
	var tr telemetry.Trace
	if err := getJSON(a.base+"/v1/traces/"+url.PathEscape(id), &tr); err != nil {
		return telemetry.Trace{}, false
	}
	return tr, true
}

func getJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
