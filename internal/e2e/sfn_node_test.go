package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/hearth-sh/hearth/client"
	"github.com/hearth-sh/hearth/internal/node"
)

// TestStepFunctionsSDKOnANode: the official AWS SDK's Step Functions client,
// pointed at a node's URL, creates a state machine whose Task is a Lambda
// ARN naming a hearth function, runs it, and reads its history.
func TestStepFunctionsSDKOnANode(t *testing.T) {
	n, c := startNode(t, node.Config{})
	deploy(t, c, "hello", client.FunctionConfig{}, build(t, "../../examples/hello"))
	sc := sfn.New(sfn.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(n.URL()),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "hearth", SecretAccessKey: "hearth"}, nil
		}),
		RetryMaxAttempts: 1,
	})
	ctx := context.Background()
	def := `{"StartAt":"Hello","States":{"Hello":{"Type":"Task",
		"Resource":"arn:aws:lambda:us-east-1:123456789012:function:hello","End":true}}}`
	m, err := sc.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("greet"), Definition: aws.String(def),
		RoleArn: aws.String("arn:aws:iam::123456789012:role/x")})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := sc.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: m.StateMachineArn, Input: aws.String(`{"name":"sfn"}`)})
	if err != nil {
		t.Fatal(err)
	}
	var d *sfn.DescribeExecutionOutput
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		d, err = sc.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: ex.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != types.ExecutionStatusRunning || time.Now().After(deadline) {
			break
		}
	}
	if d.Status != types.ExecutionStatusSucceeded || !strings.Contains(aws.ToString(d.Output), "hello, sfn") {
		t.Fatalf("execution %s: %s", d.Status, aws.ToString(d.Output))
	}
	h, err := sc.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: ex.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range h.Events {
		kinds = append(kinds, string(e.Type))
	}
	if got := strings.Join(kinds, ","); !strings.Contains(got, "LambdaFunctionSucceeded") || !strings.HasSuffix(got, "ExecutionSucceeded") {
		t.Fatalf("history: %s", got)
	}
	// The dashboard's workflow view shows the execution and its state's progress.
	resp, err := http.Get(n.URL() + "/v1/dashboard/workflows/" + url.PathEscape(aws.ToString(ex.ExecutionArn)))
	if err != nil {
		t.Fatal(err)
	}
	var detail struct {
		Status string            `json:"status"`
		States map[string]string `json:"states"`
	}
	err = json.NewDecoder(resp.Body).Decode(&detail)
	resp.Body.Close()
	if err != nil || detail.Status != "SUCCEEDED" || detail.States["Hello"] != "succeeded" {
		t.Fatalf("dashboard workflow view: %d %+v %v", resp.StatusCode, detail, err)
	}
	if m := scrape(t, n.URL()); !strings.Contains(m, `hearth_workflow_executions{status="SUCCEEDED"} 1`) {
		t.Fatalf("metrics lack the succeeded execution:\n%s", grepLines([]byte(m), "hearth_workflow"))
	}
	if _, err := sc.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(aws.ToString(m.StateMachineArn) + "x")}); err == nil ||
		!strings.Contains(err.Error(), "StateMachineDoesNotExist") {
		t.Fatalf("unknown machine: %v", err)
	}
}
