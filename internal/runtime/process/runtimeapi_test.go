package process

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// A shell custom runtime lets these tests say exactly what the guest sends.
const shellPrelude = `api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
ev=$(mktemp) h=$(mktemp)
next() { id=$(curl -s -D - -o $ev "$api/invocation/next" | tr -d '\r' | sed -n 's/^Lambda-Runtime-Aws-Request-Id: //ip'); }
`

func TestRuntimeAPIProtocol(t *testing.T) {
	for _, noSandbox := range []bool{false, true} {
		t.Run(fmt.Sprintf("no sandbox %v", noSandbox), func(t *testing.T) { testRuntimeAPIProtocol(t, noSandbox) })
	}
}

func testRuntimeAPIProtocol(t *testing.T, noSandbox bool) {
	r := newRuntime(t, Config{NoSandbox: noSandbox})
	tests := []struct {
		name    string
		script  string
		wantErr error  // from Invoke
		want    string // in the body (or error document)
		wantFE  string // function error type
	}{
		{"response", `next; curl -s -X POST --data-binary @$ev "$api/invocation/$id/response"; next`, nil, `{"x":1}`, ""},
		{"error document", `next; curl -s -X POST -d '{"errorMessage":"m","errorType":"E","stackTrace":["a"]}' "$api/invocation/$id/error"; next`, nil, `"stackTrace":["a"]`, "E"},
		{"error type from header", `next; curl -s -X POST -H 'Lambda-Runtime-Function-Error-Type: Fn.Bad' -d 'not json' "$api/invocation/$id/error"; next`, nil, `not json`, "Fn.Bad"},
		{"wrong request id is refused", `next; code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '1' "$api/invocation/nope/response"); curl -s -X POST -d "\"$code\"" "$api/invocation/$id/response"; next`, nil, `"400"`, ""},
		{"init error after start is refused", `next; code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{}' "$api/init/error"); curl -s -X POST -d "\"$code\"" "$api/invocation/$id/response"; next`, nil, `"403"`, ""},
		{"unknown route", `next; code=$(curl -s -o /dev/null -w '%{http_code}' "$api/nothing"); curl -s -X POST -d "\"$code\"" "$api/invocation/$id/response"; next`, nil, `"404"`, ""},
		{"next without answering", `next; next; sleep 1000`, runtime.ErrTrap, "without answering", ""},
		{"exit mid invocation", `next; exit 9`, runtime.ErrTrap, "status 9", ""},
		{"too large", `next; head -c 2000000 /dev/zero | curl -s -X POST --data-binary @- "$api/invocation/$id/response"; next`, runtime.ErrResponseTooLarge, "", ""},
		{"hang", `next; sleep 1000`, runtime.ErrTimeout, "killed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := spec("proto")
			sp.Timeout = time.Second
			tmpl, err := r.Prepare(context.Background(), sp, script(t, shellPrelude+tt.script+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			inst, _, err := tmpl.Spawn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			resp, err := inst.Invoke(ctx, runtime.Request{ID: "r1", Body: []byte(`{"x":1}`)})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %v containing %q", err, tt.wantErr, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fe := ""
			if resp.Error != nil {
				fe = resp.Error.Type
			}
			if fe != tt.wantFE || !strings.Contains(string(resp.Body), tt.want) {
				t.Fatalf("got %q (function error %q), want %q (%q)", resp.Body, fe, tt.want, tt.wantFE)
			}
		})
	}
}

func TestInvocationHeaders(t *testing.T) {
	r := newRuntime(t, Config{})
	sh := shellPrelude + `curl -s -D $h -o $ev "$api/invocation/next"
id=$(tr -d '\r' <$h | sed -n 's/^Lambda-Runtime-Aws-Request-Id: //ip')
tr -d '\r' <$h | grep -i '^Lambda-Runtime' | curl -s -X POST --data-binary @- "$api/invocation/$id/response"
next
`
	tmpl, err := r.Prepare(context.Background(), spec("hdr"), script(t, sh))
	if err != nil {
		t.Fatal(err)
	}
	inst, _, err := tmpl.Spawn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	resp, err := inst.Invoke(ctx, runtime.Request{ID: "abc123", Body: []byte(`{}`), Headers: map[string][]string{
		HeaderClientContext:   {"eyJjdXN0b20iOnsiayI6InYifX0="}, // {"custom":{"k":"v"}}
		HeaderCognitoIdentity: {`{"cognitoIdentityId":"i"}`},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Lambda-Runtime-Aws-Request-Id: abc123", "Lambda-Runtime-Deadline-Ms: 1",
		"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:hdr",
		"Lambda-Runtime-Trace-Id: Root=1-", `Lambda-Runtime-Client-Context: {"custom":{"k":"v"}}`,
		`Lambda-Runtime-Cognito-Identity: {"cognitoIdentityId":"i"}`} {
		if !strings.Contains(string(resp.Body), want) {
			t.Errorf("headers %s lack %q", resp.Body, want)
		}
	}
}

// TestOutputIsLogged: stdout and stderr reach Spec.Log line by line, tagged
// with the invocation in progress (none during init).
func TestOutputIsLogged(t *testing.T) {
	r := newRuntime(t, Config{})
	var logs logBook
	sp := spec("logs")
	sp.Log = logs.log
	sh := shellPrelude + `echo starting
next
echo "event $(cat $ev)"
echo oops >&2
printf 'no newline'
curl -s -X POST -d '"ok"' "$api/invocation/$id/response" >/dev/null
exit 0
`
	tmpl, err := r.Prepare(context.Background(), sp, script(t, sh))
	if err != nil {
		t.Fatal(err)
	}
	inst, _, err := tmpl.Spawn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := inst.Invoke(ctx, runtime.Request{ID: "r9", Body: []byte(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	// Close waits for the output still in the pipes.
	if err := inst.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(logs.all(), "\n")
	for _, want := range []string{"stdout||starting", `stdout|r9|event {"n":1}`, "stderr|r9|oops", "stdout|r9|no newline"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lines\n%s\nlack %q", got, want)
		}
	}
}

// TestTraceID: the guest's X-Ray header comes from the caller's X-Ray
// header, else from the invocation's W3C trace context, else from the
// request id; malformed trace contexts fall through.
func TestTraceID(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name    string
		headers map[string][]string
		want    string
	}{
		{"x-ray header wins", map[string][]string{HeaderTraceID: {"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}, "Traceparent": {tp}},
			"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"},
		{"sampled traceparent", map[string][]string{"Traceparent": {tp}},
			"Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"},
		{"unsampled traceparent", map[string][]string{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}},
			"Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=0"},
		{"zero trace id", map[string][]string{"Traceparent": {"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}},
			"Root=1-abc12300-000000000000000000000000;Parent=0000000000000000;Sampled=0"},
		{"upper-case hex", map[string][]string{"Traceparent": {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}},
			"Root=1-abc12300-000000000000000000000000;Parent=0000000000000000;Sampled=0"},
		{"unknown version", map[string][]string{"Traceparent": {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
			"Root=1-abc12300-000000000000000000000000;Parent=0000000000000000;Sampled=0"},
		{"none", nil, "Root=1-abc12300-000000000000000000000000;Parent=0000000000000000;Sampled=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := traceID(runtime.Request{ID: "abc123", Headers: tt.headers}); got != tt.want {
				t.Errorf("traceID = %q, want %q", got, tt.want)
			}
		})
	}
}
