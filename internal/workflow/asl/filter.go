package asl

import (
	"fmt"
	"strings"
)

// filterExpr is a JSONPath filter such as [?(@.price < 10 && @.kind == 'book')].
// It supports comparisons of a relative path with a literal or another
// relative path, existence tests, && and ||, which covers what definitions
// use in practice.
type filterExpr struct {
	or   []*filterExpr // any of
	and  []*filterExpr // all of
	left *filterOperand
	op   string // "", "==", "!=", "<", "<=", ">", ">="
	rhs  *filterOperand
}

type filterOperand struct {
	path    *PathExpr // relative to @ (root kind input)
	literal any
}

func parseFilter(s string) (*filterExpr, error) {
	s = strings.TrimSpace(s)
	for strings.HasPrefix(s, "(") && matchingParen(s) == len(s)-1 {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if parts := splitOperator(s, "||"); len(parts) > 1 {
		f := &filterExpr{}
		for _, p := range parts {
			sub, err := parseFilter(p)
			if err != nil {
				return nil, err
			}
			f.or = append(f.or, sub)
		}
		return f, nil
	}
	if parts := splitOperator(s, "&&"); len(parts) > 1 {
		f := &filterExpr{}
		for _, p := range parts {
			sub, err := parseFilter(p)
			if err != nil {
				return nil, err
			}
			f.and = append(f.and, sub)
		}
		return f, nil
	}
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if parts := splitOperator(s, op); len(parts) == 2 {
			l, err := parseOperand(parts[0])
			if err != nil {
				return nil, err
			}
			r, err := parseOperand(parts[1])
			if err != nil {
				return nil, err
			}
			return &filterExpr{left: l, op: op, rhs: r}, nil
		}
	}
	l, err := parseOperand(s)
	if err != nil {
		return nil, err
	}
	if l.path == nil {
		return nil, fmt.Errorf("filter %q is not a test", s)
	}
	return &filterExpr{left: l}, nil
}

func matchingParen(s string) int {
	depth := 0
	var quote byte
	for j := 0; j < len(s); j++ {
		c := s[j]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// splitOperator splits s at top-level occurrences of op.
func splitOperator(s, op string) []string {
	var parts []string
	depth, start := 0, 0
	var quote byte
	for j := 0; j < len(s); j++ {
		c := s[j]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case depth == 0 && strings.HasPrefix(s[j:], op):
			// Do not split "<=" when looking for "<", nor "==" for "=".
			if (op == "<" || op == ">") && j+1 < len(s) && s[j+1] == '=' {
				continue
			}
			parts = append(parts, s[start:j])
			j += len(op) - 1
			start = j + 1
		}
	}
	return append(parts, s[start:])
}

func parseOperand(s string) (*filterOperand, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "@") {
		p, err := ParsePath("$" + s[1:])
		if err != nil {
			return nil, err
		}
		return &filterOperand{path: p}, nil
	}
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return &filterOperand{literal: s[1 : len(s)-1]}, nil
	}
	v, err := DecodeJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("bad filter operand %q", s)
	}
	return &filterOperand{literal: v}, nil
}

func (o *filterOperand) value(cur any) (any, bool) {
	if o.path != nil {
		return o.path.Eval(cur)
	}
	return o.literal, true
}

func (f *filterExpr) match(cur any) bool {
	switch {
	case f.or != nil:
		for _, s := range f.or {
			if s.match(cur) {
				return true
			}
		}
		return false
	case f.and != nil:
		for _, s := range f.and {
			if !s.match(cur) {
				return false
			}
		}
		return true
	}
	l, ok := f.left.value(cur)
	if !ok {
		return false
	}
	if f.op == "" {
		return true
	}
	r, ok := f.rhs.value(cur)
	if !ok {
		return false
	}
	switch f.op {
	case "==":
		return Equal(l, r)
	case "!=":
		return !Equal(l, r)
	}
	c, ok := compareOrdered(l, r)
	if !ok {
		return false
	}
	switch f.op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	default:
		return c >= 0
	}
}

// compareOrdered compares two numbers or two strings.
func compareOrdered(a, b any) (int, bool) {
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		if !ok {
			return 0, false
		}
		switch {
		case fa < fb:
			return -1, true
		case fa > fb:
			return 1, true
		}
		return 0, true
	}
	sa, ok1 := a.(string)
	sb, ok2 := b.(string)
	if !ok1 || !ok2 {
		return 0, false
	}
	return strings.Compare(sa, sb), true
}
