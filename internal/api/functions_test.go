package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hearth-sh/hearth/internal/apierror"
	"github.com/hearth-sh/hearth/internal/invoke"
)

func TestReadPayload(t *testing.T) {
	big := bytes.Repeat([]byte("x"), presizedPayload+1)
	tests := []struct {
		name       string
		body       io.Reader
		length     int64 // the stated Content-Length; -1: none (chunked)
		want       []byte
		wantStatus int
		wantMsg    string
	}{
		{name: "stated length", body: strings.NewReader("{}"), length: 2, want: []byte("{}")},
		{name: "empty", body: strings.NewReader(""), length: 0, want: []byte{}},
		{name: "no stated length", body: strings.NewReader(`{"a":1}`), length: -1, want: []byte(`{"a":1}`)},
		{name: "larger than presized", body: bytes.NewReader(big), length: int64(len(big)), want: big},
		{name: "shorter than stated", body: strings.NewReader("{"), length: 2, wantStatus: http.StatusBadRequest, wantMsg: "fewer bytes than its Content-Length of 2"},
		{name: "over the limit, stated", body: io.LimitReader(zeros{}, invoke.MaxRequestBytes+1), length: invoke.MaxRequestBytes + 1,
			wantStatus: http.StatusRequestEntityTooLarge, wantMsg: "limit"},
		{name: "over the limit, unstated", body: io.LimitReader(zeros{}, invoke.MaxRequestBytes+1), length: -1,
			wantStatus: http.StatusRequestEntityTooLarge, wantMsg: "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/functions/f/invoke", tt.body)
			r.ContentLength = tt.length
			got, err := readPayload(httptest.NewRecorder(), r)
			if tt.wantStatus != 0 {
				var apiErr *apierror.Error
				if !errors.As(err, &apiErr) || apiErr.Status != tt.wantStatus || !strings.Contains(apiErr.Message, tt.wantMsg) {
					t.Fatalf("readPayload error = %v, want status %d with %q", err, tt.wantStatus, tt.wantMsg)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("readPayload = %.40q, %v; want %.40q", got, err, tt.want)
			}
		})
	}
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
