package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AzureFiles are the readers of one Azure Functions 2019 trace (the format of
// Microsoft's AzurePublicDataset). Durations and Memory are optional.
type AzureFiles struct {
	// Invocations is invocations_per_function: per function, the number of
	// invocations in each minute.
	Invocations io.Reader
	// Durations is function_durations: per function, execution-time
	// percentiles in milliseconds.
	Durations io.Reader
	// Memory is app_memory: per application, allocated-memory percentiles
	// in megabytes.
	Memory io.Reader
}

// AzureOptions says how per-minute counts become arrivals.
type AzureOptions struct {
	// Seed places arrivals within their minute and draws their durations.
	Seed uint64
	// DefaultDuration is used for functions without duration figures (1s).
	DefaultDuration time.Duration
	// DefaultMemoryMB is used when there is no memory file (128); functions
	// missing from a memory file get the file's median.
	DefaultMemoryMB float64
	// Start is the trace's start time (2019-07-15T00:00:00Z, the first day
	// of the published trace, when zero).
	Start time.Time
}

// maxMemoryMB bounds instance sizes read from traces (1 TB).
const maxMemoryMB = 1 << 20

// ErrFormat reports a file that is not in the expected layout.
var ErrFormat = errors.New("unexpected trace format")

// ReadAzure reads an Azure Functions 2019 trace. Both header layouts are
// accepted: the published one (HashOwner,HashApp,HashFunction,Trigger,1..N)
// and the re-keyed one of derived samples (HashFunction,HashApp,HashOwner,
// minute_1..minute_N). Columns are found by name, not position.
//
// Per-minute counts carry no timing within the minute, so each invocation is
// placed at a pseudo-random second of its minute drawn from a stream seeded by
// opts.Seed and the function's name: the same files always give the same
// arrivals.
func ReadAzure(files AzureFiles, opts AzureOptions) (*Trace, error) {
	if opts.DefaultDuration <= 0 {
		opts.DefaultDuration = time.Second
	}
	if opts.DefaultMemoryMB <= 0 {
		opts.DefaultMemoryMB = 128
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2019, 7, 15, 0, 0, 0, 0, time.UTC)
	}
	durs := map[string]Durations{}
	if files.Durations != nil {
		var err error
		if durs, err = readAzureDurations(files.Durations); err != nil {
			return nil, fmt.Errorf("durations: %w", err)
		}
	}
	mems := map[string]float64{}
	memDefault := opts.DefaultMemoryMB
	if files.Memory != nil {
		var err error
		if mems, err = readAzureMemory(files.Memory); err != nil {
			return nil, fmt.Errorf("memory: %w", err)
		}
		if m := median(mems); m > 0 {
			memDefault = m
		}
	}
	tr, err := readAzureInvocations(files.Invocations, opts, durs)
	if err != nil {
		return nil, fmt.Errorf("invocations: %w", err)
	}
	for _, f := range tr.Functions {
		f.MemoryMB = memDefault
		if m := mems[f.App]; m > 0 {
			f.MemoryMB = m
		}
	}
	return tr, nil
}

// azureHeader locates the id columns and the minute columns of a header.
type azureHeader struct {
	owner, app, fn int
	minutes        []int // column index of minute 1, 2, ...
}

func parseAzureHeader(h []string, needMinutes bool) (azureHeader, error) {
	ah := azureHeader{owner: -1, app: -1, fn: -1}
	type col struct{ minute, idx int }
	var cols []col
	for i, name := range h {
		name = strings.TrimSpace(name)
		switch name {
		case "HashOwner":
			ah.owner = i
		case "HashApp":
			ah.app = i
		case "HashFunction":
			ah.fn = i
		default:
			if m, err := strconv.Atoi(strings.TrimPrefix(name, "minute_")); err == nil && m > 0 {
				cols = append(cols, col{m, i})
			}
		}
	}
	if ah.owner < 0 || ah.app < 0 {
		return ah, fmt.Errorf("%w: header needs HashOwner and HashApp", ErrFormat)
	}
	if !needMinutes {
		return ah, nil
	}
	if ah.fn < 0 || len(cols) == 0 {
		return ah, fmt.Errorf("%w: header needs HashFunction and minute columns", ErrFormat)
	}
	sort.Slice(cols, func(i, j int) bool { return cols[i].minute < cols[j].minute })
	for i, c := range cols {
		if c.minute != i+1 {
			return ah, fmt.Errorf("%w: minute %d missing", ErrFormat, i+1)
		}
		ah.minutes = append(ah.minutes, c.idx)
	}
	return ah, nil
}

func (ah azureHeader) key(rec []string) string {
	return rec[ah.owner] + "/" + rec[ah.app] + "/" + rec[ah.fn]
}

func readAzureInvocations(r io.Reader, opts AzureOptions, durs map[string]Durations) (*Trace, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: no invocations file", ErrFormat)
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	h, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	ah, err := parseAzureHeader(h, true)
	if err != nil {
		return nil, err
	}
	tr := &Trace{Start: opts.Start, Length: time.Duration(len(ah.minutes)) * time.Minute}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		name := ah.key(rec)
		f := &Function{Name: name, App: rec[ah.owner] + "/" + rec[ah.app]}
		r := newRNG(opts.Seed ^ hash64(name))
		d, hasDur := durs[name]
		for m, idx := range ah.minutes {
			n, err := strconv.Atoi(strings.TrimSpace(rec[idx]))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("line %d minute %d: %w: count %q", line, m+1, ErrFormat, rec[idx])
			}
			base := time.Duration(m) * time.Minute
			first := len(f.Arrivals)
			for range n {
				a := Arrival{At: base + time.Duration(r.float()*float64(time.Minute)), Duration: opts.DefaultDuration}
				if hasDur {
					a.Duration = d.Sample(r.float())
				}
				f.Arrivals = append(f.Arrivals, a)
			}
			slices.SortFunc(f.Arrivals[first:], func(x, y Arrival) int { return int(x.At - y.At) })
		}
		tr.Functions = append(tr.Functions, f)
	}
	return tr, nil
}

// durationColumns are the percentile columns of function_durations, with the
// probability each stands for.
var durationColumns = []struct {
	name string
	p    float64
}{
	{"percentile_Average_0", 0}, {"percentile_Average_1", 0.01},
	{"percentile_Average_25", 0.25}, {"percentile_Average_50", 0.50},
	{"percentile_Average_75", 0.75}, {"percentile_Average_99", 0.99},
	{"percentile_Average_100", 1},
}

func readAzureDurations(r io.Reader) (map[string]Durations, error) {
	cr := csv.NewReader(r)
	h, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	ah, err := parseAzureHeader(h, false)
	if err != nil {
		return nil, err
	}
	if ah.fn < 0 {
		return nil, fmt.Errorf("%w: header needs HashFunction", ErrFormat)
	}
	idx := make([]int, len(durationColumns))
	for i, c := range durationColumns {
		idx[i] = slices.Index(h, c.name)
		if idx[i] < 0 {
			return nil, fmt.Errorf("%w: column %s missing", ErrFormat, c.name)
		}
	}
	out := map[string]Durations{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		var d Durations
		prev := 0.0
		for i, c := range durationColumns {
			ms, err := strconv.ParseFloat(strings.TrimSpace(rec[idx[i]]), 64)
			if err != nil || !(ms >= 0 && ms <= maxMillis) {
				return nil, fmt.Errorf("line %d %s: %w: %q", line, c.name, ErrFormat, rec[idx[i]])
			}
			ms = max(ms, prev) // percentiles must not decrease
			prev = ms
			d.Quantiles = append(d.Quantiles, [2]float64{c.p, ms})
		}
		out[ah.key(rec)] = d
	}
}

func readAzureMemory(r io.Reader) (map[string]float64, error) {
	cr := csv.NewReader(r)
	h, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	ah, err := parseAzureHeader(h, false)
	if err != nil {
		return nil, err
	}
	col := slices.Index(h, "AverageAllocatedMb")
	if col < 0 {
		return nil, fmt.Errorf("%w: column AverageAllocatedMb missing", ErrFormat)
	}
	out := map[string]float64{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		mb, err := strconv.ParseFloat(strings.TrimSpace(rec[col]), 64)
		if err != nil || !(mb >= 0 && mb <= maxMemoryMB) {
			return nil, fmt.Errorf("line %d: %w: memory %q", line, ErrFormat, rec[col])
		}
		out[rec[ah.owner]+"/"+rec[ah.app]] = mb
	}
}

func median(m map[string]float64) float64 {
	if len(m) == 0 {
		return 0
	}
	v := make([]float64, 0, len(m))
	for _, x := range m {
		v = append(v, x)
	}
	sort.Float64s(v)
	return v[len(v)/2]
}
