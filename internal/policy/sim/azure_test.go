package sim

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	publishedInv = "HashOwner,HashApp,HashFunction,Trigger,1,2,3\n" +
		"o1,a1,f1,http,1,0,2\n" +
		"o1,a1,f2,timer,0,3,0\n"
	rekeyedInv = "HashFunction,HashApp,HashOwner,minute_1,minute_2,minute_3\n" +
		"f1,a1,o1,1,0,2\n" +
		"f2,a1,o1,0,3,0\n"
	durationsCSV = "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum," +
		"percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50," +
		"percentile_Average_75,percentile_Average_99,percentile_Average_100\n" +
		"o1,a1,f1,500,3,500,500,500,500,500,500,500,500,500\n"
	memoryCSV = "HashApp,HashOwner,SampleCount,AverageAllocatedMb\n" +
		"a1,o1,10,300\n" +
		"a9,o9,10,100\n" +
		"a8,o8,10,200\n"
)

func TestReadAzureHeaderLayouts(t *testing.T) {
	read := func(inv string) *Trace {
		t.Helper()
		tr, err := ReadAzure(AzureFiles{Invocations: strings.NewReader(inv)}, AzureOptions{Seed: 3})
		if err != nil {
			t.Fatalf("ReadAzure: %v", err)
		}
		return tr
	}
	pub, re := read(publishedInv), read(rekeyedInv)
	if pub.Length != 3*time.Minute {
		t.Errorf("length = %v, want 3m", pub.Length)
	}
	if len(pub.Functions) != 2 || len(re.Functions) != 2 {
		t.Fatalf("functions = %d and %d, want 2", len(pub.Functions), len(re.Functions))
	}
	for i := range pub.Functions {
		p, r := pub.Functions[i], re.Functions[i]
		if p.Name != r.Name || !slices.Equal(p.Arrivals, r.Arrivals) {
			t.Errorf("function %d differs between layouts: %+v vs %+v", i, p, r)
		}
	}
	f1 := pub.Functions[0]
	if f1.Name != "o1/a1/f1" || len(f1.Arrivals) != 3 {
		t.Fatalf("f1 = %q with %d arrivals", f1.Name, len(f1.Arrivals))
	}
	// One arrival in minute 1 and two in minute 3, in order.
	minutes := []time.Duration{0, 2 * time.Minute, 2 * time.Minute}
	for i, a := range f1.Arrivals {
		if a.At < minutes[i] || a.At >= minutes[i]+time.Minute {
			t.Errorf("arrival %d at %v, want within the minute from %v", i, a.At, minutes[i])
		}
		if i > 0 && a.At < f1.Arrivals[i-1].At {
			t.Errorf("arrivals out of order: %v", f1.Arrivals)
		}
		if a.Duration != time.Second {
			t.Errorf("duration without a durations file = %v, want the 1s default", a.Duration)
		}
	}
}

func TestReadAzureDurationsAndMemory(t *testing.T) {
	tr, err := ReadAzure(AzureFiles{
		Invocations: strings.NewReader(publishedInv),
		Durations:   strings.NewReader(durationsCSV),
		Memory:      strings.NewReader(memoryCSV),
	}, AzureOptions{})
	if err != nil {
		t.Fatalf("ReadAzure: %v", err)
	}
	for _, a := range tr.Functions[0].Arrivals {
		if a.Duration != 500*time.Millisecond {
			t.Errorf("f1 duration = %v, want 500ms from its percentiles", a.Duration)
		}
	}
	for _, a := range tr.Functions[1].Arrivals {
		if a.Duration != time.Second {
			t.Errorf("f2 duration = %v, want the default", a.Duration)
		}
	}
	if m := tr.Functions[0].MemoryMB; m != 300 {
		t.Errorf("memory of a1 = %v, want 300", m)
	}
}

func TestReadAzureMemoryDefaults(t *testing.T) {
	inv := publishedInv + "o7,a7,f7,http,1,1,1\n"
	tr, err := ReadAzure(AzureFiles{Invocations: strings.NewReader(inv), Memory: strings.NewReader(memoryCSV)}, AzureOptions{})
	if err != nil {
		t.Fatalf("ReadAzure: %v", err)
	}
	if m := tr.Functions[2].MemoryMB; m != 200 {
		t.Errorf("memory of an app missing from the file = %v, want the file's median 200", m)
	}
	tr, err = ReadAzure(AzureFiles{Invocations: strings.NewReader(inv)}, AzureOptions{DefaultMemoryMB: 64})
	if err != nil {
		t.Fatalf("ReadAzure: %v", err)
	}
	if m := tr.Functions[0].MemoryMB; m != 64 {
		t.Errorf("memory without a file = %v, want the default 64", m)
	}
}

func TestReadAzureErrors(t *testing.T) {
	badDur := strings.Replace(durationsCSV, ",500\n", ",-500\n", 1)
	tests := []struct {
		name          string
		inv, dur, mem string
	}{
		{"no id columns", "a,b,1,2\nx,y,1,2\n", "", ""},
		{"no minute columns", "HashOwner,HashApp,HashFunction\no,a,f\n", "", ""},
		{"a minute missing", "HashOwner,HashApp,HashFunction,1,3\no,a,f,1,1\n", "", ""},
		{"negative count", "HashOwner,HashApp,HashFunction,1\no,a,f,-1\n", "", ""},
		{"count not a number", "HashOwner,HashApp,HashFunction,1\no,a,f,many\n", "", ""},
		{"durations without percentiles", publishedInv, "HashOwner,HashApp,HashFunction,Average\no1,a1,f1,5\n", ""},
		{"negative duration", publishedInv, badDur, ""},
		{"memory without its column", publishedInv, "", "HashApp,HashOwner,SampleCount\na1,o1,3\n"},
		{"negative memory", publishedInv, "", "HashApp,HashOwner,AverageAllocatedMb\na1,o1,-3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := AzureFiles{Invocations: strings.NewReader(tt.inv)}
			if tt.dur != "" {
				files.Durations = strings.NewReader(tt.dur)
			}
			if tt.mem != "" {
				files.Memory = strings.NewReader(tt.mem)
			}
			if _, err := ReadAzure(files, AzureOptions{}); !errors.Is(err, ErrFormat) {
				t.Errorf("error = %v, want ErrFormat", err)
			}
		})
	}
}

func TestDurationsSample(t *testing.T) {
	d := Durations{Quantiles: [][2]float64{{0, 100}, {0.5, 200}, {1, 1000}}}
	tests := []struct {
		u    float64
		want time.Duration
	}{
		{0, 100 * time.Millisecond},
		{0.25, 150 * time.Millisecond},
		{0.5, 200 * time.Millisecond},
		{0.75, 600 * time.Millisecond},
		{0.999999, 999999200 * time.Nanosecond},
	}
	for _, tt := range tests {
		if got := d.Sample(tt.u); (got - tt.want).Abs() > time.Microsecond {
			t.Errorf("Sample(%v) = %v, want %v", tt.u, got, tt.want)
		}
	}
}

func TestReadCSV(t *testing.T) {
	in := "timestamp,function,duration,memory_mb\n" +
		"2026-01-01T00:00:30Z,api,150ms,256\n" +
		"1767225720.5,api,20\n" + // 2026-01-01T00:02:00.5Z, 20 ms
		"2026-01-01T00:01:00Z,cron,2s,\n"
	tr, err := ReadCSV(strings.NewReader(in), 128)
	if err != nil {
		t.Fatalf("ReadCSV: %v", err)
	}
	if want := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); !tr.Start.Equal(want) {
		t.Errorf("start = %v, want %v", tr.Start, want)
	}
	if tr.Length != 3*time.Minute {
		t.Errorf("length = %v, want 3m", tr.Length)
	}
	if len(tr.Functions) != 2 {
		t.Fatalf("functions = %d, want 2", len(tr.Functions))
	}
	api, cron := tr.Functions[0], tr.Functions[1]
	wantAPI := []Arrival{{30 * time.Second, 150 * time.Millisecond}, {2*time.Minute + 500*time.Millisecond, 20 * time.Millisecond}}
	if api.Name != "api" || api.MemoryMB != 256 || !slices.Equal(api.Arrivals, wantAPI) {
		t.Errorf("api = %+v", api)
	}
	if cron.MemoryMB != 128 || len(cron.Arrivals) != 1 || cron.Arrivals[0].Duration != 2*time.Second {
		t.Errorf("cron = %+v", cron)
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"only a header", "timestamp,function,duration\n"},
		{"too few fields", "2026-01-01T00:00:00Z,f\n"},
		{"bad timestamp after the first line", "2026-01-01T00:00:00Z,f,1\nyesterday,f,1\n"},
		{"bad duration", "2026-01-01T00:00:00Z,f,soon\n"},
		{"negative duration", "2026-01-01T00:00:00Z,f,-5\n"},
		{"empty name", "2026-01-01T00:00:00Z,,5\n"},
		{"bad memory", "2026-01-01T00:00:00Z,f,5,lots\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadCSV(strings.NewReader(tt.in), 0); !errors.Is(err, ErrFormat) {
				t.Errorf("error = %v, want ErrFormat", err)
			}
		})
	}
}
