package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ReadCSV reads a simple invocation log, one invocation per line:
//
//	timestamp,function,duration[,memory_mb]
//
// timestamp is RFC 3339 or seconds since the Unix epoch (fractions allowed);
// duration is a Go duration ("150ms") or a number of milliseconds; the
// optional memory_mb sets the function's instance size (default
// defaultMemoryMB). A first line whose timestamp does not parse is taken as a
// header. Lines need not be sorted. The trace starts at the minute of the
// first invocation and ends at the minute after the last one ends.
func ReadCSV(r io.Reader, defaultMemoryMB float64) (*Trace, error) {
	if defaultMemoryMB <= 0 {
		defaultMemoryMB = 128
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	type rec struct {
		at   time.Time
		name string
		dur  time.Duration
	}
	var recs []rec
	mem := map[string]float64{}
	for line := 1; ; line++ {
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(fields) < 3 {
			return nil, fmt.Errorf("line %d: %w: want timestamp,function,duration", line, ErrFormat)
		}
		at, err := parseTimestamp(fields[0])
		if err != nil {
			if line == 1 {
				continue // header
			}
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		dur, err := parseDuration(fields[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		name := strings.TrimSpace(fields[1])
		if name == "" {
			return nil, fmt.Errorf("line %d: %w: empty function name", line, ErrFormat)
		}
		if len(fields) > 3 && strings.TrimSpace(fields[3]) != "" {
			mb, err := strconv.ParseFloat(strings.TrimSpace(fields[3]), 64)
			if err != nil || !(mb > 0 && mb <= maxMemoryMB) {
				return nil, fmt.Errorf("line %d: %w: memory_mb %q", line, ErrFormat, fields[3])
			}
			mem[name] = mb
		}
		recs = append(recs, rec{at, name, dur})
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: no invocations", ErrFormat)
	}
	slices.SortStableFunc(recs, func(a, b rec) int { return a.at.Compare(b.at) })
	start := recs[0].at.Truncate(time.Minute)
	tr := &Trace{Start: start}
	byName := map[string]*Function{}
	var end time.Time
	for _, r := range recs {
		f := byName[r.name]
		if f == nil {
			f = &Function{Name: r.name, App: r.name, MemoryMB: defaultMemoryMB}
			if mb, ok := mem[r.name]; ok {
				f.MemoryMB = mb
			}
			byName[r.name] = f
			tr.Functions = append(tr.Functions, f)
		}
		f.Arrivals = append(f.Arrivals, Arrival{At: r.at.Sub(start), Duration: r.dur})
		if e := r.at.Add(r.dur); e.After(end) {
			end = e
		}
	}
	tr.Length = end.Sub(start).Truncate(time.Minute) + time.Minute
	return tr, nil
}

func parseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	sec, err := strconv.ParseFloat(s, 64)
	// Beyond ±1e11 seconds (the year 5138) a float no longer converts to a
	// time exactly; no real log has such stamps.
	if err != nil || math.IsNaN(sec) || math.Abs(sec) > 1e11 {
		return time.Time{}, fmt.Errorf("%w: timestamp %q is neither RFC 3339 nor Unix seconds", ErrFormat, s)
	}
	whole, frac := math.Modf(sec)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC(), nil
}

// maxMillis bounds durations read as milliseconds (about 31 years), well
// inside what a time.Duration holds.
const maxMillis = 1e12

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	ms, err := strconv.ParseFloat(s, 64)
	if err != nil || !(ms >= 0 && ms <= maxMillis) {
		return 0, fmt.Errorf("%w: duration %q is neither a Go duration nor milliseconds", ErrFormat, s)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}
