package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeCSVTrace writes a small timestamp,function,duration trace: a function
// called every 5 minutes for two hours, and one called in pairs every
// 20 minutes.
func writeCSVTrace(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,function,duration\n")
	for m := 0; m < 120; m += 5 {
		fmt.Fprintf(&b, "%d,timer,200ms\n", 1_600_000_000+m*60)
	}
	for m := 0; m < 120; m += 20 {
		fmt.Fprintf(&b, "%d,pair,30s\n%d,pair,30s\n", 1_600_000_000+m*60+7, 1_600_000_000+m*60+7)
	}
	path := filepath.Join(t.TempDir(), "trace.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatalf("write trace: %v", err)
	}
	return path
}

func runSim(t *testing.T, args ...string) string {
	t.Helper()
	cmd := newSimCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("sim %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

// TestSimJSON checks the names `hearth sim --json` reports, bounds included.
func TestSimJSON(t *testing.T) {
	trace := writeCSVTrace(t)
	var got struct {
		Bench   string `json:"bench"`
		Results []struct {
			Name  string  `json:"name"`
			Value float64 `json:"value"`
		} `json:"results"`
	}
	out := runSim(t, "--invocations", trace, "--policy", "histogram,forecast", "--bounds", "--json")
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	values := map[string]float64{}
	for _, r := range got.Results {
		values[r.Name] = r.Value
	}
	for _, p := range []string{"policy.histogram.", "policy.forecast.", "bound.keep_all.", "bound.hindsight_ttl."} {
		for _, m := range []string{"cold_pct", "cold_pct_p75_fn", "wasted_gb_s", "prewarms_unused", "cold_first", "cold_idle", "cold_scale"} {
			if _, ok := values[p+m]; !ok {
				t.Errorf("missing %s%s in %s", p, m, out)
			}
		}
	}
	// Both functions first run in the training half, and keep_all keeps
	// the pair's two instances from then on: nothing is cold.
	if got.Bench != "sim" || values["bound.keep_all.cold_pct"] != 0 || values["policy.forecast.cold_first"] != 0 {
		t.Errorf("bench %q, keep_all cold %v%%, forecast first-invocation cold starts %v; want sim, 0, 0",
			got.Bench, values["bound.keep_all.cold_pct"], values["policy.forecast.cold_first"])
	}
	// fixed10m (the budget) keeps the timer warm, as must hindsight_ttl.
	if values["bound.hindsight_ttl.cold_pct"] >= 50 {
		t.Errorf("hindsight_ttl cold %v%%, want the timer warm", values["bound.hindsight_ttl.cold_pct"])
	}
}

// TestSimTable checks the table lists each policy and, with --bounds, the
// bounds after them.
func TestSimTable(t *testing.T) {
	out := runSim(t, "--invocations", writeCSVTrace(t), "--policy", "fixed", "--bounds")
	for _, want := range []string{"fixed10m", "scale-up", "keep_all", "hindsight_ttl"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "hindsight_ttl") < strings.Index(out, "fixed10m") {
		t.Errorf("bounds should follow the policies:\n%s", out)
	}
}
