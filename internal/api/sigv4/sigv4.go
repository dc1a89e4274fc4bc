// Package sigv4 checks AWS Signature Version 4 on incoming requests, so that
// AWS SDKs and the AWS CLI can call a node that requires its API token: the
// token is the secret access key, any access key id goes. The signature is
// recomputed with the AWS SDK's own signer over the request as it arrived,
// so hearth agrees with the SDKs on every canonicalisation detail.
package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Scheme is how a SigV4 Authorization header begins.
const Scheme = "AWS4-HMAC-SHA256"

// MaxSkew is how far a request's signing time may be from the node's clock,
// as AWS allows.
const MaxSkew = 15 * time.Minute

// ErrBodyTooLarge is returned for a signed body over the caller's limit.
var ErrBodyTooLarge = errors.New("the signed body is too large")

// IsSigned reports whether r carries a SigV4 Authorization header.
func IsSigned(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), Scheme+" ")
}

// Verify checks r's SigV4 signature against secret. It reads the body (at
// most maxBody bytes, to hash it) and puts it back for the handler. The
// error says what is wrong, for the caller's 401 message.
func Verify(r *http.Request, secret string, now time.Time, maxBody int64) error {
	auth, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return errors.New("the signed request has no valid X-Amz-Date")
	}
	if d := now.Sub(at); d > MaxSkew || d < -MaxSkew {
		return fmt.Errorf("the request was signed at %s, more than %s from the node's clock", at.Format(time.RFC3339), MaxSkew)
	}
	if auth.date != at.Format("20060102") {
		return errors.New("the credential scope's date is not the signing date")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("reading the signed body: %w", err)
	}
	if int64(len(body)) > maxBody {
		return fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, maxBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != "UNSIGNED-PAYLOAD" && h != payloadHash {
		return errors.New("X-Amz-Content-Sha256 is not the hash of the body")
	}

	// The request again, with exactly the headers the client signed.
	again := &http.Request{Method: r.Method, Host: r.Host, Header: http.Header{},
		URL: &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}}
	for _, name := range auth.signedHeaders {
		switch name {
		case "host":
		case "content-length":
			again.ContentLength = r.ContentLength
		default:
			if vs := r.Header.Values(name); len(vs) > 0 {
				again.Header[http.CanonicalHeaderKey(name)] = vs
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: auth.accessKey, SecretAccessKey: secret,
		SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, payloadHash, auth.service, auth.region, at); err != nil {
		return fmt.Errorf("recomputing the signature: %w", err)
	}
	want, err := parseAuthorization(again.Header.Get("Authorization"))
	if err != nil {
		return fmt.Errorf("recomputing the signature: %w", err)
	}
	if strings.Join(want.signedHeaders, ";") != strings.Join(auth.signedHeaders, ";") {
		return fmt.Errorf("the signed headers %q are not the ones the request carries", strings.Join(auth.signedHeaders, ";"))
	}
	if subtle.ConstantTimeCompare([]byte(want.signature), []byte(auth.signature)) != 1 {
		return errors.New("the signature does not match: sign with the node's API token as the secret access key")
	}
	return nil
}

// WriteError answers a request whose signature Verify refused the way AWS
// services do, so that the SDKs report it by name: 403
// InvalidSignatureException (413 RequestTooLargeException for a body over
// the limit), the reason as the message.
func WriteError(w http.ResponseWriter, err error) {
	status, typ := http.StatusForbidden, "InvalidSignatureException"
	if errors.Is(err, ErrBodyTooLarge) {
		status, typ = http.StatusRequestEntityTooLarge, "RequestTooLargeException"
	}
	body, _ := json.Marshal(map[string]string{"Type": "User", "message": err.Error()})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

// parseAuthorization reads
// "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
// SignedHeaders=a;b, Signature=HEX".
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	rest, ok := strings.CutPrefix(h, Scheme+" ")
	if !ok {
		return a, errors.New("the Authorization header is not AWS4-HMAC-SHA256")
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("malformed Authorization part %q", part)
		}
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" {
				return a, fmt.Errorf("malformed credential scope %q", v)
			}
			a.accessKey, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKey == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return a, errors.New("the Authorization header lacks Credential, SignedHeaders or Signature")
	}
	return a, nil
}
