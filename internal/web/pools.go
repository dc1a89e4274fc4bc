package web

import (
	"sort"
	"sync"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/telemetry"
)

// PoolSample is one function's instance counts at one time.
type PoolSample struct {
	Time        time.Time `json:"time"`
	Warm        int       `json:"warm"` // idle and ready
	Busy        int       `json:"busy"`
	Provisioned int       `json:"provisioned"`
	Waiting     int       `json:"waiting"`
}

func sampleOf(at time.Time, g telemetry.PoolGauge) PoolSample {
	return PoolSample{Time: at, Warm: g.Idle, Busy: g.Busy, Provisioned: g.Provisioned, Waiting: g.Wait}
}

// poolSampler reads the pool gauges every period and keeps a bounded
// history per function. It runs on its own timer, so that the invoke path
// never pays for it.
type poolSampler struct {
	clock  clock.Clock
	read   func() []telemetry.PoolGauge
	every  time.Duration
	keep   int // samples per function
	mu     sync.Mutex
	timer  clock.Timer
	closed bool
	hist   map[string][]PoolSample // oldest first, at most keep long
}

func newPoolSampler(c clock.Clock, read func() []telemetry.PoolGauge, every, history time.Duration) *poolSampler {
	s := &poolSampler{clock: c, read: read, every: every, keep: max(1, int(history/every)), hist: map[string][]PoolSample{}}
	if read != nil {
		s.mu.Lock()
		s.timer = c.AfterFunc(every, s.tick)
		s.mu.Unlock()
	}
	return s
}

func (s *poolSampler) tick() {
	now := s.clock.Now()
	gauges := s.read()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	seen := make(map[string]bool, len(gauges))
	for _, g := range gauges {
		seen[g.Function] = true
		s.hist[g.Function] = appendBounded(s.hist[g.Function], sampleOf(now, g), s.keep)
	}
	// A function whose pool went away (deleted) keeps its history until it
	// ages out; a zero sample marks the moment it went.
	for fn, h := range s.hist {
		if seen[fn] {
			continue
		}
		if now.Sub(h[len(h)-1].Time) > time.Duration(s.keep)*s.every {
			delete(s.hist, fn)
			continue
		}
		if last := h[len(h)-1]; last.Warm+last.Busy+last.Provisioned+last.Waiting != 0 {
			s.hist[fn] = appendBounded(h, PoolSample{Time: now}, s.keep)
		}
	}
	s.timer = s.clock.AfterFunc(s.every, s.tick)
}

func appendBounded(h []PoolSample, p PoolSample, keep int) []PoolSample {
	if len(h) >= keep {
		h = append(h[:0], h[len(h)-keep+1:]...)
	}
	return append(h, p)
}

func (s *poolSampler) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
}

// PoolSeries is one function's pool history plus a live reading.
type PoolSeries struct {
	Function string       `json:"function"`
	Samples  []PoolSample `json:"samples"`
}

// series returns the history of fn (every function when fn is empty),
// ending with a live reading so that the view is current between samples.
func (s *poolSampler) series(fn string) []PoolSeries {
	if s.read == nil {
		return []PoolSeries{}
	}
	now := s.clock.Now()
	live := map[string]PoolSample{}
	for _, g := range s.read() {
		live[g.Function] = sampleOf(now, g)
	}
	s.mu.Lock()
	out := make([]PoolSeries, 0, len(s.hist)+1)
	names := map[string]bool{}
	for name, h := range s.hist {
		if fn == "" || name == fn {
			names[name] = true
			out = append(out, PoolSeries{Function: name, Samples: append([]PoolSample(nil), h...)})
		}
	}
	s.mu.Unlock()
	for i := range out {
		if p, ok := live[out[i].Function]; ok {
			out[i].Samples = append(out[i].Samples, p)
		}
	}
	for name, p := range live {
		if !names[name] && (fn == "" || name == fn) {
			out = append(out, PoolSeries{Function: name, Samples: []PoolSample{p}})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Function < out[j].Function })
	return out
}
