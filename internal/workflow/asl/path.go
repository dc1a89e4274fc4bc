package asl

import (
	"fmt"
	"strconv"
	"strings"
)

// A JSONPath expression as ASL uses it. Three roots exist: "$" is the state's
// input (or the value a field applies to), "$$" is the context object, and
// "$name" is the workflow variable name. The syntax is the Jayway dialect AWS
// uses: dot and bracket names, indexes (negative from the end), slices,
// wildcards, unions, recursive descent, simple filters and length().

type rootKind int

const (
	rootInput rootKind = iota
	rootContext
	rootVariable
)

type segKind int

const (
	segName segKind = iota
	segIndex
	segWildcard
	segSlice
	segDescend // recursive descent, followed by the segment it applies to
	segFilter
	segUnion
	segLength
)

type segment struct {
	kind       segKind
	name       string
	index      int
	start, end *int // slice bounds
	step       int
	filter     *filterExpr
	union      []segment
}

// PathExpr is a parsed JSONPath.
type PathExpr struct {
	src      string
	root     rootKind
	variable string
	segs     []segment
}

// String returns the path as written.
func (p *PathExpr) String() string { return p.src }

// Definite reports whether the path selects at most one node (no wildcard,
// slice, filter, union or descent); indefinite paths yield an array.
func (p *PathExpr) Definite() bool {
	for _, s := range p.segs {
		switch s.kind {
		case segName, segIndex, segLength:
		default:
			return false
		}
	}
	return true
}

// IsContext reports whether the path starts at the context object ($$).
func (p *PathExpr) IsContext() bool { return p.root == rootContext }

// Variable returns the variable name for a "$name" path, or "".
func (p *PathExpr) Variable() string { return p.variable }

// IsReference reports whether the path is a Reference Path: a definite path
// made of names and indexes only, as ResultPath requires.
func (p *PathExpr) IsReference() bool {
	if p.root != rootInput {
		return false
	}
	for _, s := range p.segs {
		if s.kind != segName && s.kind != segIndex {
			return false
		}
	}
	return true
}

// ParsePath parses a JSONPath that starts with "$".
func ParsePath(src string) (*PathExpr, error) {
	p := &PathExpr{src: src}
	s := strings.TrimSpace(src)
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("path %q must start with '$'", src)
	}
	i := 1
	switch {
	case strings.HasPrefix(s, "$$"):
		p.root = rootContext
		i = 2
	case len(s) > 1 && isIdentStart(s[1]):
		p.root = rootVariable
		j := 1
		for j < len(s) && isIdentPart(s[j]) {
			j++
		}
		p.variable = s[1:j]
		i = j
	}
	segs, err := parseSegments(s, i)
	if err != nil {
		return nil, fmt.Errorf("invalid path %q: %w", src, err)
	}
	p.segs = segs
	return p, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// isNameChar accepts what Jayway accepts in a dot-name: anything but the
// characters that start another segment.
func isNameChar(c byte) bool {
	return c != '.' && c != '[' && c != ']' && c != ' ' && c != '(' && c != ')' && c != ',' && c != '\'' && c != '"'
}

func parseSegments(s string, i int) ([]segment, error) {
	var segs []segment
	for i < len(s) {
		switch s[i] {
		case '.':
			if i+1 < len(s) && s[i+1] == '.' {
				segs = append(segs, segment{kind: segDescend})
				i += 2
				if i < len(s) && s[i] == '[' {
					continue
				}
			} else {
				i++
			}
			if i < len(s) && s[i] == '*' {
				segs = append(segs, segment{kind: segWildcard})
				i++
				continue
			}
			j := i
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("expected a name at offset %d", i)
			}
			name := s[i:j]
			if name == "length" && strings.HasPrefix(s[j:], "()") {
				segs = append(segs, segment{kind: segLength})
				i = j + 2
				continue
			}
			segs = append(segs, segment{kind: segName, name: name})
			i = j
		case '[':
			seg, n, err := parseBracket(s, i)
			if err != nil {
				return nil, err
			}
			segs = append(segs, seg)
			i = n
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", s[i], i)
		}
	}
	if len(segs) > 0 && segs[len(segs)-1].kind == segDescend {
		return nil, fmt.Errorf("recursive descent needs a name")
	}
	return segs, nil
}

// parseBracket parses the bracket segment that starts at s[i] == '['.
func parseBracket(s string, i int) (segment, int, error) {
	end := matchingBracket(s, i)
	if end < 0 {
		return segment{}, 0, fmt.Errorf("unclosed '[' at offset %d", i)
	}
	body := strings.TrimSpace(s[i+1 : end])
	next := end + 1
	switch {
	case body == "*":
		return segment{kind: segWildcard}, next, nil
	case strings.HasPrefix(body, "?"):
		f, err := parseFilter(strings.TrimSpace(body[1:]))
		if err != nil {
			return segment{}, 0, err
		}
		return segment{kind: segFilter, filter: f}, next, nil
	}
	parts := splitTopLevel(body, ',')
	var union []segment
	for _, part := range parts {
		seg, err := parseBracketPart(strings.TrimSpace(part))
		if err != nil {
			return segment{}, 0, err
		}
		union = append(union, seg)
	}
	if len(union) == 1 {
		return union[0], next, nil
	}
	return segment{kind: segUnion, union: union}, next, nil
}

func parseBracketPart(part string) (segment, error) {
	if len(part) >= 2 && (part[0] == '\'' || part[0] == '"') && part[len(part)-1] == part[0] {
		return segment{kind: segName, name: part[1 : len(part)-1]}, nil
	}
	if strings.Contains(part, ":") {
		bounds := strings.Split(part, ":")
		if len(bounds) > 3 {
			return segment{}, fmt.Errorf("bad slice %q", part)
		}
		seg := segment{kind: segSlice, step: 1}
		for k, b := range bounds {
			b = strings.TrimSpace(b)
			if b == "" {
				continue
			}
			n, err := strconv.Atoi(b)
			if err != nil {
				return segment{}, fmt.Errorf("bad slice bound %q", b)
			}
			switch k {
			case 0:
				seg.start = &n
			case 1:
				seg.end = &n
			case 2:
				if n == 0 {
					return segment{}, fmt.Errorf("slice step 0")
				}
				seg.step = n
			}
		}
		return seg, nil
	}
	n, err := strconv.Atoi(part)
	if err != nil {
		return segment{}, fmt.Errorf("bad index %q", part)
	}
	return segment{kind: segIndex, index: n}, nil
}

// matchingBracket finds the ']' closing the '[' at s[i], skipping quoted text
// and nested brackets.
func matchingBracket(s string, i int) int {
	depth := 0
	var quote byte
	for j := i; j < len(s); j++ {
		c := s[j]
		switch {
		case quote != 0:
			if c == '\\' {
				j++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '[':
			depth++
		case c == ']':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// splitTopLevel splits s at sep outside quotes, brackets and parentheses.
func splitTopLevel(s string, sep byte) []string {
	var parts []string
	depth, start := 0, 0
	var quote byte
	for j := 0; j < len(s); j++ {
		c := s[j]
		switch {
		case quote != 0:
			if c == '\\' {
				j++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case c == sep && depth == 0:
			parts = append(parts, s[start:j])
			start = j + 1
		}
	}
	return append(parts, s[start:])
}

// Eval applies the path to root (the value its root stands for). found is
// false when a definite path selects nothing. An indefinite path always
// succeeds with an array, possibly empty.
func (p *PathExpr) Eval(root any) (value any, found bool) {
	nodes := []any{root}
	for i := 0; i < len(p.segs); i++ {
		seg := p.segs[i]
		var out []any
		if seg.kind == segDescend {
			i++
			target := p.segs[i]
			for _, n := range nodes {
				descend(n, func(v any) { out = append(out, apply(target, v)...) })
			}
		} else {
			for _, n := range nodes {
				out = append(out, apply(seg, n)...)
			}
		}
		nodes = out
	}
	if p.Definite() {
		if len(nodes) == 0 {
			return nil, false
		}
		return nodes[0], true
	}
	if nodes == nil {
		nodes = []any{}
	}
	return nodes, true
}

// descend calls f for v and every value nested in it, depth first.
func descend(v any, f func(any)) {
	f(v)
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			descend(t[k], f)
		}
	case []any:
		for _, e := range t {
			descend(e, f)
		}
	}
}

func apply(seg segment, v any) []any {
	switch seg.kind {
	case segName:
		if m, ok := v.(map[string]any); ok {
			if e, ok := m[seg.name]; ok {
				return []any{e}
			}
		}
	case segIndex:
		if a, ok := v.([]any); ok {
			i := seg.index
			if i < 0 {
				i += len(a)
			}
			if i >= 0 && i < len(a) {
				return []any{a[i]}
			}
		}
	case segWildcard:
		switch t := v.(type) {
		case map[string]any:
			out := make([]any, 0, len(t))
			for _, k := range sortedKeys(t) {
				out = append(out, t[k])
			}
			return out
		case []any:
			return append([]any(nil), t...)
		}
	case segSlice:
		if a, ok := v.([]any); ok {
			return slice(a, seg)
		}
	case segFilter:
		var out []any
		switch t := v.(type) {
		case []any:
			for _, e := range t {
				if seg.filter.match(e) {
					out = append(out, e)
				}
			}
		case map[string]any:
			for _, k := range sortedKeys(t) {
				if seg.filter.match(t[k]) {
					out = append(out, t[k])
				}
			}
		}
		return out
	case segUnion:
		var out []any
		for _, u := range seg.union {
			out = append(out, apply(u, v)...)
		}
		return out
	case segLength:
		switch t := v.(type) {
		case []any:
			return []any{number(float64(len(t)))}
		case map[string]any:
			return []any{number(float64(len(t)))}
		case string:
			return []any{number(float64(len([]rune(t))))}
		}
	}
	return nil
}

func slice(a []any, seg segment) []any {
	n := len(a)
	norm := func(p *int, def int) int {
		if p == nil {
			return def
		}
		i := *p
		if i < 0 {
			i += n
		}
		return max(0, min(i, n))
	}
	var out []any
	if seg.step > 0 {
		for i := norm(seg.start, 0); i < norm(seg.end, n); i += seg.step {
			out = append(out, a[i])
		}
		return out
	}
	start := n - 1
	if seg.start != nil {
		start = min(norm(seg.start, n-1), n-1)
	}
	end := -1
	if seg.end != nil {
		end = norm(seg.end, -1)
	}
	for i := start; i > end; i += seg.step {
		out = append(out, a[i])
	}
	return out
}

// Set writes value at the Reference Path p inside root, creating objects on
// the way as ResultPath requires, and returns the new root. It fails when an
// intermediate value exists and is not an object (or array for an index).
func (p *PathExpr) Set(root, value any) (any, error) {
	if len(p.segs) == 0 {
		return value, nil
	}
	return setAt(root, p.segs, value)
}

func setAt(cur any, segs []segment, value any) (any, error) {
	seg := segs[0]
	switch seg.kind {
	case segName:
		m, ok := cur.(map[string]any)
		if cur == nil {
			m, ok = map[string]any{}, true
		}
		if !ok {
			return nil, fmt.Errorf("cannot set field %q on a %s", seg.name, typeName(cur))
		}
		if len(segs) == 1 {
			m[seg.name] = value
			return m, nil
		}
		child, err := setAt(m[seg.name], segs[1:], value)
		if err != nil {
			return nil, err
		}
		m[seg.name] = child
		return m, nil
	case segIndex:
		a, ok := cur.([]any)
		if !ok {
			return nil, fmt.Errorf("cannot set index %d on a %s", seg.index, typeName(cur))
		}
		i := seg.index
		if i < 0 {
			i += len(a)
		}
		if i < 0 || i >= len(a) {
			return nil, fmt.Errorf("index %d out of range", seg.index)
		}
		if len(segs) == 1 {
			a[i] = value
			return a, nil
		}
		child, err := setAt(a[i], segs[1:], value)
		if err != nil {
			return nil, err
		}
		a[i] = child
		return a, nil
	}
	return nil, fmt.Errorf("not a reference path")
}
