package sim

import (
	"regexp"
	"strings"
	"testing"
)

// checkTrace asserts what every successfully read trace must satisfy.
func checkTrace(t *testing.T, tr *Trace) {
	t.Helper()
	for _, f := range tr.Functions {
		for i, a := range f.Arrivals {
			if a.At < 0 || a.At >= tr.Length+tr.Length/1000+1 || a.Duration < 0 {
				t.Fatalf("%s arrival %d = %+v outside a trace of %v", f.Name, i, a, tr.Length)
			}
			if i > 0 && a.At < f.Arrivals[i-1].At {
				t.Fatalf("%s arrivals out of order", f.Name)
			}
		}
		if f.MemoryMB <= 0 {
			t.Fatalf("%s has memory %v", f.Name, f.MemoryMB)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add("timestamp,function,duration\n2026-01-01T00:00:00Z,a,100ms\n1767225720.5,a,20,256\n")
	f.Add("1,f,1\n0.5,g,2s\n")
	f.Fuzz(func(t *testing.T, in string) {
		tr, err := ReadCSV(strings.NewReader(in), 128)
		if err != nil {
			return
		}
		checkTrace(t, tr)
	})
}

var longNumber = regexp.MustCompile(`[0-9]{5}`)

func FuzzReadAzure(f *testing.F) {
	f.Add(publishedInv, durationsCSV, memoryCSV)
	f.Add(rekeyedInv, "", "")
	f.Fuzz(func(t *testing.T, inv, dur, mem string) {
		if longNumber.MatchString(inv) {
			return // keep counts, and so memory, small
		}
		files := AzureFiles{Invocations: strings.NewReader(inv)}
		if dur != "" {
			files.Durations = strings.NewReader(dur)
		}
		if mem != "" {
			files.Memory = strings.NewReader(mem)
		}
		tr, err := ReadAzure(files, AzureOptions{Seed: 1})
		if err != nil {
			return
		}
		checkTrace(t, tr)
	})
}
