package asl

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Env is what evaluation needs besides a state's input: the context object,
// the workflow variables in scope, and a source of randomness (for
// States.UUID, States.MathRandom and $random). The engine seeds Rand from
// the execution and the event so that replaying history yields the same
// values.
type Env struct {
	// Context is the context object, "$$" in JSONPath and $states.context in
	// JSONata. When it is nil, ContextFunc builds it on first use: most
	// states never read it, and building it costs more than running them.
	Context     any
	ContextFunc func() any
	// Vars holds the variables visible to the state. Evaluation never
	// changes it; Assign results are returned for the caller to apply.
	Vars map[string]any
	// Rand is the random source; when nil, one is made from Seed on first
	// use, which keeps evaluation deterministic for a given seed.
	Rand *rand.Rand
	Seed uint64
	// Now is what JSONata's $now() and $millis() report: the engine passes
	// the time the state was entered, so that replay sees the same value.
	Now time.Time
}

func (e *Env) random() *rand.Rand {
	if e.Rand == nil {
		e.Rand = seededRandom(e.Seed)
	}
	return e.Rand
}

// context returns the context object, building it if needed.
func (e *Env) context() any {
	if e.Context == nil && e.ContextFunc != nil {
		e.Context = e.ContextFunc()
	}
	return e.Context
}

// seededRandom returns a deterministic generator for seed.
func seededRandom(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// newUUID draws a version 4 UUID from r.
func newUUID(r *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// resolvePath applies p to the root it names: input, the context object or a
// variable.
func (e *Env) resolvePath(p *PathExpr, input any) (any, bool) {
	switch p.root {
	case rootContext:
		return p.Eval(e.context())
	case rootVariable:
		v, ok := e.Vars[p.variable]
		if !ok {
			return nil, false
		}
		return p.Eval(v)
	}
	return p.Eval(input)
}

// Select evaluates a path field (InputPath, OutputPath, ItemsPath, …) against
// input. A path that selects nothing fails with States.Runtime.
func (e *Env) Select(field, expr string, input any) (any, error) {
	p, err := ParsePath(expr)
	if err != nil {
		return nil, Errorf(ErrRuntime, "Invalid path '%s' for the field '%s': %v", expr, field, err)
	}
	v, ok := e.resolvePath(p, input)
	if !ok {
		return nil, Errorf(ErrRuntime, "Invalid path '%s' : No results for path: %s", expr, bracketed(p))
	}
	return v, nil
}

// bracketed renders a path the way Jayway reports it in errors: $['a']['b'][0].
func bracketed(p *PathExpr) string {
	var b strings.Builder
	switch p.root {
	case rootContext:
		b.WriteString("$$")
	case rootVariable:
		b.WriteString("$" + p.variable)
	default:
		b.WriteString("$")
	}
	for _, s := range p.segs {
		switch s.kind {
		case segName:
			fmt.Fprintf(&b, "['%s']", s.name)
		case segIndex:
			fmt.Fprintf(&b, "[%d]", s.index)
		case segWildcard:
			b.WriteString("[*]")
		default:
			b.WriteString("[…]")
		}
	}
	return b.String()
}

// InputPath applies an InputPath: absent keeps the input, null gives {}.
func (e *Env) InputPath(p Path, input any) (any, error) {
	if p.Null {
		return map[string]any{}, nil
	}
	if p.Expr == "" || p.Expr == "$" {
		return input, nil
	}
	return e.Select("InputPath", p.Expr, input)
}

// OutputPath applies an OutputPath: absent keeps the value, null gives {}.
func (e *Env) OutputPath(p Path, value any) (any, error) {
	if p.Null {
		return map[string]any{}, nil
	}
	if p.Expr == "" || p.Expr == "$" {
		return value, nil
	}
	return e.Select("OutputPath", p.Expr, value)
}

// ResultPath combines a state's raw input with its result: absent or "$"
// replaces the input, null keeps the input and drops the result, and a
// Reference Path writes the result into a copy of the input.
func (e *Env) ResultPath(p Path, rawInput, result any) (any, error) {
	if p.Null {
		return rawInput, nil
	}
	if p.Expr == "" || p.Expr == "$" {
		return result, nil
	}
	ref, err := ParsePath(p.Expr)
	if err != nil || !ref.IsReference() {
		return nil, Errorf(ErrRuntime, "Invalid ResultPath '%s': it must be a Reference Path", p.Expr)
	}
	out, err := ref.Set(DeepCopy(rawInput), result)
	if err != nil {
		return nil, Errorf(ErrResultPathMatchFailed, "Unable to apply ResultPath '%s' to input %s: %v", p.Expr, mustEncode(rawInput), err)
	}
	return out, nil
}

// Template evaluates a JSONPath-mode payload template (Parameters,
// ResultSelector, ItemSelector, Assign values): keys ending in ".$" take the
// value of the path or intrinsic function they hold, other values are
// copied, objects and arrays are walked.
func (e *Env) Template(tmpl, input any) (any, error) {
	switch t := tmpl.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for _, k := range sortedKeys(t) {
			v := t[k]
			if strings.HasSuffix(k, ".$") {
				s, ok := v.(string)
				if !ok {
					return nil, Errorf(ErrRuntime, "The value of the field '%s' must be a path or an intrinsic function", k)
				}
				r, err := e.Dynamic(k, s, input)
				if err != nil {
					return nil, err
				}
				out[strings.TrimSuffix(k, ".$")] = r
				continue
			}
			r, err := e.Template(v, input)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			r, err := e.Template(v, input)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return DeepCopy(tmpl), nil
}

// Dynamic evaluates the value of a ".$" field: a path ($, $$ or $var) or an
// intrinsic function call.
func (e *Env) Dynamic(field, expr string, input any) (any, error) {
	if IsIntrinsic(expr) {
		call, err := ParseIntrinsic(expr)
		if err != nil {
			return nil, &Error{Name: ErrIntrinsicFailure, Cause: err.Error()}
		}
		v, err := e.evalIntrinsic(call, input)
		if err != nil {
			return nil, err
		}
		return DeepCopy(v), nil
	}
	p, err := ParsePath(expr)
	if err != nil {
		return nil, Errorf(ErrRuntime, "The value for the field '%s' must be a valid JSONPath or an intrinsic function: %v", field, err)
	}
	v, ok := e.resolvePath(p, input)
	if !ok {
		if p.root == rootVariable {
			if _, defined := e.Vars[p.variable]; !defined {
				return nil, Errorf(ErrRuntime, "The JSONPath '%s' specified for the field '%s' could not be found in the variables", expr, field)
			}
		}
		return nil, Errorf(ErrRuntime, "The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'", expr, field, mustEncode(input))
	}
	return DeepCopy(v), nil
}

// AssignJSONPath evaluates a JSONPath-mode Assign block against value (the
// state's result) and returns the new variable values. Every expression sees
// the variables as they were before the state, as the spec requires.
func (e *Env) AssignJSONPath(assign map[string]any, value any) (map[string]any, error) {
	v, err := e.Template(assign, value)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return m, nil
}
