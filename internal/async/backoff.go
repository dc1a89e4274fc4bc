package async

import "time"

// Backoff is the delay before retry number attempt (1 for the first retry):
// "full jitter", a uniform draw from [0, min(cap, base·2^(attempt-1))).
// jitter is a uniform number in [0, 1).
//
// Full jitter spreads the retries of many failed invocations over the whole
// window instead of letting them hit a recovering dependency together; see
// "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015).
func Backoff(base, limit time.Duration, attempt int, jitter float64) time.Duration {
	if base <= 0 {
		return 0
	}
	ceiling := base
	for i := 1; i < attempt && ceiling < limit; i++ {
		ceiling *= 2
	}
	if limit > 0 && ceiling > limit {
		ceiling = limit
	}
	return time.Duration(jitter * float64(ceiling))
}
