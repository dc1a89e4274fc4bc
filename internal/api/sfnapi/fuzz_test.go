package sfnapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hearth-sh/hearth/internal/api/sfnapi"
	"github.com/hearth-sh/hearth/internal/workflow/engine/enginetest"
)

// FuzzOperations sends arbitrary bodies to every operation: the handler
// must answer each with a JSON status (200, or an AWS error with its
// type), never panic or hang.
func FuzzOperations(f *testing.F) {
	ops := []string{"CreateStateMachine", "UpdateStateMachine", "DescribeStateMachine", "ListStateMachines",
		"DeleteStateMachine", "StartExecution", "StartSyncExecution", "DescribeExecution", "ListExecutions",
		"GetExecutionHistory", "StopExecution", "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "Nope"}
	for i := range ops {
		f.Add(uint8(i), `{}`)
		f.Add(uint8(i), `{"name":"m","definition":"{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}}","roleArn":"r"}`)
		f.Add(uint8(i), `{"stateMachineArn":"arn:aws:states:local:000000000000:stateMachine:m","input":"{}","maxResults":1,"nextToken":"1"}`)
		f.Add(uint8(i), `{"taskToken":"arn:aws:states:x/#1/0","output":"[1"}`)
	}
	h := sfnapi.New(enginetest.Start(f, nil))
	f.Fuzz(func(t *testing.T, op uint8, body string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", sfnapi.TargetPrefix+ops[int(op)%len(ops)])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Header().Get("X-Amzn-ErrorType") == "" {
			t.Fatalf("status %d without an error type: %s", rec.Code, rec.Body)
		}
		if rec.Code == http.StatusInternalServerError {
			t.Fatalf("internal error for %q: %s", body, rec.Body)
		}
	})
}
