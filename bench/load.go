package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// loadResult is what a closed-loop load run measured.
type loadResult struct {
	requests  int
	elapsed   time.Duration
	latencies []time.Duration
}

func (l loadResult) rps() float64 { return float64(l.requests) / l.elapsed.Seconds() }

// closedLoop runs conns workers, each on its own keep-alive connection,
// POSTing body to url back to back for d (after a warm-up of warm), and
// records every request's latency.
func closedLoop(ctx context.Context, url string, body []byte, conns int, warm, d time.Duration) (loadResult, error) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		res     loadResult
		firstEr error
	)
	start := time.Now()
	measureFrom := start.Add(warm)
	end := measureFrom.Add(d)
	for range conns {
		wg.Go(func() {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}}
			defer c.CloseIdleConnections()
			var lat []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				resp, err := c.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					mu.Lock()
					firstEr = err
					mu.Unlock()
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					mu.Lock()
					firstEr = fmt.Errorf("%s answered %s", url, resp.Status)
					mu.Unlock()
					return
				}
				if t0.After(measureFrom) {
					lat = append(lat, time.Since(t0))
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.requests = len(res.latencies)
	res.elapsed = d
	return res, firstEr
}
