package wfapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/api/wfapi"
	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/workflow/engine/enginetest"
)

type server struct {
	t   *testing.T
	url string
}

func newServer(t *testing.T) *server {
	fns := &enginetest.Functions{}
	fns.Set("double", func(_ context.Context, body []byte) (any, *runtime.FunctionError) {
		var in struct{ N int }
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, &runtime.FunctionError{Type: "BadInput", Message: err.Error()}
		}
		return map[string]int{"N": in.N * 2}, nil
	})
	mux := http.NewServeMux()
	wfapi.Register(mux, enginetest.Start(t, fns))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &server{t: t, url: srv.URL}
}

// do sends a request and checks its status; it returns the body.
func (s *server) do(method, path, body string, want int) string {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		s.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, data, want)
	}
	return string(data)
}

func TestWorkflowAPI(t *testing.T) {
	s := newServer(t)
	def := `{"StartAt":"D","States":{"D":{"Type":"Task","Resource":"double","Next":"W"},"W":{"Type":"Wait","Seconds":3600,"End":true}}}`
	body, _ := json.Marshal(map[string]any{"name": "dbl", "definition": json.RawMessage(def)})
	s.do("POST", "/v1/workflows", string(body), http.StatusCreated)
	s.do("POST", "/v1/workflows", `{"name":"bad","definition":"{\"StartAt\":\"X\",\"States\":{}}"}`, http.StatusUnprocessableEntity)
	s.do("POST", "/v1/workflows", `{"name":"dbl","definition":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}}`, http.StatusConflict)
	if got := s.do("GET", "/v1/workflows", "", http.StatusOK); !strings.Contains(got, `"name":"dbl"`) {
		t.Fatalf("list: %s", got)
	}

	got := s.do("POST", "/v1/workflows/dbl/executions", `{"name":"e1","input":{"N":21}}`, http.StatusCreated)
	if !strings.Contains(got, `"status":"RUNNING"`) {
		t.Fatalf("start: %s", got)
	}
	// The execution parks on its Wait after the Task: poll its history.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.do("GET", "/v1/workflows/dbl/executions/e1/history", "", http.StatusOK), "WaitStateEntered") {
		if time.Now().After(deadline) {
			t.Fatal("the execution did not reach its Wait")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rev := s.do("GET", "/v1/workflows/dbl/executions/e1/history?reverse=true", "", http.StatusOK)
	var h struct{ Events []struct{ Type string } }
	if err := json.Unmarshal([]byte(rev), &h); err != nil || h.Events[0].Type != "WaitStateEntered" {
		t.Fatalf("reversed history: %s", rev)
	}
	if got := s.do("GET", "/v1/workflows/executions?status=RUNNING", "", http.StatusOK); !strings.Contains(got, `"name":"e1"`) {
		t.Fatalf("list running: %s", got)
	}
	s.do("GET", "/v1/workflows/executions?status=BOGUS", "", http.StatusBadRequest)
	got = s.do("POST", "/v1/workflows/dbl/executions/e1/stop", `{"error":"Op","cause":"enough"}`, http.StatusOK)
	if !strings.Contains(got, `"status":"ABORTED"`) || !strings.Contains(got, `"error":"Op"`) {
		t.Fatalf("stop: %s", got)
	}
	if got := s.do("GET", "/v1/workflows/dbl/executions/e1", "", http.StatusOK); !strings.Contains(got, `"status":"ABORTED"`) {
		t.Fatalf("describe: %s", got)
	}
	s.do("GET", "/v1/workflows/dbl/executions/nope", "", http.StatusNotFound)

	s.do("PUT", "/v1/workflows/dbl", `{"definition":{"StartAt":"D","States":{"D":{"Type":"Task","Resource":"double","End":true}}}}`, http.StatusOK)
	got = s.do("POST", "/v1/workflows/dbl/executions", `{"input":{"N":4},"sync":true}`, http.StatusCreated)
	if !strings.Contains(got, `"status":"SUCCEEDED"`) || !strings.Contains(got, `"output":{"N":8}`) {
		t.Fatalf("sync start: %s", got)
	}
	s.do("POST", "/v1/workflows/tasks/success", `{"token":"nonsense"}`, http.StatusBadRequest)
	s.do("POST", "/v1/workflows/tasks/failure", `{"token":"arn:aws:states:local:000000000000:execution:dbl:e1/#3/0","error":"E"}`, http.StatusNotFound)
	if got := s.do("GET", "/v1/workflows/dbl/versions", "", http.StatusOK); strings.Count(got, `"version":`) != 2 {
		t.Fatalf("versions: %s", got)
	}
	s.do("DELETE", "/v1/workflows/dbl", "", http.StatusNoContent)
	s.do("GET", "/v1/workflows/dbl", "", http.StatusNotFound)
}

// TestCallbackOverHTTP completes a .waitForTaskToken task through the API.
func TestCallbackOverHTTP(t *testing.T) {
	s := newServer(t)
	s.do("POST", "/v1/workflows", `{"name":"cb","definition":{"StartAt":"T","States":{"T":{"Type":"Task",
		"Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken","Parameters":{"QueueUrl":"q","MessageBody.$":"$$.Task.Token"},"End":true}}}}`, http.StatusCreated)
	s.do("POST", "/v1/workflows/cb/executions", `{"name":"c"}`, http.StatusCreated)
	var token string
	deadline := time.Now().Add(30 * time.Second)
	for token == "" {
		var h struct {
			Events []struct {
				Type  string
				Input json.RawMessage
			}
		}
		_ = json.Unmarshal([]byte(s.do("GET", "/v1/workflows/cb/executions/c/history", "", http.StatusOK)), &h)
		for _, ev := range h.Events {
			if ev.Type == "TaskScheduled" {
				var p struct{ MessageBody string }
				_ = json.Unmarshal(ev.Input, &p)
				token = p.MessageBody
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the task was not scheduled")
		}
	}
	body, _ := json.Marshal(map[string]any{"token": token, "output": map[string]string{"ok": "yes"}})
	s.do("POST", "/v1/workflows/tasks/heartbeat", string(body), http.StatusNoContent)
	s.do("POST", "/v1/workflows/tasks/success", string(body), http.StatusNoContent)
	for !strings.Contains(s.do("GET", "/v1/workflows/cb/executions/c", "", http.StatusOK), `"output":{"ok":"yes"}`) {
		if time.Now().After(deadline) {
			t.Fatal("the execution did not finish with the task's output")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
