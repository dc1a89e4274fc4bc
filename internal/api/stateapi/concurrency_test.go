package stateapi_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// TestConcurrentIncrementsOverHTTP runs many clients doing compare-and-set
// increments of one key through the HTTP API (GET, then PUT with If-Match,
// retrying on 409) and checks that no increment is lost.
func TestConcurrentIncrementsOverHTTP(t *testing.T) {
	const clients, each = 8, 15
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			c := newClient(t, b.open(t))
			c.do("PUT", "/v1/state/s/counter", "0").want(t, "PUT", http.StatusNoContent, "")
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for i := 0; i < clients; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for done := 0; done < each; {
						get, err := c.try("GET", "/v1/state/s/counter", "")
						if err != nil || get.status != http.StatusOK {
							errs <- fmt.Errorf("GET: %v %+v", err, get)
							return
						}
						n, err := strconv.Atoi(get.body)
						if err != nil {
							errs <- fmt.Errorf("counter %q: %v", get.body, err)
							return
						}
						put, err := c.try("PUT", "/v1/state/s/counter", strconv.Itoa(n+1), "If-Match", get.header.Get("ETag"))
						switch {
						case err != nil:
							errs <- err
							return
						case put.status == http.StatusNoContent:
							done++
						case put.status != http.StatusConflict:
							errs <- fmt.Errorf("PUT: %d %s", put.status, put.body)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if got := c.do("GET", "/v1/state/s/counter", ""); got.body != strconv.Itoa(clients*each) {
				t.Fatalf("counter = %s after %d increments", got.body, clients*each)
			}
		})
	}
}
