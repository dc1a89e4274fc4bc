package sim

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
)

// GenOptions size a synthetic trace.
type GenOptions struct {
	// Functions is how many functions to generate (200).
	Functions int
	// Minutes is the trace length in minutes (1440, one day).
	Minutes int
	// Seed makes the trace; the same options always give the same trace.
	Seed uint64
}

// Synthetic is a generated trace in the Azure Functions 2019 shape:
// per-minute counts, duration percentiles and memory per function.
type Synthetic struct {
	Minutes   int
	Functions []SyntheticFunction
}

// SyntheticFunction is one generated function.
type SyntheticFunction struct {
	// Hash names the function (and its app and owner, one per function).
	Hash string
	// Kind is the pattern it follows: rare, timer, bursty, diurnal, heavy.
	Kind string
	// Trigger is the Azure trigger class the pattern stands for.
	Trigger string
	// Counts are invocations per minute.
	Counts []int
	// MedianMs is the median execution time; MemoryMB the instance size.
	MedianMs, MemoryMB float64
}

// mix is the share of each pattern, after Shahrad et al. (ATC 2020, §3):
// most functions are invoked rarely (45% of applications at most once an
// hour), timers are the most common single trigger after HTTP and are
// strictly periodic, HTTP traffic comes in bursts, many functions follow the
// day, and a few functions take almost all invocations.
var mix = []struct {
	kind, trigger string
	share         float64
}{
	{"rare", "http", 0.40},
	{"timer", "timer", 0.20},
	{"bursty", "http", 0.15},
	{"diurnal", "queue", 0.15},
	{"heavy", "http", 0.10},
}

// Generate makes a synthetic trace.
func Generate(opts GenOptions) *Synthetic {
	if opts.Functions <= 0 {
		opts.Functions = 200
	}
	if opts.Minutes <= 0 {
		opts.Minutes = 1440
	}
	s := &Synthetic{Minutes: opts.Minutes}
	for i := range opts.Functions {
		r := newRNG(opts.Seed*0x100000001b3 + uint64(i) + 1)
		// Deal kinds in proportion, in a fixed order, so that even a small
		// trace has every pattern.
		kind := mix[len(mix)-1]
		acc := 0.0
		pos := (float64(i) + 0.5) / float64(opts.Functions)
		for _, m := range mix {
			acc += m.share
			if pos < acc {
				kind = m
				break
			}
		}
		f := SyntheticFunction{
			Hash:     fmt.Sprintf("%016x%016x", r.next(), r.next()),
			Kind:     kind.kind,
			Trigger:  kind.trigger,
			MedianMs: logUniform(r, 50, 30000),
			MemoryMB: math.Round(logUniform(r, 128, 2048)),
		}
		f.Counts = genCounts(r, kind.kind, opts.Minutes)
		s.Functions = append(s.Functions, f)
	}
	return s
}

func genCounts(r *rng, kind string, minutes int) []int {
	c := make([]int, minutes)
	switch kind {
	case "rare":
		rate := logUniform(r, 1.0/720, 1.0/30)
		for m := range c {
			c[m] = poisson(r, rate)
		}
	case "timer":
		periods := []int{1, 2, 5, 10, 15, 30, 60, 120}
		p := periods[int(r.float()*float64(len(periods)))]
		phase := int(r.float() * float64(p))
		per := 1 + int(r.float()*3) // some timers fan out to a few invocations
		for m := phase; m < minutes; m += p {
			if r.float() < 0.97 { // a tick is sometimes skipped or late
				c[m] = per
			}
		}
	case "bursty":
		off, on := logUniform(r, 20, 240), logUniform(r, 2, 15)
		rate := logUniform(r, 2, 60)
		for m := 0; m < minutes; {
			m += int(-off * math.Log(1-r.float()))
			for end := m + 1 + int(-on*math.Log(1-r.float())); m < end && m < minutes; m++ {
				c[m] = poisson(r, rate)
			}
		}
	case "diurnal":
		base := logUniform(r, 0.2, 50)
		for m := range c {
			day := math.Sin(math.Pi * float64(m%1440-360) / 720) // peak at 12:00
			c[m] = poisson(r, base*(0.05+math.Max(day, 0)))
		}
	default: // heavy
		base := logUniform(r, 50, 2000)
		for m := range c {
			day := math.Sin(math.Pi * float64(m%1440-360) / 720)
			c[m] = poisson(r, base*(0.6+0.4*day))
		}
	}
	return c
}

func logUniform(r *rng, lo, hi float64) float64 {
	return math.Exp(math.Log(lo) + r.float()*(math.Log(hi)-math.Log(lo)))
}

// poisson draws a Poisson count: Knuth's method for small means, a rounded
// normal approximation for large ones (exact enough for trace shapes).
func poisson(r *rng, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 30 {
		u1, u2 := 1-r.float(), r.float()
		z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
		return max(0, int(math.Round(mean+z*math.Sqrt(mean))))
	}
	limit, k, p := math.Exp(-mean), 0, r.float()
	for p > limit {
		k++
		p *= r.float()
	}
	return k
}

// durationShape is the ratio of each reported duration percentile to the
// median, a long right tail as in the Azure trace.
var durationShape = []float64{0.2, 0.3, 0.7, 1, 1.5, 5, 10}

// WriteAzure writes the trace as the three Azure files, with the published
// trace's header layout (HashOwner,HashApp,HashFunction,Trigger,1..N).
func (s *Synthetic) WriteAzure(inv, dur, mem io.Writer) error {
	w := csv.NewWriter(inv)
	h := []string{"HashOwner", "HashApp", "HashFunction", "Trigger"}
	for m := 1; m <= s.Minutes; m++ {
		h = append(h, strconv.Itoa(m))
	}
	rows := [][]string{h}
	for _, f := range s.Functions {
		row := []string{f.Hash, f.Hash, f.Hash, f.Trigger}
		for _, n := range f.Counts {
			row = append(row, strconv.Itoa(n))
		}
		rows = append(rows, row)
	}
	if err := w.WriteAll(rows); err != nil {
		return fmt.Errorf("write invocations: %w", err)
	}
	w = csv.NewWriter(dur)
	h = []string{"HashOwner", "HashApp", "HashFunction", "Average", "Count", "Minimum", "Maximum"}
	for _, c := range durationColumns {
		h = append(h, c.name)
	}
	rows = [][]string{h}
	for _, f := range s.Functions {
		total := 0
		for _, n := range f.Counts {
			total += n
		}
		ms := func(x float64) string { return strconv.FormatFloat(math.Round(f.MedianMs*x), 'f', 0, 64) }
		row := []string{f.Hash, f.Hash, f.Hash, ms(1.3), strconv.Itoa(total), ms(durationShape[0]), ms(durationShape[6])}
		for _, x := range durationShape {
			row = append(row, ms(x))
		}
		rows = append(rows, row)
	}
	if err := w.WriteAll(rows); err != nil {
		return fmt.Errorf("write durations: %w", err)
	}
	w = csv.NewWriter(mem)
	rows = [][]string{{"HashOwner", "HashApp", "SampleCount", "AverageAllocatedMb"}}
	for _, f := range s.Functions {
		rows = append(rows, []string{f.Hash, f.Hash, "1", strconv.FormatFloat(f.MemoryMB, 'f', 0, 64)})
	}
	if err := w.WriteAll(rows); err != nil {
		return fmt.Errorf("write memory: %w", err)
	}
	return nil
}
