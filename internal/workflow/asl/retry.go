package asl

import (
	"math"
	"time"
)

// MatchRetrier returns the index of the first retrier whose ErrorEquals
// matches name, or -1.
func MatchRetrier(retry []*Retrier, name string) int {
	for i, r := range retry {
		if Matches(r.ErrorEquals, name) {
			return i
		}
	}
	return -1
}

// MatchCatcher returns the index of the first catcher whose ErrorEquals
// matches name, or -1.
func MatchCatcher(catch []*Catcher, name string) int {
	for i, c := range catch {
		if Matches(c.ErrorEquals, name) {
			return i
		}
	}
	return -1
}

// Delay returns how long to wait before retry number attempt (1 for the
// first retry): IntervalSeconds × BackoffRate^(attempt−1), capped at
// MaxDelaySeconds, then, with FULL jitter, scaled by jitter (a number in
// [0,1) the caller draws, so that this stays pure). ok is false when the
// retrier has no attempts left.
func (r *Retrier) Delay(attempt int, jitter float64) (d time.Duration, ok bool) {
	if attempt > r.MaxAttempts {
		return 0, false
	}
	secs := r.IntervalSeconds * math.Pow(r.BackoffRate, float64(attempt-1))
	if r.MaxDelaySeconds > 0 && secs > r.MaxDelaySeconds {
		secs = r.MaxDelaySeconds
	}
	if r.JitterStrategy == "FULL" {
		secs *= jitter
	}
	return time.Duration(secs * float64(time.Second)), true
}
