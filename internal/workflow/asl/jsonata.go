package asl

import (
	"errors"
	"fmt"
	"math"
	"strings"

	jsonata "github.com/xiatechs/jsonata-go"
	"github.com/xiatechs/jsonata-go/jtypes"
)

// States is the $states variable of a JSONata expression.
type States struct {
	Input       any
	Result      any
	HasResult   bool
	ErrorOutput any
	HasError    bool
}

// IsExpression reports whether s is a JSONata expression field value, "{% … %}".
func IsExpression(s string) bool {
	// No trimming: " {% x %} " is a literal string in Step Functions.
	return strings.HasPrefix(s, "{%") && strings.HasSuffix(s, "%}") && len(s) >= 4
}

// expressionBody strips the {% %} delimiters.
func expressionBody(s string) string {
	t := strings.TrimSpace(s)
	return strings.TrimSpace(t[2 : len(t)-2])
}

// CompileExpression checks that a "{% … %}" string is valid JSONata.
func CompileExpression(s string) error {
	_, err := compile(expressionBody(s))
	return err
}

// compile wraps jsonata.Compile: the library's lexer panics on some inputs
// (found by FuzzParse, e.g. invalid UTF-8 in a name), and a definition must
// never crash the engine.
func compile(body string) (expr *jsonata.Expr, err error) {
	defer func() {
		if p := recover(); p != nil {
			expr, err = nil, fmt.Errorf("invalid JSONata expression: %v", p)
		}
	}()
	return jsonata.Compile(body)
}

// eval wraps Expr.Eval with the same protection as compile.
func eval(expr *jsonata.Expr, input any) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("JSONata evaluation failed: %v", p)
		}
	}()
	return expr.Eval(input)
}

// Evaluate evaluates a JSONata-mode field: strings written "{% … %}" are
// expressions, objects and arrays are walked, other values are literals.
// field names the field for error messages ("Output", "Arguments/key").
func (e *Env) Evaluate(field string, tmpl any, st States) (any, error) {
	switch t := tmpl.(type) {
	case string:
		if !IsExpression(t) {
			return t, nil
		}
		return e.Expression(field, t, st)
	case map[string]any:
		out := make(map[string]any, len(t))
		for _, k := range sortedKeys(t) {
			v, err := e.Evaluate(field+"/"+k, t[k], st)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			r, err := e.Evaluate(fmt.Sprintf("%s[%d]", field, i), v, st)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return DeepCopy(tmpl), nil
}

// Expression evaluates one "{% … %}" string. An expression that yields
// nothing is a States.QueryEvaluationError, as in Step Functions.
func (e *Env) Expression(field, src string, st States) (any, error) {
	body := expressionBody(src)
	expr, err := compile(body)
	if err != nil {
		return nil, Errorf(ErrQueryEvaluation, "The JSONata expression '%s' specified for the field '%s' threw an error during evaluation. %v", body, field, err)
	}
	states := map[string]any{"input": toJSONataValue(st.Input), "context": toJSONataValue(e.context())}
	if st.HasResult {
		states["result"] = toJSONataValue(st.Result)
	}
	if st.HasError {
		states["errorOutput"] = toJSONataValue(st.ErrorOutput)
	}
	vars := make(map[string]any, len(e.Vars)+1)
	for k, v := range e.Vars {
		vars[k] = toJSONataValue(v)
	}
	vars["states"] = states
	if err := expr.RegisterVars(vars); err != nil {
		return nil, fmt.Errorf("register JSONata variables: %w", err)
	}
	if err := expr.RegisterExts(e.extensions()); err != nil {
		return nil, fmt.Errorf("register JSONata functions: %w", err)
	}
	v, err := eval(expr, toJSONataValue(st.Input))
	if errors.Is(err, jsonata.ErrUndefined) {
		return nil, Errorf(ErrQueryEvaluation, "The JSONata expression '%s' specified for the field '%s' returned nothing (undefined).", body, field)
	}
	if err != nil {
		return nil, Errorf(ErrQueryEvaluation, "The JSONata expression '%s' specified for the field '%s' threw an error during evaluation. %s", body, field, jsonataMessage(err))
	}
	return normalize(plain(v)), nil
}

// plain converts the Go values a JSONata extension may return into the JSON
// forms (ints to float64, typed slices and maps to []any and map[string]any).
func plain(v any) any {
	switch t := v.(type) {
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out
	case []any:
		for i, e := range t {
			t[i] = plain(e)
		}
		return t
	case map[string]any:
		for k, e := range t {
			t[k] = plain(e)
		}
		return t
	}
	return v
}

// extensions are the functions Step Functions adds to JSONata.
func (e *Env) extensions() map[string]jsonata.Extension {
	return map[string]jsonata.Extension{
		"partition": {Func: func(arr []any, size float64) ([]any, error) {
			if size <= 0 || size != math.Trunc(size) {
				return nil, fmt.Errorf("$partition: the chunk size must be a positive integer")
			}
			out := []any{}
			n := int(size)
			for i := 0; i < len(arr); i += n {
				out = append(out, append([]any{}, arr[i:min(len(arr), i+n)]...))
			}
			return out, nil
		}},
		"range": {Func: func(start, end, step float64) (any, error) {
			if step == 0 {
				return nil, fmt.Errorf("$range: the step must not be 0")
			}
			out := []any{}
			for v := start; (step > 0 && v <= end) || (step < 0 && v >= end); v += step {
				if len(out) == 1000 {
					return nil, fmt.Errorf("$range: more than 1000 items")
				}
				out = append(out, v)
			}
			if len(out) == 1 {
				// A one-item sequence is its item in JSONata.
				return out[0], nil
			}
			return out, nil
		}},
		"hash": {Func: func(data, alg string) (string, error) {
			sum, ok := hashHex(alg, data)
			if !ok {
				return "", fmt.Errorf("$hash: unknown algorithm %q", alg)
			}
			return sum, nil
		}},
		"random": {Func: func() float64 { return e.random().Float64() }},
		"now":    {Func: func() string { return e.Now.UTC().Format("2006-01-02T15:04:05.000Z") }},
		"millis": {Func: func() float64 { return float64(e.Now.UnixMilli()) }},
		"uuid":   {Func: func() string { return newUUID(e.random()) }},
		"assert": {Func: func(cond bool, msg string) (any, error) {
			if !cond {
				return nil, fmt.Errorf("D3141: %s", msg)
			}
			return nil, jtypes.ErrUndefined
		}},
		"parse": {Func: func(s string) (any, error) {
			v, err := DecodeJSON([]byte(s))
			if err != nil {
				return nil, fmt.Errorf("$parse: %w", err)
			}
			return toJSONataValue(v), nil
		}},
	}
}

// jsonataMessage renders a JSONata evaluation error with the reference
// implementation's error codes where the library's wording differs.
func jsonataMessage(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "cannot call non-function") {
		return "T1006: Attempted to invoke a non-function"
	}
	return msg
}
