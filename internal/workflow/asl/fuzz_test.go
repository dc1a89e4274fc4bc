package asl

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics and that it either returns a
// machine or a *ValidationError with at least one diagnostic.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`,
		`{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Not":{"Variable":"$.x","NumericEqualsPath":"$.y"},"Next":"D"}],"Default":"D"},"D":{"Type":"Succeed"}}}`,
		`{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","Output":"{% $states.input.a %}","Assign":{"v":"{% 1 %}"},"End":true}}}`,
		`{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[{"StartAt":"X","States":{"X":{"Type":"Wait","Seconds":1,"End":true}}}],"End":true}}}`,
		`{"StartAt":"M","States":{"M":{"Type":"Map","Iterator":{"StartAt":"X","States":{"X":{"Type":"Pass","End":true}}},"End":true}}}`,
		`{"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"States.Format('{}', $.a)"}}}`,
		`{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"f","Parameters":{"a.$":"$..b[?(@.c > 1)]"},"End":true}}}`,
		`{`, `[]`, `null`, ``, `{"States":{}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err == nil {
			if m == nil || m.States[m.StartAt] == nil {
				t.Fatalf("Parse accepted %q without a start state", data)
			}
			return
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Diagnostics) == 0 {
			t.Fatalf("Parse(%q) = %v, want a *ValidationError with diagnostics", data, err)
		}
	})
}

// FuzzPath checks that path parsing and evaluation never panic.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"$", "$.a.b[0]", "$['x'][-1]", "$..c", "$.a[1:3:2]", "$.a[?(@.b == 'x' && @.c > 2)]", "$$.Map.Item.Value", "$var.a", "$.a.length()", "$[0,1]"} {
		f.Add(s)
	}
	doc := map[string]any{"a": []any{map[string]any{"b": "x", "c": Number(3)}, "y"}, "x": []any{Number(1)}}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		p.Eval(doc)
		if p.IsReference() {
			_, _ = p.Set(DeepCopy(doc), "v")
		}
	})
}

// FuzzIntrinsic checks that intrinsic parsing and evaluation never panic.
func FuzzIntrinsic(f *testing.F) {
	for _, s := range []string{"States.Format('a {} b', $.a)", "States.Array(1, 'x', $.a, States.UUID())", "States.ArrayRange(1, 9, 2)", "States.Hash($.a, 'SHA-256')", "States.StringSplit('a,b', ',')", `States.Format('\{\}{}', 1)`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		call, err := ParseIntrinsic(s)
		if err != nil {
			return
		}
		env := &Env{}
		_, _ = env.evalIntrinsic(call, map[string]any{"a": "text"})
	})
}
