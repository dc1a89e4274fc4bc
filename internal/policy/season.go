package policy

import "time"

// season keeps a function's peak concurrency per minute and finds the period
// with which it repeats, so that the instances a burst will need can be
// started just before it comes.
//
// Timer-driven functions fan out on a fixed schedule (every 2, 5, 15 or 60
// minutes are common in the Azure trace), and so do the functions they call;
// their concurrency peaks repeat with the timer's period. The period is the
// lag with the highest autocorrelation of the per-minute peaks over the
// recent history, if that correlation is strong.
type season struct {
	peaks []minutePeak // oldest first, at most history minutes back

	period   int64 // detected period in minutes; 0 when none
	periodAt int64 // minute of the last detection
}

type minutePeak struct {
	minute int64
	peak   int
}

const (
	// seasonHistory is how far back peaks are kept: three periods of the
	// longest period detected.
	seasonHistory = 3 * maxPeriod
	// maxPeriod is the longest period looked for, in minutes.
	maxPeriod = 60
	// minCorrelation is how strongly peaks must repeat to count as periodic.
	minCorrelation = 0.6
	// redetect is how often, in minutes, the period is looked for again.
	redetect = 30
)

func minuteOf(t time.Time) int64 { return t.Unix() / 60 }

// observe records an invocation's concurrency.
func (s *season) observe(at time.Time, conc int) {
	m := minuteOf(at)
	if n := len(s.peaks); n > 0 && s.peaks[n-1].minute >= m {
		// Arrivals come in order; one a little out of order joins the last
		// minute rather than rewriting history.
		s.peaks[n-1].peak = max(s.peaks[n-1].peak, conc)
	} else {
		s.peaks = append(s.peaks, minutePeak{minute: m, peak: conc})
	}
	drop := 0
	for drop < len(s.peaks) && s.peaks[drop].minute < m-seasonHistory {
		drop++
	}
	if drop > 0 {
		s.peaks = append(s.peaks[:0], s.peaks[drop:]...)
	}
}

// recent is the highest peak in the minutes since from.
func (s *season) recent(from time.Time) int {
	p := 0
	m := minuteOf(from)
	for i := len(s.peaks) - 1; i >= 0 && s.peaks[i].minute >= m; i-- {
		p = max(p, s.peaks[i].peak)
	}
	return p
}

// at returns the peak recorded for minute m (zero if none).
func (s *season) at(m int64) int {
	for i := len(s.peaks) - 1; i >= 0; i-- {
		switch {
		case s.peaks[i].minute == m:
			return s.peaks[i].peak
		case s.peaks[i].minute < m:
			return 0
		}
	}
	return 0
}

// refresh looks for the period again if it is due.
func (s *season) refresh(now time.Time) {
	m := minuteOf(now)
	if m-s.periodAt >= redetect || s.periodAt == 0 {
		s.period, s.periodAt = s.detect(m), m
	}
}

// need predicts the peak concurrency of the minute holding t and the next one
// from the same minutes one and two periods earlier; zero when the function
// is not periodic. Call refresh first.
func (s *season) need(t time.Time) int {
	m := minuteOf(t)
	if s.period == 0 {
		return 0
	}
	n := 0
	for _, target := range []int64{m, m + 1} {
		for k := int64(1); k <= 2; k++ {
			n = max(n, s.at(target-k*s.period))
		}
	}
	return n
}

// detect finds the period of the per-minute peaks before minute now.
func (s *season) detect(now int64) int64 {
	if len(s.peaks) == 0 {
		return 0
	}
	start := max(s.peaks[0].minute, now-seasonHistory)
	n := int(now - start)
	if n < 3*2 {
		return 0
	}
	x := make([]float64, n)
	for _, p := range s.peaks {
		if i := int(p.minute - start); i >= 0 && i < n {
			x[i] = float64(p.peak)
		}
	}
	mean := 0.0
	for _, v := range x {
		mean += v
	}
	mean /= float64(n)
	variance := 0.0
	for i := range x {
		x[i] -= mean
		variance += x[i] * x[i]
	}
	if variance == 0 {
		return 0 // constant: nothing to anticipate
	}
	best, bestAC := int64(0), minCorrelation
	for lag := 2; lag <= maxPeriod && 3*lag <= n; lag++ {
		c := 0.0
		for i := 0; i+lag < n; i++ {
			c += x[i] * x[i+lag]
		}
		// Normalise by the overlap so long lags are not penalised.
		ac := c / variance * float64(n) / float64(n-lag)
		if ac > bestAC {
			best, bestAC = int64(lag), ac
		}
	}
	return best
}
