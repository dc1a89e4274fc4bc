package sim

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/hearth-sh/hearth/internal/policy"
)

// hindsightTTLs are the keep-alives a hindsight choice picks from, per
// function.
var hindsightTTLs = []time.Duration{
	0, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 20 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour,
}

// Bounds measures what no real policy can beat, to read a policy's result
// against. It returns two rows:
//
//   - "keep_all": every instance is kept until the trace ends. Its cold
//     starts are the functions' first invocations plus every arrival that
//     needs more instances at once than the function ever ran before: the
//     cold starts no policy that sizes capacity from history avoids, at any
//     memory cost.
//   - "hindsight_ttl": each function gets the fixed keep-alive (from 0 to 4
//     hours) that, chosen knowing the measured part itself, gives the fewest
//     cold starts overall within budgetGBs of idle memory-time. A policy of
//     the keep-alive family cannot do better at that budget without
//     foreseeing arrivals; beating it takes pre-warming on a forecast.
//
// The budget is spent across functions by a Lagrangian sweep (each function
// minimises cold starts + λ·GB-s for the λ that fits the budget), which finds
// the best allocations on the convex hull of each function's choices, and
// the memory left over is then spent greedily on the upgrades that save the
// most cold starts per GB-s: a close approximation of the exact optimum.
func Bounds(tr *Trace, opts Options, budgetGBs float64) ([]Result, error) {
	if opts.Train < 0 || opts.Train >= tr.Length {
		return nil, fmt.Errorf("train part %v must be shorter than the trace (%v)", opts.Train, tr.Length)
	}
	keepAll := runOne(tr, policy.Named{Name: "keep_all", New: func(policy.Function) policy.Policy {
		return policy.NewFixed(tr.Length)
	}}, opts)

	// tallies[i][j] is function i replayed with hindsightTTLs[j].
	tallies := make([][]tally, len(tr.Functions))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, f := range tr.Functions {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			row := make([]tally, len(hindsightTTLs))
			for j, ttl := range hindsightTTLs {
				row[j] = replay(f, policy.NewFixed(ttl), tr.Start, opts.Train, tr.Length)
			}
			tallies[i] = row
			<-sem
		}()
	}
	wg.Wait()

	// choose picks each function's keep-alive for the exchange rate lambda.
	choose := func(lambda float64) ([]tally, float64) {
		picked := make([]tally, len(tallies))
		total := 0.0
		for i, row := range tallies {
			best := 0
			for j, t := range row {
				if cost(t, lambda) < cost(row[best], lambda) {
					best = j
				}
			}
			picked[i] = row[best]
			total += row[best].wastedGBs
		}
		return picked, total
	}
	// The wasted memory falls as lambda rises; find the smallest lambda
	// (most memory, fewest cold starts) that fits, on a log scale.
	lo, hi := math.Log(1e-12), math.Log(1e3)
	for range 60 {
		mid := (lo + hi) / 2
		if _, w := choose(math.Exp(mid)); w <= budgetGBs {
			hi = mid
		} else {
			lo = mid
		}
	}
	picked, _ := choose(math.Exp(hi))
	fill(tallies, picked, budgetGBs)
	return []Result{keepAll, summarise("hindsight_ttl", picked)}, nil
}

// fill spends what is left of the budget: while some function can move to a
// keep-alive with fewer cold starts that still fits, it makes the move that
// saves the most cold starts per GB-s.
func fill(tallies [][]tally, picked []tally, budget float64) {
	used := 0.0
	for _, t := range picked {
		used += t.wastedGBs
	}
	for {
		bi, bj, bRate := -1, -1, 0.0
		for i, row := range tallies {
			for j, t := range row {
				saved := float64(picked[i].cold - t.cold)
				extra := t.wastedGBs - picked[i].wastedGBs
				if saved <= 0 || used+extra > budget {
					continue
				}
				rate := saved / math.Max(extra, 1e-9)
				if rate > bRate {
					bi, bj, bRate = i, j, rate
				}
			}
		}
		if bi < 0 {
			return
		}
		used += tallies[bi][bj].wastedGBs - picked[bi].wastedGBs
		picked[bi] = tallies[bi][bj]
	}
}

func cost(t tally, lambda float64) float64 { return float64(t.cold) + lambda*t.wastedGBs }
