package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hearth-sh/hearth/internal/policy"
	"github.com/hearth-sh/hearth/internal/policy/sim"
)

// newSimCommand builds `hearth sim`: replay an invocation trace against the
// keep-alive policies and compare them, and `hearth sim gen` to make a
// synthetic trace.
func newSimCommand() *cobra.Command {
	var (
		invFile, durFile, memFile string
		policyName                string
		trainMinutes              int
		asJSON, bounds            bool
		seed                      uint64
	)
	cmd := &cobra.Command{
		Use:   "sim --invocations FILE [--durations FILE] [--memory FILE]",
		Short: "Replay an invocation trace against keep-alive policies",
		Long: `sim replays an invocation trace against keep-alive and pre-warm policies and
prints, per policy, the cold-start percentage (overall and the 75th percentile
across functions), the idle memory-time of warm instances (GB-seconds), and the
pre-warms that were never used.

The trace is either the Azure Functions 2019 format (per-minute invocation
counts; --durations and --memory optional) or a CSV of
timestamp,function,duration[,memory_mb]. Policies learn on the first
--train-minutes of the trace (default: half of it) and are measured only on the
rest, so results are never reported on the data a policy was tuned on.`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if invFile == "" {
				return errors.New("--invocations is required")
			}
			tr, err := loadTrace(invFile, durFile, memFile, seed)
			if err != nil {
				return err
			}
			var pols []policy.Named
			if policyName == "all" {
				pols = policy.Builtin()
			} else {
				for _, name := range strings.Split(policyName, ",") {
					p, err := policy.Lookup(strings.TrimSpace(name))
					if err != nil {
						return err
					}
					pols = append(pols, p)
				}
			}
			train := time.Duration(trainMinutes) * time.Minute
			if trainMinutes < 0 {
				train = (tr.Length / 2).Truncate(time.Minute)
			}
			res, err := sim.Run(tr, pols, sim.Options{Train: train})
			if err != nil {
				return fmt.Errorf("simulate %s: %w", invFile, err)
			}
			var bnd []sim.Result
			if bounds {
				if bnd, err = simBounds(tr, res, train); err != nil {
					return fmt.Errorf("bounds for %s: %w", invFile, err)
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeSimJSON(out, res, bnd)
			}
			fmt.Fprintf(out, "trace: %d functions, %d invocations, %v; trained on the first %v, measured on the remaining %v\n\n",
				len(tr.Functions), tr.Invocations(), tr.Length, train, tr.Length-train)
			if err := writeSimTable(out, res); err != nil {
				return err
			}
			if len(bnd) > 0 {
				fmt.Fprintf(out, "\nbounds (not policies: keep_all never releases an instance; hindsight_ttl picks each function's keep-alive knowing the measured part, within fixed10m's wasted GB-s):\n\n")
				return writeSimTable(out, bnd)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&invFile, "invocations", "", "invocation trace: Azure per-minute counts, or CSV timestamp,function,duration")
	f.StringVar(&durFile, "durations", "", "Azure function durations file (optional)")
	f.StringVar(&memFile, "memory", "", "Azure app memory file (optional)")
	f.StringVar(&policyName, "policy", "all", "policy to run: fixed10m, fixed20m, histogram, forecast, a comma-separated list, or all")
	f.IntVar(&trainMinutes, "train-minutes", -1, "minutes at the start of the trace that policies learn on and that are not measured; -1 is half the trace")
	f.BoolVar(&asJSON, "json", false, `print {"bench":"sim","results":[...]} instead of a table`)
	f.BoolVar(&bounds, "bounds", false, "also print what no policy can beat: keep_all and hindsight_ttl (see docs/policy.md)")
	f.Uint64Var(&seed, "seed", 1, "seed placing per-minute invocations within their minute and drawing durations")
	cmd.AddCommand(newSimGenCommand())
	return cmd
}

// loadTrace reads an Azure trace, or a simple CSV when the first line has no
// Azure id columns.
func loadTrace(invFile, durFile, memFile string, seed uint64) (*sim.Trace, error) {
	inv, err := os.Open(invFile)
	if err != nil {
		return nil, fmt.Errorf("open invocations: %w", err)
	}
	defer inv.Close()
	br := bufio.NewReader(inv)
	first, err := br.Peek(4096)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read %s: %w", invFile, err)
	}
	header, _, _ := strings.Cut(string(first), "\n")
	if !strings.Contains(header, "HashFunction") {
		if durFile != "" || memFile != "" {
			return nil, errors.New("--durations and --memory apply to Azure traces only; a CSV trace carries durations and memory_mb per line")
		}
		tr, err := sim.ReadCSV(br, policy.DefaultMemoryMB)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", invFile, err)
		}
		return tr, nil
	}
	files := sim.AzureFiles{Invocations: br}
	if durFile != "" {
		d, err := os.Open(durFile)
		if err != nil {
			return nil, fmt.Errorf("open durations: %w", err)
		}
		defer d.Close()
		files.Durations = d
	}
	if memFile != "" {
		m, err := os.Open(memFile)
		if err != nil {
			return nil, fmt.Errorf("open memory: %w", err)
		}
		defer m.Close()
		files.Memory = m
	}
	tr, err := sim.ReadAzure(files, sim.AzureOptions{Seed: seed, DefaultMemoryMB: policy.DefaultMemoryMB})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", invFile, err)
	}
	return tr, nil
}

func writeSimTable(w io.Writer, res []sim.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tcold %\tcold % p75 fn\twasted GB-s\tpre-warms\tunused pre-warms\tcold: first\tafter idle\tscale-up\tinvocations\tfunctions\t")
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t%.3f\t%.2f\t%.0f\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n",
			r.Policy, r.ColdPct, r.ColdPctP75Fn, r.WastedGBs, r.PreWarms, r.PreWarmsUnused,
			r.ColdFirst, r.ColdIdle, r.ColdScale, r.Invocations, r.Functions)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

type benchResult struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// simBounds runs sim.Bounds with fixed10m's wasted memory as the budget,
// replaying fixed10m if it was not among the policies run.
func simBounds(tr *sim.Trace, res []sim.Result, train time.Duration) ([]sim.Result, error) {
	budget := -1.0
	for _, r := range res {
		if r.Policy == "fixed10m" {
			budget = r.WastedGBs
		}
	}
	if budget < 0 {
		base, err := policy.Lookup("fixed10m")
		if err != nil {
			return nil, err
		}
		r, err := sim.Run(tr, []policy.Named{base}, sim.Options{Train: train})
		if err != nil {
			return nil, err
		}
		budget = r[0].WastedGBs
	}
	b, err := sim.Bounds(tr, sim.Options{Train: train}, budget)
	if err != nil {
		return nil, fmt.Errorf("bounds: %w", err)
	}
	return b, nil
}

func writeSimJSON(w io.Writer, res, bounds []sim.Result) error {
	var out []benchResult
	add := func(prefix string, r sim.Result) {
		p := prefix + r.Policy + "."
		out = append(out,
			benchResult{p + "cold_pct", r.ColdPct, "%"},
			benchResult{p + "cold_pct_p75_fn", r.ColdPctP75Fn, "%"},
			benchResult{p + "wasted_gb_s", r.WastedGBs, "GB-s"},
			benchResult{p + "prewarms_unused", float64(r.PreWarmsUnused), "count"},
			benchResult{p + "cold_first", float64(r.ColdFirst), "count"},
			benchResult{p + "cold_idle", float64(r.ColdIdle), "count"},
			benchResult{p + "cold_scale", float64(r.ColdScale), "count"},
		)
	}
	for _, r := range res {
		add("policy.", r)
	}
	for _, r := range bounds {
		add("bound.", r)
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(struct {
		Bench   string        `json:"bench"`
		Results []benchResult `json:"results"`
	}{"sim", out}); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

func newSimGenCommand() *cobra.Command {
	var (
		out  string
		opts sim.GenOptions
	)
	cmd := &cobra.Command{
		Use:   "gen --out DIR",
		Short: "Generate a synthetic trace in the Azure Functions 2019 format",
		Long: `gen writes DIR/invocations.csv, DIR/durations.csv and DIR/memory.csv: a
synthetic trace with the mix Shahrad et al. (USENIX ATC 2020) describe: most
functions invoked rarely, timers, bursty HTTP functions, daily cycles, and a few
functions taking most invocations. The same seed always gives the same files.`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out is required")
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", out, err)
			}
			s := sim.Generate(opts)
			names := []string{"invocations.csv", "durations.csv", "memory.csv"}
			var files []*os.File
			for _, n := range names {
				f, err := os.Create(filepath.Join(out, n))
				if err != nil {
					return fmt.Errorf("create trace file: %w", err)
				}
				defer f.Close()
				files = append(files, f)
			}
			if err := s.WriteAzure(files[0], files[1], files[2]); err != nil {
				return err
			}
			for _, f := range files {
				if err := f.Close(); err != nil {
					return fmt.Errorf("write %s: %w", f.Name(), err)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d functions, %d minutes to %s\n", len(s.Functions), s.Minutes, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write the trace files to")
	f.IntVar(&opts.Functions, "functions", 200, "number of functions")
	f.IntVar(&opts.Minutes, "minutes", 1440, "trace length in minutes")
	f.Uint64Var(&opts.Seed, "seed", 1, "generator seed")
	return cmd
}
