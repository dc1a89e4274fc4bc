package stateapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestNative(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			c := newClient(t, b.open(t))

			c.do("GET", "/v1/state/s/k", "").want(t, "GET missing", http.StatusNotFound, "key_not_found")
			c.do("GET", "/v1/state/nope/k", "").want(t, "unknown store", http.StatusNotFound, "store_not_found")

			put := c.do("PUT", "/v1/state/s/k", "v1").want(t, "PUT", http.StatusNoContent, "")
			etag1 := put.header.Get("ETag")
			if !strings.HasPrefix(etag1, `"`) {
				t.Fatalf("PUT ETag %q is not a quoted entity tag", etag1)
			}
			get := c.do("GET", "/v1/state/s/k", "").want(t, "GET", http.StatusOK, "")
			if get.body != "v1" || get.header.Get("ETag") != etag1 {
				t.Fatalf("GET = %q ETag %q, want v1 ETag %s", get.body, get.header.Get("ETag"), etag1)
			}
			c.do("GET", "/v1/state/s/k", "", "If-None-Match", etag1).want(t, "GET If-None-Match current", http.StatusNotModified, "")

			etag2 := c.do("PUT", "/v1/state/s/k", "v2", "If-Match", etag1).want(t, "PUT If-Match", http.StatusNoContent, "").header.Get("ETag")
			c.do("PUT", "/v1/state/s/k", "v3", "If-Match", etag1).want(t, "PUT stale If-Match", http.StatusConflict, "etag_mismatch")
			c.do("PUT", "/v1/state/s/k", "v3", "If-Match", `W/"1"`).want(t, "weak ETag", http.StatusBadRequest, "invalid_etag")
			c.do("PUT", "/v1/state/s/k", "v3", "If-Match", `"abc"`).want(t, "malformed ETag", http.StatusBadRequest, "invalid_etag")
			c.do("PUT", "/v1/state/s/k", "v3", "If-Match", "*").want(t, "If-Match *", http.StatusBadRequest, "bad_request")
			c.do("PUT", "/v1/state/s/k", "v3", "If-None-Match", "*").want(t, "create existing", http.StatusPreconditionFailed, "key_exists")
			c.do("PUT", "/v1/state/s/new", "n", "If-None-Match", "*").want(t, "create", http.StatusNoContent, "")
			c.do("PUT", "/v1/state/s/k?ttl=soon", "v3").want(t, "bad ttl", http.StatusBadRequest, "bad_request")
			c.do("PUT", "/v1/state/s/t?ttl=30", "x").want(t, "ttl in seconds", http.StatusNoContent, "")
			c.do("PUT", "/v1/state/s/t2?ttl=1h", "x").want(t, "ttl as duration", http.StatusNoContent, "")

			c.do("PUT", "/v1/state/s/big", strings.Repeat("x", 1<<20+1)).want(t, "oversized value", http.StatusRequestEntityTooLarge, "payload_too_large")
			long := strings.Repeat("k", 1025)
			c.do("PUT", "/v1/state/s/"+long, "v").want(t, "long key", http.StatusBadRequest, "invalid_key")
			c.do("PUT", "/v1/state/s/a%0Ab", "v").want(t, "control char in key", http.StatusBadRequest, "invalid_key")

			// Unicode and slashes in keys travel in the path.
			key := "orders/ключ 1"
			c.do("PUT", "/v1/state/s/"+url.PathEscape(key), "u").want(t, "unicode key", http.StatusNoContent, "")
			if got := c.do("GET", "/v1/state/s/"+url.PathEscape(key), "").want(t, "unicode GET", http.StatusOK, ""); got.body != "u" {
				t.Fatalf("unicode key GET = %q", got.body)
			}

			// Encoded slashes keep segments the router would otherwise clean.
			// url.PathEscape leaves "." alone, so the keys "." and ".." need
			// %2E by hand.
			for key, path := range map[string]string{"a//b": url.PathEscape("a//b"), "a/../b": url.PathEscape("a/../b"),
				"x?y#z": url.PathEscape("x?y#z"), ".": "%2E", "..": "%2E%2E"} {
				c.do("PUT", "/v1/state/s/"+path, key).want(t, "PUT "+key, http.StatusNoContent, "")
				if got := c.do("GET", "/v1/state/s/"+path, ""); got.body != key {
					t.Fatalf("GET %q = %d %q", key, got.status, got.body)
				}
			}

			c.do("DELETE", "/v1/state/s/k", "", "If-Match", etag1).want(t, "DELETE stale", http.StatusConflict, "etag_mismatch")
			c.do("DELETE", "/v1/state/s/k", "", "If-Match", etag2).want(t, "DELETE", http.StatusNoContent, "")
			c.do("DELETE", "/v1/state/s/k", "").want(t, "DELETE missing", http.StatusNoContent, "")
			c.do("GET", "/v1/state/s/k", "").want(t, "GET deleted", http.StatusNotFound, "key_not_found")
		})
	}
}

func TestNativeListBulkTransaction(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			c := newClient(t, b.open(t))
			for _, k := range []string{"p/1", "p/2", "p/3", "q/1"} {
				c.do("PUT", "/v1/state/s/"+k, k).want(t, "PUT "+k, http.StatusNoContent, "")
			}
			var page struct {
				Keys   []string `json:"keys"`
				Cursor string   `json:"cursor"`
			}
			decode := func(r response, v any) {
				t.Helper()
				if err := json.Unmarshal([]byte(r.body), v); err != nil {
					t.Fatalf("body %q: %v", r.body, err)
				}
			}
			decode(c.do("GET", "/v1/state/s?prefix=p/&limit=2", "").want(t, "list", http.StatusOK, ""), &page)
			if strings.Join(page.Keys, ",") != "p/1,p/2" || page.Cursor == "" {
				t.Fatalf("first page %+v", page)
			}
			cursor := page.Cursor
			page.Keys, page.Cursor = nil, ""
			decode(c.do("GET", "/v1/state/s?prefix=p/&limit=2&cursor="+url.QueryEscape(cursor), "").want(t, "list 2", http.StatusOK, ""), &page)
			if strings.Join(page.Keys, ",") != "p/3" || page.Cursor != "" {
				t.Fatalf("second page %+v", page)
			}
			c.do("GET", "/v1/state/s?limit=x", "").want(t, "bad limit", http.StatusBadRequest, "bad_request")

			var bulk struct {
				Items []struct {
					Key   string `json:"key"`
					Found bool   `json:"found"`
					Value []byte `json:"value"`
					ETag  string `json:"etag"`
				} `json:"items"`
			}
			decode(c.do("POST", "/v1/state/s/bulk", `{"keys":["p/1","zz"]}`).want(t, "bulk", http.StatusOK, ""), &bulk)
			if len(bulk.Items) != 2 || !bulk.Items[0].Found || string(bulk.Items[0].Value) != "p/1" || bulk.Items[0].ETag == "" || bulk.Items[1].Found {
				t.Fatalf("bulk = %+v", bulk)
			}
			c.do("POST", "/v1/state/s/bulk", `{"keys":["p/1"]`).want(t, "bulk malformed", http.StatusBadRequest, "bad_request")
			c.do("POST", "/v1/state/s/bulk", `{"kyes":["p/1"]}`).want(t, "bulk unknown field", http.StatusBadRequest, "bad_request")
			c.do("POST", "/v1/state/s/bulk", `{"keys":[]}}`).want(t, "bulk trailing data", http.StatusBadRequest, "bad_request")

			etag := strings.Trim(bulk.Items[0].ETag, `"`)
			b64 := base64.StdEncoding.EncodeToString([]byte("new"))
			stale := `{"ops":[{"op":"set","key":"p/1","value":"` + b64 + `","ifMatch":"` + etag + `"},` +
				`{"op":"delete","key":"p/2"},{"op":"set","key":"p/3","value":"` + b64 + `","ifMatch":"999999"}]}`
			c.do("POST", "/v1/state/s/transaction", stale).want(t, "tx with a stale op", http.StatusConflict, "etag_mismatch")
			if r := c.do("GET", "/v1/state/s/p/1", ""); r.body != "p/1" {
				t.Fatalf("p/1 = %q after a failed transaction", r.body)
			}
			c.do("GET", "/v1/state/s/p/2", "").want(t, "p/2 after failed tx", http.StatusOK, "")
			ok := `{"ops":[{"op":"set","key":"p/1","value":"` + b64 + `","ifMatch":"` + etag + `","ttl":"1h"},{"op":"delete","key":"p/2"}]}`
			c.do("POST", "/v1/state/s/transaction", ok).want(t, "tx", http.StatusNoContent, "")
			if r := c.do("GET", "/v1/state/s/p/1", ""); r.body != "new" {
				t.Fatalf("p/1 = %q after the transaction", r.body)
			}
			c.do("GET", "/v1/state/s/p/2", "").want(t, "p/2 after tx", http.StatusNotFound, "key_not_found")

			bad := []struct{ name, body string }{
				{"not JSON", `ops`},
				{"unknown op", `{"ops":[{"op":"upsert","key":"a"}]}`},
				{"value not base64", `{"ops":[{"op":"set","key":"a","value":"!!"}]}`},
				{"delete with value", `{"ops":[{"op":"delete","key":"a","value":"eA=="}]}`},
				{"empty", `{"ops":[]}`},
				{"duplicate key", `{"ops":[{"op":"delete","key":"a"},{"op":"delete","key":"a"}]}`},
				{"bad ttl", `{"ops":[{"op":"set","key":"a","value":"eA==","ttl":"-1s"}]}`},
			}
			for _, tc := range bad {
				c.do("POST", "/v1/state/s/transaction", tc.body).want(t, "tx "+tc.name, http.StatusBadRequest, "")
			}
		})
	}
}

// FuzzNativeTransaction feeds arbitrary bodies to the transaction endpoint:
// it must answer with a client error or success, never a 5xx or a panic.
func FuzzNativeTransaction(f *testing.F) {
	f.Add(`{"ops":[{"op":"set","key":"a","value":"eA=="}]}`)
	f.Add(`{"ops":[{"op":"delete","key":"a","ifMatch":"1"}]}`)
	f.Add(`{"ops":[{"op":"set","key":"a","value":"eA==","ifNoneMatch":true,"ttl":"5s"}]}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		c := newClient(t, backends[0].open(t))
		r := c.do("POST", "/v1/state/s/transaction", body)
		if r.status >= 500 {
			t.Fatalf("status %d for body %q: %s", r.status, body, r.body)
		}
	})
}
