package asl

import (
	"strings"
	"testing"
	"time"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	v, err := DecodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

// The examples below come from the Step Functions documentation of
// intrinsic functions, with their documented results.
func TestIntrinsics(t *testing.T) {
	input := `{"a":"Hello","n":3,"arr":[1,2,3,4,5,6,7,8,9],"dup":[1,2,2,3,1],"json":"{\"x\":1}","obj1":{"a":1,"b":{"c":2}},"obj2":{"b":{"d":3}},"csv":"1,2,3,4,5"}`
	tests := []struct {
		expr, want string
	}{
		{`States.Format('Hello, my name is {}.', $.a)`, `"Hello, my name is Hello."`},
		{`States.Format('\{\} {} {}', $.n, $.obj1)`, `"{} 3 {a=1, b={c=2}}"`},
		{`States.StringToJson($.json)`, `{"x":1}`},
		{`States.JsonToString($.obj1)`, `"{\"a\":1,\"b\":{\"c\":2}}"`},
		{`States.Array('Foo', 2020, $.n, null)`, `["Foo",2020,3,null]`},
		{`States.ArrayPartition($.arr, 4)`, `[[1,2,3,4],[5,6,7,8],[9]]`},
		{`States.ArrayContains($.arr, 5)`, `true`},
		{`States.ArrayContains($.arr, 50)`, `false`},
		{`States.ArrayRange(1, 9, 2)`, `[1,3,5,7,9]`},
		{`States.ArrayGetItem($.arr, 5)`, `6`},
		{`States.ArrayLength($.arr)`, `9`},
		{`States.ArrayUnique($.dup)`, `[1,2,3]`},
		{`States.Base64Encode('Data to encode')`, `"RGF0YSB0byBlbmNvZGU="`},
		{`States.Base64Decode('RGF0YSB0byBlbmNvZGU=')`, `"Data to encode"`},
		{`States.Hash('input data', 'SHA-1')`, `"aaff4a450a104cd177d28d18d74485e8cae074b7"`},
		{`States.JsonMerge($.obj1, $.obj2, false)`, `{"a":1,"b":{"d":3}}`},
		{`States.MathAdd(111, -1)`, `110`},
		{`States.StringSplit($.csv, ',')`, `["1","2","3","4","5"]`},
		{`States.StringSplit('This.is+a,test=string', '.+,=')`, `["This","is","a","test","string"]`},
		{`States.ArrayLength(States.Array(1, States.Array(2, 3)))`, `2`},
	}
	for _, tt := range tests {
		env := &Env{}
		got, err := env.Dynamic("f.$", tt.expr, decode(t, input))
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		if !Equal(got, decode(t, tt.want)) {
			t.Errorf("%s = %s, want %s", tt.expr, mustEncode(got), tt.want)
		}
	}
}

func TestIntrinsicRandomIsSeededAndInRange(t *testing.T) {
	env := &Env{Rand: seededRandom(42)}
	for i := 0; i < 100; i++ {
		v, err := env.Dynamic("r.$", "States.MathRandom(1, 10)", nil)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := toInt(v)
		if n < 1 || n >= 10 {
			t.Fatalf("MathRandom(1, 10) = %d", n)
		}
	}
	a, _ := (&Env{Rand: seededRandom(7)}).Dynamic("u.$", "States.UUID()", nil)
	b, _ := (&Env{Rand: seededRandom(7)}).Dynamic("u.$", "States.UUID()", nil)
	if a != b || len(a.(string)) != 36 || a.(string)[14] != '4' {
		t.Errorf("UUIDs %v and %v: want the same version-4 UUID from the same seed", a, b)
	}
}

func TestPaths(t *testing.T) {
	doc := `{"store":{"book":[{"title":"A","price":8},{"title":"B","price":12},{"title":"C","price":30}],"name":"x"},"a.b":{"c":1}}`
	tests := []struct {
		path, want string
		found      bool
	}{
		{"$", doc, true},
		{"$.store.name", `"x"`, true},
		{"$.store.book[1].title", `"B"`, true},
		{"$.store.book[-1].price", `30`, true},
		{"$['a.b']['c']", `1`, true},
		{"$.store.book[*].title", `["A","B","C"]`, true},
		{"$.store.book[0:2].price", `[8,12]`, true},
		{"$..price", `[8,12,30]`, true},
		{"$.store.book[?(@.price > 10)].title", `["B","C"]`, true},
		{"$.store.book[?(@.price < 10 || @.title == 'C')].title", `["A","C"]`, true},
		{"$.store.book.length()", `3`, true},
		{"$.store.missing", ``, false},
		{"$.store.book[7]", ``, false},
	}
	for _, tt := range tests {
		p, err := ParsePath(tt.path)
		if err != nil {
			t.Errorf("ParsePath(%s): %v", tt.path, err)
			continue
		}
		got, found := p.Eval(decode(t, doc))
		if found != tt.found {
			t.Errorf("%s: found %v, want %v", tt.path, found, tt.found)
			continue
		}
		if found && !Equal(got, decode(t, tt.want)) {
			t.Errorf("%s = %s, want %s", tt.path, mustEncode(got), tt.want)
		}
	}
}

// TestResultPath follows the ResultPath examples of the Step Functions
// documentation.
func TestResultPath(t *testing.T) {
	input := `{"comment":"An input comment.","data":{"val1":23,"val2":17},"extra":"foo"}`
	result := `"Hello, AWS Step Functions!"`
	tests := []struct {
		path Path
		want string
	}{
		{Path{}, result},
		{Path{Null: true}, input},
		{Path{Expr: "$.taskresult"}, `{"comment":"An input comment.","data":{"val1":23,"val2":17},"extra":"foo","taskresult":"Hello, AWS Step Functions!"}`},
		{Path{Expr: "$.data.result"}, `{"comment":"An input comment.","data":{"val1":23,"val2":17,"result":"Hello, AWS Step Functions!"},"extra":"foo"}`},
	}
	for _, tt := range tests {
		got, err := (&Env{}).ResultPath(tt.path, decode(t, input), decode(t, result))
		if err != nil {
			t.Errorf("%+v: %v", tt.path, err)
			continue
		}
		if !Equal(got, decode(t, tt.want)) {
			t.Errorf("%+v = %s, want %s", tt.path, mustEncode(got), tt.want)
		}
	}
	if _, err := (&Env{}).ResultPath(Path{Expr: "$.comment.x"}, decode(t, input), "r"); err == nil {
		t.Error("ResultPath into a string succeeded, want States.ResultPathMatchFailure")
	}
}

func TestChoiceRules(t *testing.T) {
	input := `{"type":"Private","value":22,"ts":"2026-03-14T01:59:00Z","flag":true,"name":"log-2026.txt","nothing":null,"other":22}`
	tests := []struct {
		rule string
		want bool
	}{
		{`{"Variable":"$.type","StringEquals":"Private","Next":"X"}`, true},
		{`{"And":[{"Variable":"$.value","NumericGreaterThanEquals":20},{"Variable":"$.value","NumericLessThan":30}],"Next":"X"}`, true},
		{`{"Or":[{"Variable":"$.value","NumericLessThan":20},{"Variable":"$.flag","BooleanEquals":false}],"Next":"X"}`, false},
		{`{"Not":{"Variable":"$.type","StringEquals":"Public"},"Next":"X"}`, true},
		{`{"Variable":"$.value","NumericEqualsPath":"$.other","Next":"X"}`, true},
		{`{"Variable":"$.ts","TimestampLessThan":"2026-03-14T02:00:00Z","Next":"X"}`, true},
		{`{"Variable":"$.name","StringMatches":"log-*.txt","Next":"X"}`, true},
		{`{"Variable":"$.name","StringMatches":"log-\\*.txt","Next":"X"}`, false},
		{`{"Variable":"$.missing","IsPresent":false,"Next":"X"}`, true},
		{`{"Variable":"$.nothing","IsNull":true,"Next":"X"}`, true},
		{`{"Variable":"$.ts","IsTimestamp":true,"Next":"X"}`, true},
		{`{"Variable":"$.type","NumericEquals":1,"Next":"X"}`, false},
	}
	for _, tt := range tests {
		def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[` + tt.rule + `]},"X":{"Type":"Succeed"}}}`
		m, err := Parse([]byte(def))
		if err != nil {
			t.Errorf("%s: %v", tt.rule, err)
			continue
		}
		got, err := (&Env{}).Choose(m.States["C"].Choices, decode(t, input))
		if err != nil {
			t.Errorf("%s: %v", tt.rule, err)
			continue
		}
		if (got != nil) != tt.want {
			t.Errorf("%s matched %v, want %v", tt.rule, got != nil, tt.want)
		}
	}
}

func TestJSONata(t *testing.T) {
	env := &Env{Vars: map[string]any{"greeting": "Hi", "n": Number(2)}, Context: map[string]any{"Execution": map[string]any{"Name": "e1"}},
		Now: time.Date(2026, 3, 14, 1, 59, 26, 535_000_000, time.UTC)}
	st := States{Input: decode(t, `{"items":[1,2,3,4,5],"name":"Ada","none":null,"list":[1,null]}`)}
	tests := []struct {
		tmpl any
		want string
	}{
		{"{% $greeting & ' ' & $states.input.name %}", `"Hi Ada"`},
		{"{% $sum($states.input.items) * $n %}", `30`},
		{"{% $partition($states.input.items, 2) %}", `[[1,2],[3,4],[5]]`},
		{"{% $states.context.Execution.Name %}", `"e1"`},
		{"{% $parse('{\"a\": [1]}') %}", `{"a":[1]}`},
		{"{% $hash('input data', 'SHA-1') %}", `"aaff4a450a104cd177d28d18d74485e8cae074b7"`},
		{"{% $now() %}", `"2026-03-14T01:59:26.535Z"`},
		{"{% $states.input.none %}", `null`},
		{"{% $states.input.none = null %}", `true`},
		{"{% $states.input.list %}", `[1,null]`},
		{"{% $millis() %}", `1773453566535`},
		{map[string]any{"x": "{% $count($states.input.items) %}", "lit": " {% not an expression %} "}, `{"x":5,"lit":" {% not an expression %} "}`},
	}
	for _, tt := range tests {
		got, err := env.Evaluate("Output", tt.tmpl, st)
		if err != nil {
			t.Errorf("%v: %v", tt.tmpl, err)
			continue
		}
		if !Equal(got, decode(t, tt.want)) {
			t.Errorf("%v = %s, want %s", tt.tmpl, mustEncode(got), tt.want)
		}
	}
	_, err := env.Evaluate("Output", "{% $assert(1 = 2, 'one is not two') %}", st)
	if e, ok := err.(*Error); !ok || e.Name != ErrQueryEvaluation || !strings.Contains(e.Cause, "one is not two") {
		t.Errorf("$assert: err = %v, want a States.QueryEvaluationError naming the message", err)
	}
	_, err = env.Evaluate("Output", "{% $nope %}", st)
	if e, ok := err.(*Error); !ok || e.Name != ErrQueryEvaluation {
		t.Errorf("undefined result: err = %v, want States.QueryEvaluationError", err)
	}
}

func TestErrorMatching(t *testing.T) {
	tests := []struct {
		equals []string
		name   string
		want   bool
	}{
		{[]string{"States.ALL"}, "Custom", true},
		{[]string{"States.ALL"}, "States.Timeout", true},
		{[]string{"States.ALL"}, "States.Runtime", false},
		{[]string{"States.ALL"}, "States.DataLimitExceeded", false},
		{[]string{"States.TaskFailed"}, "Custom", true},
		{[]string{"States.TaskFailed"}, "States.Timeout", false},
		{[]string{"States.TaskFailed"}, "States.TaskFailed", true},
		{[]string{"A", "B"}, "B", true},
		{[]string{"A"}, "a", false},
	}
	for _, tt := range tests {
		if got := Matches(tt.equals, tt.name); got != tt.want {
			t.Errorf("Matches(%v, %s) = %v, want %v", tt.equals, tt.name, got, tt.want)
		}
	}
}
