// Package bench holds hearth's self-contained benchmarks: each starts what it
// measures (an in-process node on a temporary data directory, and its
// baselines), runs them side by side in one process, and reports results
// with stable dotted names.
package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"
)

// Result is one figure.
type Result struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Report is a bench's output: {"bench":"warm","results":[...]}.
type Report struct {
	Bench   string   `json:"bench"`
	Results []Result `json:"results"`
	// Notes are printed under the table (comparisons against targets).
	Notes []string `json:"notes,omitempty"`
}

// Add appends a result.
func (r *Report) Add(name string, value float64, unit string) {
	r.Results = append(r.Results, Result{Name: name, Value: value, Unit: unit})
}

// Value returns the named result's value, or 0.
func (r *Report) Value(name string) float64 {
	for _, res := range r.Results {
		if res.Name == name {
			return res.Value
		}
	}
	return 0
}

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error { return json.NewEncoder(w).Encode(r) }

// WriteTable writes the report as a readable table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "bench %s\t\t\t\n", r.Bench)
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%.3f\t%s\t\n", res.Name, res.Value, res.Unit)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, n)
	}
	return nil
}

// percentile returns the p-th percentile (0–100) of ds (sorted in place).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	idx := int(p / 100 * float64(len(ds)-1))
	return ds[idx]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
