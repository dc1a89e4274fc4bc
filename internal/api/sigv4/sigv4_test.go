package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const secret = "s3cret-token"

// TestVerify signs requests with the AWS SDK's signer, sends them over HTTP
// and checks them on the server side, as the node does.
func TestVerify(t *testing.T) {
	now := time.Now()
	var gotErr error
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotErr = Verify(r, secret, now, 1<<20)
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
	}))
	defer srv.Close()

	tests := []struct {
		name string
		path string
		body string
		// sign changes what is signed or how.
		key        string
		signedBody string
		at         time.Time
		after      func(*http.Request) // changes the request after signing
		wantErr    string
	}{
		{name: "valid", path: "/2015-03-31/functions/echo/invocations", body: `{"a":1}`},
		{name: "valid with query and escaped path", path: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A0%3Afunction%3Aecho/invocations?Qualifier=%24LATEST", body: `{}`},
		{name: "empty body", path: "/2015-03-31/functions/echo/invocations"},
		{name: "wrong secret", path: "/x", body: "{}", key: "other", wantErr: "does not match"},
		{name: "body changed", path: "/x", body: `{"a":2}`, signedBody: `{"a":1}`, wantErr: "does not match"},
		{name: "signed long ago", path: "/x", at: now.Add(-20 * time.Minute), wantErr: "from the node's clock"},
		{name: "signed header changed", path: "/x", body: "{}", after: func(r *http.Request) { r.Header.Set("X-Amz-Invocation-Type", "Event") }, wantErr: "does not match"},
		{name: "not sigv4", path: "/x", after: func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }, wantErr: "not AWS4-HMAC-SHA256"},
		{name: "no credential", path: "/x", after: func(r *http.Request) {
			r.Header.Set("Authorization", Scheme+" SignedHeaders=host, Signature=00")
		}, wantErr: "lacks Credential"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
			signed := tt.body
			if tt.signedBody != "" {
				signed = tt.signedBody
			}
			sum := sha256.Sum256([]byte(signed))
			key, at := secret, now
			if tt.key != "" {
				key = tt.key
			}
			if !tt.at.IsZero() {
				at = tt.at
			}
			creds := aws.Credentials{AccessKeyID: "hearth", SecretAccessKey: key}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", at); err != nil {
				t.Fatal(err)
			}
			if tt.after != nil {
				tt.after(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch {
			case tt.wantErr == "" && gotErr != nil:
				t.Fatalf("Verify: %v", gotErr)
			case tt.wantErr != "" && (gotErr == nil || !strings.Contains(gotErr.Error(), tt.wantErr)):
				t.Fatalf("Verify = %v, want an error containing %q", gotErr, tt.wantErr)
			case tt.wantErr == "" && gotBody != tt.body:
				t.Fatalf("the handler read %q after Verify, want the body %q", gotBody, tt.body)
			}
		})
	}
}

// TestVerifyBodyLimit: a signed body over the caller's limit is refused
// with ErrBodyTooLarge, before any signature work.
func TestVerifyBodyLimit(t *testing.T) {
	body := strings.Repeat("x", 2048)
	req := httptest.NewRequest(http.MethodPost, "http://node/2015-03-31/functions/f/invocations", strings.NewReader(body))
	sum := sha256.Sum256([]byte(body))
	now := time.Now()
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "k", SecretAccessKey: secret}, req,
		hex.EncodeToString(sum[:]), "lambda", "us-east-1", now); err != nil {
		t.Fatal(err)
	}
	if err := Verify(req, secret, now, 1024); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("Verify = %v, want ErrBodyTooLarge", err)
	}
}

// TestWriteError: refusals are answered as AWS services answer them, so
// that the SDKs name the error.
func TestWriteError(t *testing.T) {
	tests := []struct {
		err        error
		wantStatus int
		wantType   string
	}{
		{errors.New("the signature does not match"), http.StatusForbidden, "InvalidSignatureException"},
		{fmt.Errorf("%w: more than 6 bytes", ErrBodyTooLarge), http.StatusRequestEntityTooLarge, "RequestTooLargeException"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		WriteError(rec, tt.err)
		var body struct{ Message string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tt.wantStatus || rec.Header().Get("X-Amzn-ErrorType") != tt.wantType || body.Message != tt.err.Error() {
			t.Errorf("%v: %d %s %q, want %d %s", tt.err, rec.Code, rec.Header().Get("X-Amzn-ErrorType"), body.Message, tt.wantStatus, tt.wantType)
		}
	}
}
