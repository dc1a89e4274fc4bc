package asl

import (
	"fmt"
	"strconv"
	"strings"
)

// An intrinsic function call such as States.Format('{} x', $.a, States.UUID()).
type intrinsicCall struct {
	name string
	args []intrinsicArg
}

// intrinsicArg is one argument: a literal, a path or a nested call.
type intrinsicArg struct {
	literal any
	path    *PathExpr
	call    *intrinsicCall
}

// IsIntrinsic reports whether s looks like an intrinsic function call.
func IsIntrinsic(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "States.") }

// ParseIntrinsic parses an intrinsic function call.
func ParseIntrinsic(s string) (*intrinsicCall, error) {
	p := &intrinsicParser{s: strings.TrimSpace(s)}
	call, err := p.call()
	if err != nil {
		return nil, fmt.Errorf("intrinsic function %q: %w", s, err)
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("intrinsic function %q: unexpected text at offset %d", s, p.i)
	}
	return call, nil
}

type intrinsicParser struct {
	s string
	i int
}

func (p *intrinsicParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *intrinsicParser) call() (*intrinsicCall, error) {
	start := p.i
	for p.i < len(p.s) && (isIdentPart(p.s[p.i]) || p.s[p.i] == '.') {
		p.i++
	}
	name := p.s[start:p.i]
	if intrinsicFunc(name) == nil {
		return nil, fmt.Errorf("unknown function %q", name)
	}
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != '(' {
		return nil, fmt.Errorf("expected '(' after %s", name)
	}
	p.i++
	c := &intrinsicCall{name: name}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
		return c, nil
	}
	for {
		p.skipSpace()
		arg, err := p.arg()
		if err != nil {
			return nil, err
		}
		c.args = append(c.args, arg)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("missing ')'")
		}
		if p.s[p.i] == ')' {
			p.i++
			return c, nil
		}
		if p.s[p.i] != ',' {
			return nil, fmt.Errorf("expected ',' or ')' at offset %d", p.i)
		}
		p.i++
	}
}

func (p *intrinsicParser) arg() (intrinsicArg, error) {
	if p.i >= len(p.s) {
		return intrinsicArg{}, fmt.Errorf("missing argument")
	}
	c := p.s[p.i]
	switch {
	case c == '\'':
		str, err := p.stringLiteral()
		return intrinsicArg{literal: str}, err
	case c == '$':
		start := p.i
		depth := 0
		for p.i < len(p.s) {
			ch := p.s[p.i]
			if ch == '[' {
				depth++
			} else if ch == ']' {
				depth--
			} else if depth == 0 && (ch == ',' || ch == ')' || ch == ' ') {
				break
			}
			p.i++
		}
		path, err := ParsePath(p.s[start:p.i])
		return intrinsicArg{path: path}, err
	case strings.HasPrefix(p.s[p.i:], "States."):
		call, err := p.call()
		return intrinsicArg{call: call}, err
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ')' && p.s[p.i] != ' ' {
		p.i++
	}
	tok := p.s[start:p.i]
	switch tok {
	case "true":
		return intrinsicArg{literal: true}, nil
	case "false":
		return intrinsicArg{literal: false}, nil
	case "null":
		return intrinsicArg{literal: nil}, nil
	}
	if _, err := strconv.ParseFloat(tok, 64); err != nil {
		return intrinsicArg{}, fmt.Errorf("bad argument %q", tok)
	}
	return intrinsicArg{literal: numberLiteral(tok)}, nil
}

// numberLiteral keeps a number token in json.Number form.
func numberLiteral(tok string) any {
	v, err := DecodeJSON([]byte(tok))
	if err != nil {
		f, _ := strconv.ParseFloat(tok, 64)
		return number(f)
	}
	return v
}

// stringLiteral reads a single-quoted string; backslash escapes the next
// character, and escaped braces stay escaped so that States.Format can tell
// them from placeholders.
func (p *intrinsicParser) stringLiteral() (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '\\':
			if p.i+1 >= len(p.s) {
				return "", fmt.Errorf("dangling escape")
			}
			next := p.s[p.i+1]
			if next == '{' || next == '}' {
				b.WriteByte('\\')
			}
			b.WriteByte(next)
			p.i += 2
		case '\'':
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", fmt.Errorf("unterminated string")
}

// unescapeBraces removes the escapes that stringLiteral kept, for every
// function but States.Format.
func unescapeBraces(s string) string {
	return strings.NewReplacer(`\{`, "{", `\}`, "}").Replace(s)
}

// evalIntrinsic runs an intrinsic call with input as "$".
func (e *Env) evalIntrinsic(c *intrinsicCall, input any) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch {
		case a.call != nil:
			v, err := e.evalIntrinsic(a.call, input)
			if err != nil {
				return nil, err
			}
			args[i] = v
		case a.path != nil:
			v, ok := e.resolvePath(a.path, input)
			if !ok {
				return nil, Errorf(ErrRuntime, "The JsonPath %s could not be found in the input %s", a.path, mustEncode(input))
			}
			args[i] = v
		default:
			if s, ok := a.literal.(string); ok && c.name != "States.Format" {
				args[i] = unescapeBraces(s)
			} else {
				args[i] = a.literal
			}
		}
	}
	fn := intrinsicFunc(c.name)
	v, err := fn(e, args)
	if err != nil {
		return nil, &Error{Name: ErrIntrinsicFailure, Cause: fmt.Sprintf("%s: %v", c.name, err)}
	}
	return v, nil
}
