// Command lambda-echo is an ordinary AWS Lambda function, written with the
// official github.com/aws/aws-lambda-go library, that hearth runs unchanged
// on its process runtime. It answers with the event it was given.
//
// Build and deploy (see docs/process.md):
//
//	GOOS=linux CGO_ENABLED=0 go build -o bootstrap ./examples/lambda-echo
//	zip function.zip bootstrap
//	hearth deploy echo --runtime process --zip function.zip --handler bootstrap
//	hearth invoke echo '{"hello":"world"}'
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func echo(_ context.Context, event json.RawMessage) (json.RawMessage, error) {
	return event, nil
}

func main() { lambda.Start(echo) }
