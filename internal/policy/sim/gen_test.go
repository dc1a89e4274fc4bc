package sim

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// syntheticOpts made the trace committed under internal/policy/testdata.
var syntheticOpts = GenOptions{Functions: 40, Minutes: 1440, Seed: 1}

const syntheticDir = "../testdata/synthetic"

func TestGenerateIsDeterministic(t *testing.T) {
	write := func(s *Synthetic) [3]string {
		var inv, dur, mem bytes.Buffer
		if err := s.WriteAzure(&inv, &dur, &mem); err != nil {
			t.Fatalf("WriteAzure: %v", err)
		}
		return [3]string{inv.String(), dur.String(), mem.String()}
	}
	a, b := write(Generate(syntheticOpts)), write(Generate(syntheticOpts))
	if a != b {
		t.Fatal("same options gave different traces")
	}
	other := syntheticOpts
	other.Seed = 2
	if write(Generate(other)) == a {
		t.Fatal("a different seed gave the same trace")
	}
	// The committed trace must be what the generator makes today.
	for i, name := range []string{"invocations.csv", "durations.csv", "memory.csv"} {
		got, err := os.ReadFile(filepath.Join(syntheticDir, name))
		if err != nil {
			t.Fatalf("read committed trace: %v", err)
		}
		if string(got) != a[i] {
			t.Errorf("%s differs from Generate(%+v); regenerate it with `hearth sim gen --out internal/policy/testdata/synthetic --functions 40 --minutes 1440 --seed 1`", name, syntheticOpts)
		}
	}
}

// TestGenerateMix checks the shape the paper describes: every pattern is
// present in its share, timers are strictly periodic, most functions are
// rare while a few take most invocations.
func TestGenerateMix(t *testing.T) {
	s := Generate(GenOptions{Functions: 200, Minutes: 1440, Seed: 9})
	kinds := map[string]int{}
	total, heavy := 0, 0
	var perFn []float64
	for _, f := range s.Functions {
		kinds[f.Kind]++
		n := 0
		for _, c := range f.Counts {
			n += c
		}
		total += n
		if f.Kind == "heavy" {
			heavy += n
		}
		perFn = append(perFn, float64(n))
		if f.Kind == "timer" {
			var ticks []int
			for m, c := range f.Counts {
				if c > 0 {
					ticks = append(ticks, m)
				}
			}
			for i := 2; i < len(ticks); i++ {
				// A skipped tick doubles one interval; otherwise they match.
				d0, d := ticks[1]-ticks[0], ticks[i]-ticks[i-1]
				if d%d0 != 0 && d0%d != 0 {
					t.Errorf("timer %s not periodic: ticks %v", f.Hash, ticks[:i+1])
					break
				}
			}
		}
	}
	for _, m := range mix {
		want := int(m.share * 200)
		if got := kinds[m.kind]; got < want-1 || got > want+1 {
			t.Errorf("%s functions = %d, want about %d", m.kind, got, want)
		}
	}
	if float64(heavy) < 0.9*float64(total) {
		t.Errorf("heavy functions take %d of %d invocations, want most", heavy, total)
	}
	if med := percentile(perFn, 50); med > 1440 {
		t.Errorf("median function has %v invocations a day, want at most one a minute", med)
	}
}
