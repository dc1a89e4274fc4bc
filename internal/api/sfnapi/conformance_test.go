package sfnapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestConformanceThroughTheAPI runs the conformance cases that exercise
// the Step Functions API rather than the interpreter (the sfn_api area's
// GetExecutionHistory cases, with and without reverseOrder) through this
// handler with the AWS SDK, and compares the event types with what AWS
// recorded. internal/workflow's conformance test lists them as known
// failures there, pointing here.
func TestConformanceThroughTheAPI(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// The repository's parent holds shared/ beside it.
	path := filepath.Join(wd, "..", "..", "..", "..", "shared", "conformance", "asl", "cases.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("conformance corpus not found at %s: %v", path, err)
	}
	defer f.Close()
	c := newClient(t)
	ctx := context.Background()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	ran := 0
	for sc.Scan() {
		var tc struct {
			ID         string
			Definition json.RawMessage
			Input      json.RawMessage
			Events     []struct{ Type string }
		}
		if err := json.Unmarshal(sc.Bytes(), &tc); err != nil {
			t.Fatal(err)
		}
		_, variant, ok := strings.Cut(tc.ID, "#get_execution_history_reverseOrder[")
		if !ok {
			continue
		}
		reverse := strings.HasPrefix(variant, "True")
		ran++
		t.Run(tc.ID, func(t *testing.T) {
			name := "conf" + strings.TrimSuffix(variant, "]")
			m, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(name), RoleArn: aws.String("r"), Definition: aws.String(string(tc.Definition))})
			if err != nil {
				t.Fatal(err)
			}
			x, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: m.StateMachineArn, Input: aws.String(string(tc.Input))})
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				d, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn})
				if err != nil {
					t.Fatal(err)
				}
				if d.Status != types.ExecutionStatusRunning {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the execution did not finish")
				}
			}
			h, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn, ReverseOrder: reverse})
			if err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, ev := range h.Events {
				got = append(got, string(ev.Type))
			}
			for _, ev := range tc.Events {
				want = append(want, ev.Type)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("events %v, want %v", got, want)
			}
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if ran != 2 {
		t.Fatalf("found %d reverseOrder cases in the corpus, want 2", ran)
	}
}
