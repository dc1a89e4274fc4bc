package asl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Diagnostic codes.
const (
	CodeInvalidJSON      = "INVALID_JSON_DESCRIPTION"
	CodeSchema           = "SCHEMA_VALIDATION_FAILED"
	CodeMissingTarget    = "MISSING_TRANSITION_TARGET"
	CodeUnreachableState = "UNREACHABLE_STATE"
	CodeInvalidPath      = "INVALID_PATH"
	CodeInvalidExpr      = "INVALID_EXPRESSION"
	CodeDuplicateState   = "DUPLICATE_STATE_NAME"
)

// Diagnostic is one problem found in a definition.
type Diagnostic struct {
	Code string `json:"code"`
	// Location is a JSON pointer to the offending field ("/States/A/Next"),
	// or, for JSON syntax errors, "line L, column C".
	Location string `json:"location,omitempty"`
	Message  string `json:"message"`
	// Line and Column are set (1-based) for JSON syntax errors.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

// String renders the diagnostic as "CODE: message at location".
func (d Diagnostic) String() string {
	if d.Location == "" {
		return d.Code + ": " + d.Message
	}
	return fmt.Sprintf("%s: %s at %s", d.Code, d.Message, d.Location)
}

// ValidationError lists every problem found in a definition.
type ValidationError struct {
	Diagnostics []Diagnostic
}

// Error lists every diagnostic.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		parts[i] = d.String()
	}
	return "invalid state machine definition: " + strings.Join(parts, "; ")
}

// Type is the state machine type, which changes what a definition may use.
type Type string

// State machine types.
const (
	Standard Type = "STANDARD"
	Express  Type = "EXPRESS"
)

// Options change how a definition is validated.
type Options struct {
	// Type is STANDARD (the default) or EXPRESS; EXPRESS machines may not
	// use .sync or .waitForTaskToken resources.
	Type Type
}

// Parse parses and validates a definition as a STANDARD machine. On failure
// the error is a *ValidationError carrying every problem found.
func Parse(data []byte) (*Machine, error) { return ParseWith(data, Options{}) }

// ParseWith parses and validates a definition.
func ParseWith(data []byte, opt Options) (*Machine, error) {
	raw, err := decodeDefinition(data)
	if err != nil {
		return nil, err
	}
	p := &parser{opt: opt, names: map[string]string{}}
	m := p.machine(raw, "", "", true)
	if len(p.diags) > 0 {
		return nil, &ValidationError{Diagnostics: p.diags}
	}
	return m, nil
}

// decodeDefinition decodes the JSON text, turning syntax errors into a
// diagnostic with a line and column.
func decodeDefinition(data []byte) (map[string]any, error) {
	v, err := DecodeJSON(data)
	if err != nil {
		d := Diagnostic{Code: CodeInvalidJSON, Message: err.Error()}
		var se *json.SyntaxError
		off := int64(-1)
		if errors.As(err, &se) {
			off = se.Offset
		} else if len(bytes.TrimSpace(data)) == 0 {
			return nil, &ValidationError{Diagnostics: []Diagnostic{{Code: CodeSchema, Message: "Definition must be a valid JSON object"}}}
		} else {
			off = int64(len(data))
		}
		d.Line, d.Column = lineColumn(data, off)
		d.Location = fmt.Sprintf("line %d, column %d", d.Line, d.Column)
		return nil, &ValidationError{Diagnostics: []Diagnostic{d}}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &ValidationError{Diagnostics: []Diagnostic{{Code: CodeSchema, Message: "Definition must be a valid JSON object"}}}
	}
	return m, nil
}

// lineColumn converts a byte offset into a 1-based line and column.
func lineColumn(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 1 {
		return 1, 1
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n') - 1
	return line, max(col, 1)
}

type parser struct {
	opt   Options
	diags []Diagnostic
	// topQL is the query language set for the whole machine.
	topQL QueryLanguage
	// names maps every state name seen so far, in any branch or item
	// processor, to its location: names are unique machine-wide.
	names map[string]string
}

func (p *parser) errorf(code, loc, format string, args ...any) {
	if loc == "" {
		loc = "/"
	}
	p.diags = append(p.diags, Diagnostic{Code: code, Location: loc, Message: fmt.Sprintf(format, args...)})
}

// machine parses a state machine object: the top level, a Parallel branch or
// a Map item processor.
func (p *parser) machine(obj map[string]any, loc string, inherited QueryLanguage, top bool) *Machine {
	m := &Machine{QueryLanguage: inherited}
	if m.QueryLanguage == "" {
		m.QueryLanguage = JSONPath
	}
	var missing []string
	for _, k := range []string{"States", "StartAt"} {
		if _, ok := obj[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		p.errorf(CodeSchema, loc, "These fields are required: [%s]", strings.Join(missing, ", "))
	}
	allowed := map[string]bool{"Comment": true, "StartAt": true, "States": true, "QueryLanguage": true}
	if top {
		allowed["TimeoutSeconds"] = true
		allowed["Version"] = true
	} else {
		allowed["ProcessorConfig"] = true
	}
	for _, k := range sortedKeys(obj) {
		if !allowed[k] {
			p.errorf(CodeSchema, loc+"/"+k, "The field '%s' is not supported", k)
		}
	}
	m.Comment, _ = p.str(obj, "Comment", loc)
	m.StartAt, _ = p.str(obj, "StartAt", loc)
	if ql, ok := p.str(obj, "QueryLanguage", loc); ok {
		m.QueryLanguage = p.queryLanguage(ql, loc+"/QueryLanguage")
	}
	if top {
		p.topQL = m.QueryLanguage
		if n, ok := p.integer(obj, "TimeoutSeconds", loc); ok {
			m.TimeoutSeconds = n
		}
		m.Version, _ = p.str(obj, "Version", loc)
	}
	states, ok := obj["States"].(map[string]any)
	if !ok {
		if _, present := obj["States"]; present {
			p.errorf(CodeSchema, loc+"/States", "The field 'States' must be an object")
		}
		return m
	}
	if len(states) == 0 {
		p.errorf(CodeSchema, loc+"/States", "The field 'States' must have at least one state")
	}
	m.States = make(map[string]*State, len(states))
	m.Order = sortedKeys(states)
	for _, name := range m.Order {
		sloc := loc + "/States/" + name
		if prev, dup := p.names[name]; dup {
			p.errorf(CodeDuplicateState, sloc, "State name '%s' is already used at %s; state names must be unique in the whole state machine", name, prev)
		}
		p.names[name] = sloc
		if len(name) > 80 {
			p.errorf(CodeSchema, sloc, "State names must be at most 80 characters")
		}
		so, ok := states[name].(map[string]any)
		if !ok {
			p.errorf(CodeSchema, sloc, "A state must be an object")
			continue
		}
		m.States[name] = p.state(name, so, sloc, m.QueryLanguage)
	}
	if _, hasStart := obj["StartAt"]; hasStart && len(states) > 0 {
		if _, ok := states[m.StartAt]; !ok {
			p.errorf(CodeMissingTarget, loc+"/StartAt", "Missing 'Next' target: %s", m.StartAt)
		}
	}
	p.checkTransitions(m, loc)
	return m
}

func (p *parser) queryLanguage(v, loc string) QueryLanguage {
	switch QueryLanguage(v) {
	case JSONPath, JSONata:
		return QueryLanguage(v)
	}
	p.errorf(CodeSchema, loc, "QueryLanguage must be JSONPath or JSONata, not %q", v)
	return JSONPath
}

// checkTransitions reports transitions to unknown states and states that
// no path from StartAt reaches.
func (p *parser) checkTransitions(m *Machine, loc string) {
	targets := func(s *State) []struct{ to, field string } {
		var out []struct{ to, field string }
		add := func(to, field string) {
			if to != "" {
				out = append(out, struct{ to, field string }{to, field})
			}
		}
		add(s.Next, "Next")
		add(s.Default, "Default")
		for i, c := range s.Choices {
			add(c.Next, fmt.Sprintf("Choices/%d/Next", i))
		}
		for i, c := range s.Catch {
			add(c.Next, fmt.Sprintf("Catch/%d/Next", i))
		}
		return out
	}
	for _, name := range m.Order {
		s := m.States[name]
		if s == nil {
			continue
		}
		for _, t := range targets(s) {
			if _, ok := m.States[t.to]; !ok {
				p.errorf(CodeMissingTarget, loc+"/States/"+name+"/"+t.field, "Missing 'Next' target: %s", t.to)
			}
		}
	}
	if _, ok := m.States[m.StartAt]; !ok {
		return
	}
	seen := map[string]bool{m.StartAt: true}
	queue := []string{m.StartAt}
	for len(queue) > 0 {
		s := m.States[queue[0]]
		queue = queue[1:]
		if s == nil {
			continue
		}
		for _, t := range targets(s) {
			if _, ok := m.States[t.to]; ok && !seen[t.to] {
				seen[t.to] = true
				queue = append(queue, t.to)
			}
		}
	}
	var unreachable []string
	for _, name := range m.Order {
		if !seen[name] {
			unreachable = append(unreachable, name)
		}
	}
	sort.Strings(unreachable)
	for _, name := range unreachable {
		p.errorf(CodeUnreachableState, loc+"/States/"+name, "State '%s' is not reachable", name)
	}
}

// Typed field readers. Each reports a wrong type and returns ok=false then.

func (p *parser) str(obj map[string]any, key, loc string) (string, bool) {
	v, ok := obj[key]
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		p.errorf(CodeSchema, loc+"/"+key, "The field '%s' must be a string, not %s", key, typeName(v))
		return "", false
	}
	return s, true
}

func (p *parser) boolean(obj map[string]any, key, loc string) (bool, bool) {
	v, ok := obj[key]
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		p.errorf(CodeSchema, loc+"/"+key, "The field '%s' must be a boolean, not %s", key, typeName(v))
	}
	return b, ok
}

func (p *parser) integer(obj map[string]any, key, loc string) (int64, bool) {
	v, ok := obj[key]
	if !ok {
		return 0, false
	}
	n, ok := toInt(v)
	if !ok {
		p.errorf(CodeSchema, loc+"/"+key, "The field '%s' must be an integer, not %s", key, mustEncode(v))
	}
	return n, ok
}

func (p *parser) float(obj map[string]any, key, loc string) (float64, bool) {
	v, ok := obj[key]
	if !ok {
		return 0, false
	}
	f, ok := toFloat(v)
	if !ok {
		p.errorf(CodeSchema, loc+"/"+key, "The field '%s' must be a number, not %s", key, typeName(v))
	}
	return f, ok
}

func (p *parser) stringList(obj map[string]any, key, loc string) []string {
	v, ok := obj[key]
	if !ok {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		p.errorf(CodeSchema, loc+"/"+key, "The field '%s' must be an array of strings", key)
		return nil
	}
	out := make([]string, 0, len(a))
	for i, e := range a {
		s, ok := e.(string)
		if !ok {
			p.errorf(CodeSchema, fmt.Sprintf("%s/%s/%d", loc, key, i), "must be a string")
			continue
		}
		out = append(out, s)
	}
	return out
}

// path reads an optional path field that may be null.
func (p *parser) path(obj map[string]any, key, loc string, reference bool) Path {
	v, ok := obj[key]
	if !ok {
		return Path{}
	}
	if v == nil {
		return Path{Null: true}
	}
	s, ok := v.(string)
	if !ok {
		p.errorf(CodeSchema, loc+"/"+key, "The field '%s' must be a string or null", key)
		return Path{}
	}
	p.checkPath(s, loc+"/"+key, reference)
	return Path{Expr: s}
}

// pathString reads a path field that must be a string.
func (p *parser) pathString(obj map[string]any, key, loc string) string {
	s, ok := p.str(obj, key, loc)
	if ok {
		p.checkPath(s, loc+"/"+key, false)
	}
	return s
}

func (p *parser) checkPath(s, loc string, reference bool) {
	pe, err := ParsePath(s)
	if err != nil {
		p.errorf(CodeInvalidPath, loc, "The value for the field must be a valid JSONPath: %v", err)
		return
	}
	if reference && !pe.IsReference() {
		p.errorf(CodeInvalidPath, loc, "The value for the field must be a valid Reference Path: %s", s)
	}
}

// template checks a JSONPath payload template: every ".$" value must be a
// valid path or intrinsic function.
func (p *parser) template(v any, loc string) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			e := t[k]
			kloc := loc + "/" + k
			if strings.HasSuffix(k, ".$") {
				s, ok := e.(string)
				if !ok {
					p.errorf(CodeSchema, kloc, "The value of a field ending in '.$' must be a string")
					continue
				}
				if IsIntrinsic(s) {
					if _, err := ParseIntrinsic(s); err != nil {
						p.errorf(CodeSchema, kloc, "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call: %v", k, err)
					}
					continue
				}
				if _, err := ParsePath(s); err != nil {
					p.errorf(CodeInvalidPath, kloc, "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call: %v", k, err)
				}
				continue
			}
			p.template(e, kloc)
		}
	case []any:
		for i, e := range t {
			p.template(e, fmt.Sprintf("%s/%d", loc, i))
		}
	}
}

// expressions checks every "{% %}" string in a JSONata field.
func (p *parser) expressions(v any, loc string) {
	switch t := v.(type) {
	case string:
		if IsExpression(t) {
			if err := CompileExpression(t); err != nil {
				p.errorf(CodeInvalidExpr, loc, "Invalid JSONata expression %s: %v", t, err)
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(t) {
			p.expressions(t[k], loc+"/"+k)
		}
	case []any:
		for i, e := range t {
			p.expressions(e, fmt.Sprintf("%s/%d", loc, i))
		}
	}
}
