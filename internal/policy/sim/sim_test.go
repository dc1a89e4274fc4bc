package sim

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/policy"
)

// azureSampleDir is the real 200-function sample, outside the repository.
const azureSampleDir = "../../../../shared/traces/azure-functions-2019"

func readAzureDir(t testing.TB, dir, inv, dur, mem string) *Trace {
	t.Helper()
	open := func(name string) *os.File {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("open trace: %v", err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	tr, err := ReadAzure(AzureFiles{Invocations: open(inv), Durations: open(dur), Memory: open(mem)}, AzureOptions{Seed: 1})
	if err != nil {
		t.Fatalf("ReadAzure: %v", err)
	}
	return tr
}

func byName(t *testing.T, res []Result) map[string]Result {
	t.Helper()
	out := map[string]Result{}
	for _, r := range res {
		out[r.Policy] = r
		t.Logf("%-10s cold %6.3f%%  p75 %6.2f%%  wasted %12.0f GB-s  pre-warms %5d (unused %5d)  invocations %d",
			r.Policy, r.ColdPct, r.ColdPctP75Fn, r.WastedGBs, r.PreWarms, r.PreWarmsUnused, r.Invocations)
	}
	return out
}

// TestAzureSample replays the real sample, learning on the first 12 hours and
// measuring the last 12. The forecast policy's parameters were chosen on the
// first 12 hours only (see ForecastConfig), so this half is held out.
func TestAzureSample(t *testing.T) {
	if _, err := os.Stat(filepath.Join(azureSampleDir, "sample200_inv.csv")); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("Azure Functions sample not found at %s (it lives in the shared traces folder beside the repository)", azureSampleDir)
	}
	tr := readAzureDir(t, azureSampleDir, "sample200_inv.csv", "sample200_run.csv", "sample200_mem.csv")
	if len(tr.Functions) != 200 || tr.Length != 24*time.Hour {
		t.Fatalf("sample has %d functions over %v, want 200 over a day", len(tr.Functions), tr.Length)
	}
	res, err := Run(tr, policy.Builtin(), Options{Train: 12 * time.Hour})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := byName(t, res)
	fixed, hist, fc := r["fixed10m"], r["histogram"], r["forecast"]
	checks := []struct {
		what string
		ok   bool
	}{
		{"forecast has fewer cold starts than fixed10m", fc.ColdPct < fixed.ColdPct},
		{"forecast wastes no more memory than fixed10m", fc.WastedGBs <= fixed.WastedGBs},
		{"forecast's p75 cold % is well below fixed10m's", fc.ColdPctP75Fn < 0.6*fixed.ColdPctP75Fn},
		{"forecast has fewer cold starts than histogram", fc.ColdPct < hist.ColdPct},
		{"forecast wastes less memory than histogram", fc.WastedGBs < hist.WastedGBs},
		{"histogram's p75 cold % is below fixed10m's, as the paper reports", hist.ColdPctP75Fn < fixed.ColdPctP75Fn},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("want: %s", c.what)
		}
	}
	for _, x := range res {
		if x.ColdFirst+x.ColdIdle+x.ColdScale != x.Cold {
			t.Errorf("%s: causes %d+%d+%d do not add up to %d cold starts", x.Policy, x.ColdFirst, x.ColdIdle, x.ColdScale, x.Cold)
		}
	}
}

// TestSyntheticTrace replays the committed synthetic trace.
func TestSyntheticTrace(t *testing.T) {
	tr := readAzureDir(t, syntheticDir, "invocations.csv", "durations.csv", "memory.csv")
	res, err := Run(tr, policy.Builtin(), Options{Train: 12 * time.Hour})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := byName(t, res)
	fixed, hist, fc := r["fixed10m"], r["histogram"], r["forecast"]
	if !(fc.ColdPct < hist.ColdPct && fc.ColdPctP75Fn < hist.ColdPctP75Fn) {
		t.Errorf("forecast should beat histogram on cold %% and p75")
	}
	// At the default exchange rate (tuned on the Azure sample) forecast
	// spends more memory than histogram on this trace to have a third of its
	// cold starts; valued lower, it must beat histogram on both axes, i.e.
	// its trade-off curve lies below histogram's point.
	cheap := policy.Named{Name: "forecast-cheap", New: func(fn policy.Function) policy.Policy {
		return policy.NewForecast(fn, policy.ForecastConfig{ColdCost: 300})
	}}
	fcCheap, err := Run(tr, []policy.Named{cheap}, Options{Train: 12 * time.Hour})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if c := byName(t, fcCheap)["forecast-cheap"]; !(c.ColdPct < hist.ColdPct && c.ColdPctP75Fn < hist.ColdPctP75Fn && c.WastedGBs < hist.WastedGBs) {
		t.Errorf("forecast valuing a cold start at 300 GB-s should beat histogram on cold %%, p75 and waste")
	}
	if !(fc.ColdPct <= fixed.ColdPct/2 && hist.ColdPctP75Fn < fixed.ColdPctP75Fn/2) {
		t.Errorf("forecast should halve fixed10m's cold %% and histogram its p75")
	}
	again, err := Run(tr, policy.Builtin(), Options{Train: 12 * time.Hour})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for i := range res {
		if res[i] != again[i] {
			t.Errorf("replay is not deterministic: %+v then %+v", res[i], again[i])
		}
	}
}
