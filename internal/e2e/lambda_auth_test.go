package e2e

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
)

// TestLambdaAPIWithToken: on a node that requires its API token, the
// official AWS SDK signs its requests (SigV4) with the token as the secret
// access key and is let in; a wrong secret, or no signature, is refused.
func TestLambdaAPIWithToken(t *testing.T) {
	const token = "s3cret-token"
	n, _ := startNode(t, node.Config{Token: token})
	c := client.New(n.URL(), client.WithToken(token))
	deploy(t, c, "hello", client.FunctionConfig{}, build(t, "../../examples/hello"))

	sdk := func(secret string) *lambda.Client {
		return lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.URL()), RetryMaxAttempts: 1,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "any-key-id", SecretAccessKey: secret}, nil
			})})
	}
	tests := []struct {
		name       string
		secret     string
		wantStatus int // 0: success
		wantMsg    string
	}{
		{"the token as secret", token, 0, ""},
		{"a wrong secret", "guess", http.StatusForbidden, "signature does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := sdk(tt.secret).Invoke(context.Background(), &lambda.InvokeInput{
				FunctionName: aws.String("hello"), Payload: []byte(`{"name":"sdk"}`)})
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(out.Payload), "hello, sdk") {
					t.Fatalf("payload %s", out.Payload)
				}
				return
			}
			var re *smithyhttp.ResponseError
			var ae smithy.APIError
			if !errors.As(err, &re) || re.HTTPStatusCode() != tt.wantStatus || !errors.As(err, &ae) {
				t.Fatalf("err = %v, want HTTP %d", err, tt.wantStatus)
			}
			if ae.ErrorCode() != "InvalidSignatureException" || !strings.Contains(ae.ErrorMessage(), tt.wantMsg) {
				t.Fatalf("refused with %s %q, want InvalidSignatureException containing %q", ae.ErrorCode(), ae.ErrorMessage(), tt.wantMsg)
			}
		})
	}

	// Unsigned and unauthenticated: refused with the bearer-token hint.
	resp, err := http.Post(n.URL()+"/2015-03-31/functions/hello/invocations", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned request: %s, want 401", resp.Status)
	}
}
