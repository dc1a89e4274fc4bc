package asl

import (
	"errors"
	"strings"
	"testing"
)

func TestParseReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		def  string
		want []string // "CODE@location" of each expected diagnostic
	}{
		{"empty object", `{}`, []string{"SCHEMA_VALIDATION_FAILED@/"}},
		{"missing StartAt", `{"States":{"A":{"Type":"Pass","End":true}}}`, []string{"SCHEMA_VALIDATION_FAILED@/"}},
		{"unknown Next and unreachable state", `{"StartAt":"A","States":{
			"A":{"Type":"Pass","Next":"Nope"},
			"B":{"Type":"Succeed"}}}`,
			[]string{"MISSING_TRANSITION_TARGET@/States/A/Next", "UNREACHABLE_STATE@/States/B"}},
		{"StartAt names no state", `{"StartAt":"X","States":{"A":{"Type":"Succeed"}}}`,
			[]string{"MISSING_TRANSITION_TARGET@/StartAt"}},
		{"terminal rules", `{"StartAt":"A","States":{
			"A":{"Type":"Pass","Next":"B","End":true},
			"B":{"Type":"Task","Resource":"f"},
			"C":{"Type":"Succeed","Next":"A"}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED@/States/A", "SCHEMA_VALIDATION_FAILED@/States/B", "SCHEMA_VALIDATION_FAILED@/States/C/Next", "UNREACHABLE_STATE@/States/C"}},
		{"wrong field types", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":7,"TimeoutSeconds":"x","End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED@/States/A/Resource", "SCHEMA_VALIDATION_FAILED@/States/A/TimeoutSeconds"}},
		{"invalid paths", `{"StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"a.b","ResultPath":"$.a[*]","Parameters":{"x.$":"$.[" },"End":true}}}`,
			[]string{"INVALID_PATH@/States/A/InputPath", "INVALID_PATH@/States/A/Parameters/x.$", "INVALID_PATH@/States/A/ResultPath"}},
		{"bad intrinsic", `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"States.Nope(1)"},"End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED@/States/A/Parameters/x.$"}},
		{"choice rule without operator and bad Default", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.x","Next":"D"}],"Default":"Z"},"D":{"Type":"Succeed"}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED@/States/C/Choices/0", "MISSING_TRANSITION_TARGET@/States/C/Default", "UNREACHABLE_STATE@/States/D"}},
		{"retry rules", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"f","End":true,"Retry":[{"ErrorEquals":["States.ALL"],"BackoffRate":0.5},{"ErrorEquals":["X"]}]}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED@/States/A/Retry/0/ErrorEquals", "SCHEMA_VALIDATION_FAILED@/States/A/Retry/0/BackoffRate"}},
		{"JSONPath field in JSONata", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"$","End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED@/States/A/InputPath"}},
		{"downgrade query language", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","QueryLanguage":"JSONPath","End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED@/States/A"}},
		{"bad JSONata", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","Output":"{% $x + %}","End":true}}}`,
			[]string{"INVALID_EXPRESSION@/States/A/Output"}},
		{"nested branch problems", `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[{"StartAt":"X","States":{"X":{"Type":"Pass","Next":"Y"}}}]}}}`,
			[]string{"MISSING_TRANSITION_TARGET@/States/P/Branches/0/States/X/Next"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.def))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse error = %v, want a *ValidationError", err)
			}
			var got []string
			for _, d := range ve.Diagnostics {
				got = append(got, d.Code+"@"+d.Location)
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Errorf("missing diagnostic %s; got %v", w, got)
				}
			}
		})
	}
}

func TestParseSyntaxErrorHasLineAndColumn(t *testing.T) {
	tests := []struct {
		def        string
		line, col  int
		wantSchema bool
	}{
		{def: "{\n  \"StartAt\": \"A\",\n  \"States\": {,}\n}", line: 3, col: 14},
		{def: "not a definition", line: 1, col: 2},
		{def: "[1,2]", wantSchema: true},
		{def: "  ", wantSchema: true},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.def))
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Diagnostics) != 1 {
			t.Fatalf("Parse(%q) = %v, want one diagnostic", tt.def, err)
		}
		d := ve.Diagnostics[0]
		if tt.wantSchema {
			if d.Code != CodeSchema {
				t.Errorf("Parse(%q) code %s, want %s", tt.def, d.Code, CodeSchema)
			}
			continue
		}
		if d.Code != CodeInvalidJSON || d.Line != tt.line || d.Column != tt.col {
			t.Errorf("Parse(%q) = %s line %d col %d, want %s line %d col %d", tt.def, d.Code, d.Line, d.Column, CodeInvalidJSON, tt.line, tt.col)
		}
	}
}

func TestParseExpressRejectsCallbacks(t *testing.T) {
	def := `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken","End":true}}}`
	if _, err := ParseWith([]byte(def), Options{Type: Standard}); err != nil {
		t.Fatalf("STANDARD: %v", err)
	}
	_, err := ParseWith([]byte(def), Options{Type: Express})
	if err == nil || !strings.Contains(err.Error(), "waitForTaskToken") {
		t.Fatalf("EXPRESS: err = %v, want a waitForTaskToken diagnostic", err)
	}
}

func TestParseAcceptsValidMachine(t *testing.T) {
	def := `{"StartAt":"M","States":{
		"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":2,"ItemSelector":{"v.$":"$$.Map.Item.Value"},
			"ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},
			"Retry":[{"ErrorEquals":["States.TaskFailed"],"JitterStrategy":"FULL","MaxDelaySeconds":5},{"ErrorEquals":["States.ALL"]}],
			"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.err","Next":"F"}],"Next":"W"},
		"W":{"Type":"Wait","SecondsPath":"$.delay","Next":"C"},
		"C":{"Type":"Choice","Choices":[{"And":[{"Variable":"$.a","IsPresent":true},{"Variable":"$.a","StringMatches":"x*"}],"Next":"S"}],"Default":"F"},
		"S":{"Type":"Succeed"},
		"F":{"Type":"Fail","ErrorPath":"$.err.Error","CausePath":"States.Format('cause: {}', $.err.Cause)"}}}`
	m, err := Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.States["M"].ItemProcessor.StartAt; got != "P" {
		t.Errorf("ItemProcessor.StartAt = %q", got)
	}
	if got := m.States["M"].Retry[0].JitterStrategy; got != "FULL" {
		t.Errorf("JitterStrategy = %q", got)
	}
}

func TestParseRejectsDuplicateStateNamesAcrossBranches(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","Next":"X","Branches":[
		{"StartAt":"X","States":{"X":{"Type":"Pass","End":true}}}]},
		"X":{"Type":"Succeed"}}}`
	_, err := Parse([]byte(def))
	if err == nil || !strings.Contains(err.Error(), CodeDuplicateState) {
		t.Fatalf("err = %v, want %s", err, CodeDuplicateState)
	}
}

func TestParseChecksClosedIntegrations(t *testing.T) {
	tests := []struct {
		resource string
		ok       bool
	}{
		{"arn:aws:states:::dynamodb:putItem", true},
		{"arn:aws:states:::dynamodb:query", false},
		{"arn:aws:states:::lambda:invoke.waitForTaskToken", true},
		{"arn:aws:states:::states:startExecution.sync:2", true},
		{"arn:aws:states:::sqs:receiveMessage", false},
		{"arn:aws:states:::aws-sdk:dynamodb:query", true},
		{"arn:aws:states:::glue:startJobRun.sync", true},
		{"arn:aws:lambda:us-east-1:1:function:f", true},
		{"my-function", true},
	}
	for _, tt := range tests {
		def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + tt.resource + `","End":true}}}`
		_, err := Parse([]byte(def))
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.resource, err, tt.ok)
		}
	}
}
