package workflow

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// conformanceCase is one line of ../shared/conformance/asl/cases.jsonl.
type conformanceCase struct {
	ID               string          `json:"id"`
	Kind             string          `json:"kind"`
	Definition       json.RawMessage `json:"definition"`
	DefinitionString *string         `json:"definition_string"`
	Input            json.RawMessage `json:"input"`
	InputString      *string         `json:"input_string"`
	Expected         map[string]any  `json:"expected"`
	Events           []struct {
		Type  string `json:"type"`
		Name  string `json:"name"`
		Index *int   `json:"index"`
	} `json:"events"`
	StateMachineType string   `json:"state_machine_type"`
	Placeholders     []string `json:"placeholders"`
	EventsOrder      any      `json:"events_order"`
}

// instantClock is a clock on which every timer fires at once, moving the
// time forward: conformance cases wait, but the test must not.
type instantClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *instantClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *instantClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	c.mu.Lock()
	if d > 0 && d < time.Hour {
		c.now = c.now.Add(d)
	}
	c.mu.Unlock()
	if d >= time.Hour {
		return stopped{} // long deadlines (execution timeouts) never fire here
	}
	go f()
	return stopped{}
}

type stopped struct{}

func (stopped) Stop() bool { return false }

func sharedPath(t *testing.T, rel string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// The test runs in internal/workflow; the repository root is two up and
	// ../shared sits beside it.
	return filepath.Join(wd, "..", "..", "..", "shared", rel)
}

func loadCases(t *testing.T) []conformanceCase {
	t.Helper()
	path := sharedPath(t, "conformance/asl/cases.jsonl")
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		t.Skipf("conformance corpus %s is absent (it lives in ../shared beside the repository)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []conformanceCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var c conformanceCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("decode case: %v", err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// loadKnownFailures reads testdata/known_failures.txt: "case id<TAB>reason".
func loadKnownFailures(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "known_failures.txt"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, "\t")
		known[id] = reason
	}
	return known
}

func TestConformance(t *testing.T) {
	cases := loadCases(t)
	known := loadKnownFailures(t)
	var passed, failed int
	for _, c := range cases {
		reason, isKnown := known[c.ID]
		err := runCase(c)
		if err == nil {
			passed++
		} else {
			failed++
		}
		t.Run(c.ID, func(t *testing.T) {
			switch {
			case err == nil && isKnown:
				t.Errorf("listed in testdata/known_failures.txt but passes now; remove it")
			case err != nil && isKnown:
				t.Skipf("known failure (%s): %v", reason, err)
			case err != nil:
				t.Error(err)
			}
		})
	}
	t.Logf("conformance: %d of %d cases pass, %d fail (%d listed in testdata/known_failures.txt)", passed, len(cases), failed, len(known))
}

func runCase(c conformanceCase) error {
	def := []byte(c.Definition)
	if c.DefinitionString != nil {
		def = []byte(*c.DefinitionString)
	}
	opt := asl.Options{Type: asl.Standard}
	if c.StateMachineType == "EXPRESS" {
		opt.Type = asl.Express
	}
	m, perr := asl.ParseWith(def, opt)
	switch c.Kind {
	case "creation_error":
		if perr == nil {
			return fmt.Errorf("definition accepted, want %v", c.Expected["creation_error"])
		}
		return nil
	case "validation":
		want := c.Expected["validation"].(map[string]any)["result"]
		if got := map[bool]string{true: "OK", false: "FAIL"}[perr == nil]; got != want {
			return fmt.Errorf("validation %s, want %s (%v)", got, want, perr)
		}
		return nil
	}
	if perr != nil {
		return fmt.Errorf("parse: %w", perr)
	}
	if c.Kind == "start_error" {
		// StartExecution rejects input that is not one JSON value; the
		// engine decodes input with asl.DecodeJSON.
		if c.InputString == nil {
			return fmt.Errorf("start_error case without input_string")
		}
		if _, err := asl.DecodeJSON([]byte(*c.InputString)); err == nil {
			return fmt.Errorf("input %q accepted, want %v", *c.InputString, c.Expected["start_error"])
		}
		return nil
	}
	input, err := asl.DecodeJSON(c.Input)
	if err != nil {
		return fmt.Errorf("input: %w", err)
	}
	x := New(nil, &instantClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, nil, nil)
	exec := Execution{
		ID: "arn:aws:states:us-east-1:111111111111:execution:machine:exec", Name: "exec",
		StateMachineID: "arn:aws:states:us-east-1:111111111111:stateMachine:machine", StateMachineName: "machine",
		RoleArn: "arn:aws:iam::111111111111:role/role", Type: opt.Type, Machine: m, Input: input,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := x.Run(ctx, exec, nil)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if string(res.Status) != c.Expected["status"] {
		return fmt.Errorf("status %s (%s: %s), want %v", res.Status, res.Error, res.Cause, c.Expected)
	}
	got := map[string]any{"status": string(res.Status)}
	if res.Status == StatusSucceeded {
		got["output"] = plainJSON(res.Output)
	} else {
		if res.Error != "" {
			got["error"] = res.Error
		}
		if res.Cause != "" {
			got["cause"] = res.Cause
		}
	}
	want := plainJSON(c.Expected).(map[string]any)
	for _, p := range c.Placeholders {
		blank(got, p)
		blank(want, p)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		return fmt.Errorf("result\n  got  %s\n  want %s", g, w)
	}
	if c.Events == nil {
		return nil
	}
	return compareEvents(c, res.History)
}

// plainJSON round-trips v through JSON so both sides use float64 numbers.
func plainJSON(v any) any {
	s, err := asl.EncodeJSON(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return v
	}
	return out
}

// blank replaces the value at a placeholder path ($.a.b) when it exists.
func blank(root map[string]any, path string) {
	parts := strings.Split(strings.TrimPrefix(path, "$."), ".")
	cur := root
	for i, p := range parts {
		if i == len(parts)-1 {
			if _, ok := cur[p]; ok {
				cur[p] = "<placeholder>"
			}
			return
		}
		next, ok := cur[p].(map[string]any)
		if !ok {
			return
		}
		cur = next
	}
}

// compareEvents checks the event type sequence. Events of Parallel
// branches and Map iterations may interleave differently, so when the plain
// sequences differ they are compared as multisets, as the corpus README
// allows.
func compareEvents(c conformanceCase, history []Event) error {
	var want, got []string
	for _, e := range c.Events {
		s := e.Type
		if e.Name != "" {
			s += ":" + e.Name
		}
		if e.Index != nil {
			s += fmt.Sprintf("[%d]", *e.Index)
		}
		want = append(want, s)
	}
	for _, e := range history {
		s := string(e.Type)
		if e.Name != "" && (strings.HasSuffix(s, "Entered") || strings.HasSuffix(s, "Exited") || strings.HasPrefix(s, "MapIteration")) {
			s += ":" + e.Name
		}
		if e.Index != nil {
			s += fmt.Sprintf("[%d]", *e.Index)
		}
		got = append(got, s)
	}
	if reflect.DeepEqual(want, got) {
		return nil
	}
	concurrent := false
	for _, e := range c.Events {
		if strings.HasPrefix(e.Type, "Parallel") || strings.HasPrefix(e.Type, "MapIteration") {
			concurrent = true
		}
	}
	if concurrent {
		ws, gs := append([]string(nil), want...), append([]string(nil), got...)
		sort.Strings(ws)
		sort.Strings(gs)
		if reflect.DeepEqual(ws, gs) && reflect.DeepEqual(outside(want), outside(got)) {
			return nil
		}
	}
	return fmt.Errorf("events\n  got  %v\n  want %v", got, want)
}

// outside keeps the events that are not inside a Parallel state's branches
// or a Map state's iterations, whose order is fixed.
func outside(events []string) []string {
	var out []string
	depth := 0
	for _, e := range events {
		typ, _, _ := strings.Cut(e, ":")
		switch typ {
		case "ParallelStateStarted", "MapStateStarted":
			out = append(out, e)
			depth++
			continue
		case "ParallelStateSucceeded", "ParallelStateFailed", "MapStateSucceeded", "MapStateFailed":
			depth--
		case "ParallelStateExited":
			// Step Functions records no ParallelStateSucceeded here.
			if depth > 0 {
				depth--
			}
		}
		if depth == 0 {
			out = append(out, e)
		}
	}
	return out
}
