package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
	"github.com/hearth-sh/hearth/internal/web"
)

// chromiumPath finds Debian's Chromium (installed by .ci/browser.sh), or
// $HEARTH_CHROMIUM. Without it the test skips, except in CI (HEARTH_CI=1),
// where a missing browser is a broken setup.
func chromiumPath(t *testing.T) string {
	t.Helper()
	name := os.Getenv("HEARTH_CHROMIUM")
	if name == "" {
		name = "chromium"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("no Chromium to test the dashboard in (%v); run .ci/browser.sh to install Debian's chromium, or set HEARTH_CHROMIUM", err)
		if os.Getenv("HEARTH_CI") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// artifactDir is where screenshots go: $HEARTH_ARTIFACTS/dashboard when set
// (CI keeps them), else the test's temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("HEARTH_ARTIFACTS")
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, "dashboard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifact directory: %v", err)
	}
	return dir
}

// consoleWatch collects what the page reports as going wrong: console.error
// calls, uncaught exceptions, and the browser log's errors (failed requests
// among them).
//
// # Notes
//
// Until the token is given, the page's data requests fail with 401: that is
// how it learns that the node wants a token, and Chromium logs each failed
// request. Those (and only those) are kept apart in unauthorized; anything
// else, or any 401 after the token, is an error.
type consoleWatch struct {
	mu           sync.Mutex
	tokenGiven   bool
	unauthorized []string
	errors       []string
}

// observe is a chromedp.Listen func: it runs on the loop that reads the
// tab's messages, so it only files the event.
func (w *consoleWatch) observe(ev any) {
	var msg string
	unauthorized := false
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var args []string
		for _, a := range ev.Args {
			if a.Description != "" {
				args = append(args, a.Description)
			} else {
				args = append(args, string(a.Value))
			}
		}
		msg = "console.error: " + strings.Join(args, " ")
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg = fmt.Sprintf("exception: %s at %s:%d", d.Text, d.URL, d.LineNumber)
		if d.Exception != nil {
			msg += ": " + d.Exception.Description
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Level != log.EntryLevelError {
			return
		}
		msg = fmt.Sprintf("log (%s): %s %s", e.Source, e.Text, e.URL)
		unauthorized = e.Source == log.EntrySourceNetwork && strings.Contains(e.Text, "401") &&
			strings.Contains(e.URL, "/v1/dashboard/")
	default:
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if unauthorized && !w.tokenGiven {
		w.unauthorized = append(w.unauthorized, msg)
		return
	}
	w.errors = append(w.errors, msg)
}

func (w *consoleWatch) giveToken() {
	w.mu.Lock()
	w.tokenGiven = true
	w.mu.Unlock()
}

func (w *consoleWatch) seen() (unauthorized, errs []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.unauthorized), slices.Clone(w.errors)
}

// browser is one headless Chromium tab on the dashboard.
type browser struct {
	t     *testing.T
	ctx   context.Context // the tab
	shots string
	saved []string
}

// stepTimeout bounds each wait: the page polls every 2 s, so anything it
// should show is there well within this.
const stepTimeout = 30 * time.Second

func openBrowser(t *testing.T, chromium string) (*browser, *consoleWatch) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		// The network is closed: do not try to reach Google's services.
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	watch := &consoleWatch{}
	// Listen starts the browser and opens the tab; it sees every event from
	// the first navigation on.
	if err := chromedp.Listen(ctx, watch.observe); err != nil {
		t.Fatalf("start Chromium (%s): %v", chromium, err)
	}
	return &browser{t: t, ctx: ctx, shots: artifactDir(t)}, watch
}

// do runs actions within stepTimeout, failing the test with what was being
// done when they fail.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// waitFor polls the JavaScript expression until it is truthy (within
// stepTimeout) and returns its value: the wait and the reading are one, so
// what is checked is what was waited for.
func waitFor[T any](b *browser, what, expression string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expression, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0)))
	if err != nil {
		b.t.Fatalf("wait for %s: %v", what, err)
	}
	return v
}

// screenshot saves the whole page as name.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.saved = append(b.saved, path)
}

// TestDashboardInBrowser drives the node's own dashboard (at /, behind an
// API token) in headless Chromium, after real work through the API: hello
// invoked cold then warm, two executions of examples/workflows/order-check
// (one succeeds, one fails), and an async invocation of a function that
// always fails, dead-lettered. The page must ask for the token, then show
// the counts and cold-start percentage, the five-phase waterfall and the
// latency histogram, the pools, each execution's graph coloured by its
// progress, the dead letter and the cold start's trace; with no console
// errors anywhere.
func TestDashboardInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	const token = "e2e-dashboard-token"
	n, _ := startNode(t, node.Config{Token: token})
	c := client.New(n.URL(), client.WithToken(token))
	ctx := context.Background()

	// Chromium and the deploys first: both are slow on a busy machine (a
	// deploy compiles), and the invocations below must still be inside the
	// dashboard's one-minute window when the page looks at them.
	b, watch := openBrowser(t, chromium)
	defer func() { t.Logf("screenshots: %s", strings.Join(b.saved, ", ")) }()
	start := time.Now()
	noRetries := 0
	deploy(t, c, "flaky", client.FunctionConfig{Retries: &noRetries, Env: map[string]string{"GREETING": "hi"}},
		build(t, "testdata/misbehave"))
	deploy(t, c, "hello", client.FunctionConfig{}, build(t, "../../examples/hello"))
	t.Logf("deployed in %v", time.Since(start).Round(time.Millisecond))

	// Two executions of a real state machine: one takes the Large branch
	// and succeeds, one has no items and fails in Empty.
	def, err := os.ReadFile("../../examples/workflows/order-check.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateWorkflow(ctx, "order-check", def, ""); err != nil {
		t.Fatalf("create order-check: %v", err)
	}
	for _, x := range []struct{ name, input, status string }{
		{"o-large", `{"order":{"id":"o-1","total":120,"items":["a","b"]}}`, "SUCCEEDED"},
		{"o-empty", `{"order":{"id":"o-2","total":5,"items":[]}}`, "FAILED"},
	} {
		e, err := c.StartExecution(ctx, "order-check", client.StartOptions{Name: x.name, Input: []byte(x.input), Sync: true})
		if err != nil || e.Status != x.status {
			t.Fatalf("execution %s: %+v, %v; want %s", x.name, e, err, x.status)
		}
	}

	// flaky always fails, and has no retries: its async invocation lands in
	// the dead-letter queue after one attempt.
	dlID, err := c.InvokeAsync(ctx, "flaky", []byte("error"), "")
	if err != nil {
		t.Fatalf("async invoke flaky: %v", err)
	}
	waitUntil(t, "flaky's dead letter", func() bool {
		dls, err := c.DeadLetters(ctx, "flaky")
		return err == nil && len(dls) == 1 && dls[0].ID == dlID
	})

	// A function, cold then warm.
	const invocations = 4
	first := invoke(t, c, "hello", `{"name":"n0"}`)
	if !first.Cold {
		t.Fatal("the first invocation of hello was warm: there is no cold start to look at")
	}
	for i := 1; i < invocations; i++ {
		if res := invoke(t, c, "hello", fmt.Sprintf(`{"name":"n%d"}`, i)); res.Cold {
			t.Fatalf("invocation %d of hello was cold; one after another they reuse the warm instance", i+1)
		}
	}
	wantPhases := phaseNames(first) // provision, runtime, code, init or restore, handler
	t.Logf("invoked in %v", time.Since(start).Round(time.Millisecond))

	// The page is public; its data is not, so it asks for the token.
	b.do("open the dashboard and answer the token dialog",
		chromedp.Navigate(n.URL()+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token-dialog")),
		chromedp.SendKeys(chromedp.CSS("#token-input"), token),
	)
	b.screenshot("token")
	watch.giveToken()
	b.do("submit the token", chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)))

	checkFunctionsView(t, b)
	trace := checkFunctionPage(t, b, wantPhases, invocations)
	checkTrace(t, b, trace, wantPhases)
	checkWorkflows(t, b)
	checkDeadLetters(t, b, dlID)

	unauthorized, errs := watch.seen()
	if len(unauthorized) == 0 {
		t.Error("no data request was refused before the token was given: did the page ask for it on its own?")
	}
	for _, e := range errs {
		t.Errorf("page error: %s", e)
	}
}

// checkFunctionsView: the live table has hello with its counts and
// cold-start percentage, flaky with its error rate, and the pools view draws
// hello's warm, busy and provisioned instances.
func checkFunctionsView(t *testing.T, b *browser) {
	t.Helper()
	row := waitFor[[]string](b, "hello in the functions table", `(() => {
		const tr = document.querySelector('#functions tr[data-function="hello"]');
		return tr && [...tr.children].map((c) => c.textContent.trim());
	})()`)
	// Function, Version, Rate, Errors, p50, p99, Cold starts, Total.
	want := map[int]string{0: "hello", 1: "v1", 3: "0.0%", 6: strconv.FormatFloat(100.0/4, 'f', 1, 64) + "%", 7: "4"}
	if len(row) != 8 {
		t.Fatalf("hello's row = %q, want 8 cells", row)
	}
	for i, w := range want {
		if row[i] != w {
			t.Errorf("hello's row = %q: cell %d is %q, want %q", row, i, row[i], w)
		}
	}
	for _, i := range []int{2, 4, 5} { // rate, p50, p99
		if row[i] == "—" || row[i] == "" {
			t.Errorf("hello's row = %q: cell %d is empty although hello ran just now", row, i)
		}
	}
	headers := waitFor[[]string](b, "the table's headers", `[...document.querySelectorAll("#functions thead th")].map((th) => th.textContent)`)
	if want := []string{"Function", "Version", "Rate", "Errors", "p50", "p99", "Cold starts", "Total"}; !slices.Equal(headers, want) {
		t.Errorf("functions table headers = %q, want %q", headers, want)
	}
	flaky := waitFor[[]string](b, "flaky in the functions table", `(() => {
		const tr = document.querySelector('#functions tr[data-function="flaky"]');
		return tr && [...tr.children].map((c) => c.textContent.trim());
	})()`)
	if len(flaky) != 8 || flaky[3] != "100.0%" || flaky[7] != "1" {
		t.Errorf("flaky's row = %q, want 1 invocation, 100.0%% errors", flaky)
	}

	series := waitFor[[]string](b, "hello's pool chart", `(() => {
		const ps = [...document.querySelectorAll('[aria-labelledby="pool-hello"] path[data-series]')];
		return ps.length && ps.map((p) => p.dataset.series);
	})()`)
	if !slices.Equal(series, []string{"warm", "busy", "provisioned"}) {
		t.Errorf("hello's pool chart draws %q, want warm, busy and provisioned", series)
	}
	legend := waitFor[[]string](b, "hello's pool legend", `[...document.querySelectorAll('[aria-labelledby="pool-hello"] .legend li')].map((li) => li.textContent)`)
	if len(legend) != 3 || legend[0] == "warm (0)" || legend[1] != "busy (0)" {
		t.Errorf("hello's pool legend = %q, want its warm instance and none busy", legend)
	}
	b.screenshot("functions")
}

// checkFunctionPage follows hello's link: the waterfall shows the one cold
// start's five phases in order, the histogram counts every invocation. It
// returns the cold start's trace id.
func checkFunctionPage(t *testing.T, b *browser, wantPhases []string, invocations int) string {
	t.Helper()
	b.do("click hello", chromedp.Click(chromedp.CSS(`#functions tr[data-function="hello"] th a`)))
	heading := waitFor[string](b, "hello's page", `location.hash === "#/functions/hello" && document.querySelector("#waterfall g.cold-start") && document.querySelector("main h1").textContent`)
	if heading != "hello v1" {
		t.Errorf("hello's page heading = %q", heading)
	}
	type segment struct {
		Phase string  `json:"phase"`
		X     float64 `json:"x"`
		Width float64 `json:"width"`
	}
	rows := waitFor[[][]segment](b, "the waterfall", `[...document.querySelectorAll("#waterfall g.cold-start")].map((g) =>
		[...g.querySelectorAll("rect[data-phase]")].map((r) => ({
			phase: r.dataset.phase, x: Number(r.getAttribute("x")), width: Number(r.getAttribute("width")),
		})))`)
	if len(rows) != 1 {
		t.Fatalf("waterfall has %d cold starts, want hello's one", len(rows))
	}
	var names []string
	end := 0.0
	for _, s := range rows[0] {
		names = append(names, s.Phase)
		if s.Width <= 0 || s.X+0.01 < end {
			t.Errorf("phase %s at x=%.2f width %.2f: must be visible and start after the previous one ends (%.2f)", s.Phase, s.X, s.Width, end)
		}
		end = s.X + s.Width
	}
	if !slices.Equal(names, wantPhases) {
		t.Errorf("waterfall phases = %q, want %q as the API reported them", names, wantPhases)
	}
	if len(names) != len(web.Phases) {
		t.Errorf("waterfall shows %d phases, want %d", len(names), len(web.Phases))
	}
	legend := waitFor[[]string](b, "the waterfall's legend", `[...document.querySelectorAll("#waterfall .legend li")].map((li) => li.textContent)`)
	if !slices.Equal(legend, wantPhases) {
		t.Errorf("waterfall legend = %q, want %q", legend, wantPhases)
	}
	counted := waitFor[int](b, "the latency histogram", `[...document.querySelectorAll("#histogram g.bar")].reduce((n, g) => n + Number(g.dataset.count), 0)`)
	if counted != invocations {
		t.Errorf("latency histogram counts %d invocations, want %d", counted, invocations)
	}
	b.screenshot("function")

	// The table under the waterfall links the cold start to its trace.
	b.do("open the phase table", chromedp.Click(chromedp.CSS("#waterfall-table summary")))
	href := waitFor[string](b, "the cold start's trace link", `(() => {
		const a = document.querySelector('#waterfall-table a[href^="#/traces/"]');
		return a && a.checkVisibility() && a.getAttribute("href");
	})()`)
	return strings.TrimPrefix(href, "#/traces/")
}

// checkTrace lists the recent traces, then follows the cold start's trace
// link: its spans include the invocation and every cold-start phase.
func checkTrace(t *testing.T, b *browser, traceID string, wantPhases []string) {
	t.Helper()
	b.do("open the traces", chromedp.Click(chromedp.CSS(`nav a[data-section="traces"]`)))
	listed := waitFor[[]string](b, "the traces list", `(() => {
		const as = [...document.querySelectorAll('main tbody a[href^="#/traces/"]')];
		return document.querySelector("main h1").textContent === "Traces" && as.length && as.map((a) => a.getAttribute("href"));
	})()`)
	if !slices.Contains(listed, "#/traces/"+traceID) {
		t.Errorf("traces list %q lacks hello's cold start %s", listed, traceID)
	}
	b.screenshot("traces")
	b.do("open hello's cold-start trace", chromedp.Click(chromedp.CSS(fmt.Sprintf(`main tbody a[href="#/traces/%s"]`, traceID))))
	spans := waitFor[[]string](b, "the trace's spans", `(() => {
		const gs = [...document.querySelectorAll("main svg g.span")];
		return gs.length && gs.map((g) => g.dataset.span);
	})()`)
	for _, want := range append([]string{"invoke hello", "cold start"}, wantPhases...) {
		if !slices.Contains(spans, want) {
			t.Errorf("trace %s shows spans %q, missing %q", traceID, spans, want)
		}
	}
	// Rows follow the call tree: the invocation, then its cold start, then
	// the phases under it (the first four; the handler runs after it).
	for _, pair := range [][2]string{{"invoke hello", "cold start"}, {"cold start", wantPhases[0]}, {"cold start", wantPhases[3]}} {
		if i, j := slices.Index(spans, pair[0]), slices.Index(spans, pair[1]); i < 0 || j < 0 || i > j {
			t.Errorf("trace %s lists %q: %q must come above %q", traceID, spans, pair[0], pair[1])
		}
	}
	b.screenshot("trace")
}

// checkWorkflows opens each execution from the workflows list and checks
// its state graph's colours against how far it got.
func checkWorkflows(t *testing.T, b *browser) {
	t.Helper()
	for _, x := range []struct {
		name, status string
		states       map[string]string
	}{
		{"o-large", "SUCCEEDED", map[string]string{"Normalize": "succeeded", "Route": "succeeded", "Large": "succeeded",
			"Done": "succeeded", "Small": "unreached", "Empty": "unreached"}},
		{"o-empty", "FAILED", map[string]string{"Normalize": "succeeded", "Route": "succeeded", "Empty": "failed",
			"Large": "unreached", "Small": "unreached", "Done": "unreached"}},
	} {
		b.do("open the workflows", chromedp.Click(chromedp.CSS(`nav a[data-section="workflows"]`)))
		row := waitFor[[]string](b, x.name+" in the executions list", fmt.Sprintf(`(() => {
			const tr = [...document.querySelectorAll("main tbody tr")].find((tr) => tr.querySelector("th").textContent === %q);
			return location.hash === "#/workflows" && tr && [...tr.children].map((c) => c.textContent.trim());
		})()`, x.name))
		if len(row) < 3 || row[1] != "order-check" || row[2] != x.status {
			t.Errorf("executions row of %s = %q, want order-check %s", x.name, row, x.status)
		}
		b.do("open "+x.name, chromedp.Click(chromedp.Search(fmt.Sprintf(`//main//tbody//th/a[text()=%q]`, x.name))))
		type state struct {
			Class string `json:"class"`
			Fill  string `json:"fill"`
		}
		graph := waitFor[map[string]state](b, x.name+"'s state graph", fmt.Sprintf(`(() => {
			const h1 = document.querySelector("main h1");
			const gs = [...document.querySelectorAll("#graph g.state")];
			return h1 && h1.textContent.startsWith(%q) && gs.length && Object.fromEntries(gs.map((g) => [g.dataset.state, {
				class: g.getAttribute("class").replace("state state-", ""),
				fill: getComputedStyle(g.querySelector("rect")).fill,
			}]));
		})()`, x.name))
		fills := map[string]string{} // progress → colour
		for name, want := range x.states {
			got, ok := graph[name]
			if !ok || got.Class != want {
				t.Errorf("%s: state %s is %q, want %q (graph %v)", x.name, name, got.Class, want, graph)
				continue
			}
			if f, seen := fills[want]; seen && f != got.Fill {
				t.Errorf("%s: %s states drawn in both %s and %s", x.name, want, f, got.Fill)
			}
			fills[want] = got.Fill
		}
		if len(graph) != len(x.states) {
			t.Errorf("%s: graph has states %v, want %d", x.name, graph, len(x.states))
		}
		colours := map[string]string{}
		for progress, fill := range fills {
			if other, dup := colours[fill]; dup || fill == "" || fill == "rgb(0, 0, 0)" {
				t.Errorf("%s: %s states are drawn in %q (as %q ones): progress must have its own colour", x.name, progress, fill, other)
			}
			colours[fill] = progress
		}
		edges := waitFor[int](b, x.name+"'s transitions", `document.querySelectorAll("#graph line").length`)
		if edges != 6 { // Normalize→Route, Route→Large|Empty|Small, Large→Done, Small→Done
			t.Errorf("%s: state graph has %d transitions, want 6", x.name, edges)
		}
		b.screenshot("workflow-" + x.name)
	}
}

// checkDeadLetters: the dead-letter view lists flaky's failed invocation.
func checkDeadLetters(t *testing.T, b *browser, id string) {
	t.Helper()
	b.do("open the dead letters", chromedp.Click(chromedp.CSS(`nav a[data-section="deadletters"]`)))
	row := waitFor[[]string](b, "flaky's dead letter", `(() => {
		const tr = document.querySelector("main tbody tr");
		return location.hash === "#/deadletters" && tr && [...tr.children].map((c) => c.textContent.trim());
	})()`)
	// Function, Request, Failed, Why, Attempts, Error.
	if len(row) != 6 || row[0] != "flaky" || row[1] != id || row[3] != "RetriesExhausted" || row[4] != "1" || row[5] == "" {
		t.Errorf("dead-letter row = %q, want flaky's %s, RetriesExhausted after 1 attempt, with its error", row, id)
	}
	b.screenshot("deadletters")
}

// TestDashboardConsoleWatch: the browser test's error check fails on
// what it must (without a browser: the events as chromedp hands them over).
func TestDashboardConsoleWatch(t *testing.T) {
	refused := &log.EventEntryAdded{Entry: &log.Entry{Source: log.EntrySourceNetwork, Level: log.EntryLevelError,
		Text: "Failed to load resource: the server responded with a status of 401 (Unauthorized)",
		URL:  "http://127.0.0.1:1/v1/dashboard/functions"}}
	tests := []struct {
		name       string
		afterToken bool
		ev         any
		wantErr    bool
		wantRefuse bool
	}{
		{"401 before the token", false, refused, false, true},
		{"401 after the token", true, refused, true, false},
		{"console.error", false, &runtime.EventConsoleAPICalled{Type: runtime.ConsoleAPICalledTypeError,
			Args: []*runtime.RemoteObject{{Type: runtime.RemoteObjectTypeString, Value: []byte(`"boom"`)}}}, true, false},
		{"console.warn", true, &runtime.EventConsoleAPICalled{Type: runtime.ConsoleAPICalledTypeWarning}, false, false},
		{"uncaught exception", true, &runtime.EventExceptionThrown{ExceptionDetails: &runtime.ExceptionDetails{Text: "Uncaught",
			Exception: &runtime.RemoteObject{Description: "TypeError: x is undefined"}}}, true, false},
		{"a script that failed to load", false, &log.EventEntryAdded{Entry: &log.Entry{Source: log.EntrySourceNetwork,
			Level: log.EntryLevelError, Text: "Failed to load resource: 404", URL: "http://127.0.0.1:1/ui/app.js"}}, true, false},
		{"a log warning", false, &log.EventEntryAdded{Entry: &log.Entry{Source: log.EntrySourceOther, Level: log.EntryLevelWarning, Text: "meh"}}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &consoleWatch{}
			if tt.afterToken {
				w.giveToken()
			}
			w.observe(tt.ev)
			refusals, errs := w.seen()
			if (len(errs) > 0) != tt.wantErr || (len(refusals) > 0) != tt.wantRefuse {
				t.Fatalf("errors %q, refusals %q; want errors %v, refusals %v", errs, refusals, tt.wantErr, tt.wantRefuse)
			}
		})
	}
}
