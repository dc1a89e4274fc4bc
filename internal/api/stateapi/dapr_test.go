package stateapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestDapr(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			c := newClient(t, b.open(t))

			c.do("POST", "/v1.0/state/s", `[{"key":"weapon","value":"DeathStar"},{"key":"planet","value":{"name":"Tatooine"}}]`).
				want(t, "save", http.StatusNoContent, "")
			get := c.do("GET", "/v1.0/state/s/weapon", "").want(t, "get", http.StatusOK, "")
			if get.body != `"DeathStar"` || get.header.Get("ETag") == "" {
				t.Fatalf("get = %q ETag %q", get.body, get.header.Get("ETag"))
			}
			etag := get.header.Get("ETag")
			c.do("GET", "/v1.0/state/s/nothing", "").want(t, "get missing", http.StatusNoContent, "")
			c.do("GET", "/v1.0/state/nope/k", "").want(t, "unknown store", http.StatusBadRequest, "ERR_STATE_STORE_NOT_FOUND")

			c.do("POST", "/v1.0/state/s", `[{"key":"weapon","value":"X","etag":"999999"}]`).
				want(t, "save stale etag", http.StatusConflict, "ERR_STATE_SAVE")
			c.do("POST", "/v1.0/state/s", `[{"key":"weapon","value":"X","etag":"abc"}]`).
				want(t, "save invalid etag", http.StatusBadRequest, "ERR_STATE_SAVE")
			c.do("POST", "/v1.0/state/s", `[{"key":"weapon","value":"Y","etag":"`+etag+`"}]`).
				want(t, "save with etag", http.StatusNoContent, "")
			c.do("POST", "/v1.0/state/s", `[{"key":"weapon","value":"Z","options":{"concurrency":"first-write"}}]`).
				want(t, "first-write without etag on an existing key", http.StatusConflict, "ERR_STATE_SAVE")
			c.do("POST", "/v1.0/state/s", `[{"key":"ttl","value":1,"metadata":{"ttlInSeconds":"60"}}]`).
				want(t, "save with ttl", http.StatusNoContent, "")
			c.do("POST", "/v1.0/state/s", `[{"key":"ttl","value":1,"metadata":{"ttlInSeconds":"soon"}}]`).
				want(t, "bad ttl", http.StatusBadRequest, "ERR_MALFORMED_REQUEST")
			c.do("POST", "/v1.0/state/s", `[{"key":"k"`).want(t, "malformed", http.StatusBadRequest, "ERR_MALFORMED_REQUEST")
			c.do("POST", "/v1.0/state/s", `[{"key":"","value":1}]`).want(t, "empty key", http.StatusBadRequest, "ERR_MALFORMED_REQUEST")
			c.do("POST", "/v1.0/state/s", `[{"key":"k"}]`).want(t, "no value", http.StatusBadRequest, "ERR_MALFORMED_REQUEST")

			var bulk []struct {
				Key  string          `json:"key"`
				Data json.RawMessage `json:"data"`
				ETag string          `json:"etag"`
			}
			r := c.do("POST", "/v1.0/state/s/bulk", `{"keys":["planet","nothing"],"parallelism":10}`).want(t, "bulk", http.StatusOK, "")
			if err := json.Unmarshal([]byte(r.body), &bulk); err != nil {
				t.Fatal(err)
			}
			if len(bulk) != 2 || string(bulk[0].Data) != `{"name":"Tatooine"}` || bulk[0].ETag == "" || bulk[1].Key != "nothing" || bulk[1].Data != nil {
				t.Fatalf("bulk = %s", r.body)
			}

			etag = c.do("GET", "/v1.0/state/s/weapon", "").header.Get("ETag")
			c.do("POST", "/v1.0/state/s/transaction", `{"operations":[
				{"operation":"upsert","request":{"key":"a","value":"1"}},
				{"operation":"delete","request":{"key":"planet"}},
				{"operation":"upsert","request":{"key":"weapon","value":"W","etag":"999999"}}]}`).
				want(t, "tx with a stale etag", http.StatusConflict, "ERR_STATE_TRANSACTION")
			c.do("GET", "/v1.0/state/s/a", "").want(t, "a after failed tx", http.StatusNoContent, "")
			c.do("GET", "/v1.0/state/s/planet", "").want(t, "planet after failed tx", http.StatusOK, "")
			c.do("PUT", "/v1.0/state/s/transaction", `{"operations":[
				{"operation":"upsert","request":{"key":"a","value":"1","metadata":{"ttlInSeconds":"100"}}},
				{"operation":"delete","request":{"key":"planet"}},
				{"operation":"upsert","request":{"key":"weapon","value":"W","etag":"`+etag+`"}}]}`).
				want(t, "tx", http.StatusNoContent, "")
			if r := c.do("GET", "/v1.0/state/s/weapon", ""); r.body != `"W"` {
				t.Fatalf("weapon = %q after tx", r.body)
			}
			c.do("POST", "/v1.0/state/s/transaction", `{"operations":[{"operation":"merge","request":{"key":"a"}}]}`).
				want(t, "unknown operation", http.StatusBadRequest, "ERR_NOT_SUPPORTED_STATE_OPERATION")

			etag = c.do("GET", "/v1.0/state/s/weapon", "").header.Get("ETag")
			c.do("DELETE", "/v1.0/state/s/weapon", "", "If-Match", "999999").want(t, "delete stale", http.StatusConflict, "ERR_STATE_DELETE")
			c.do("DELETE", "/v1.0/state/s/weapon", "", "If-Match", etag).want(t, "delete", http.StatusNoContent, "")
			c.do("GET", "/v1.0/state/s/weapon", "").want(t, "get deleted", http.StatusNoContent, "")
		})
	}
}
