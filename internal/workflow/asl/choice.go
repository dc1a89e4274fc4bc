package asl

import (
	"regexp"
	"strings"
	"time"
)

// comparisonOperators lists the data-test operators and the JSON type of
// their literal operand ("" for the …Path forms, whose operand is a path).
var comparisonOperators = map[string]string{
	"StringEquals": "string", "StringLessThan": "string", "StringGreaterThan": "string",
	"StringLessThanEquals": "string", "StringGreaterThanEquals": "string", "StringMatches": "string",
	"NumericEquals": "number", "NumericLessThan": "number", "NumericGreaterThan": "number",
	"NumericLessThanEquals": "number", "NumericGreaterThanEquals": "number",
	"BooleanEquals":   "boolean",
	"TimestampEquals": "string", "TimestampLessThan": "string", "TimestampGreaterThan": "string",
	"TimestampLessThanEquals": "string", "TimestampGreaterThanEquals": "string",
	"IsNull": "boolean", "IsPresent": "boolean", "IsNumeric": "boolean", "IsString": "boolean",
	"IsBoolean": "boolean", "IsTimestamp": "boolean",
	"StringEqualsPath": "", "StringLessThanPath": "", "StringGreaterThanPath": "",
	"StringLessThanEqualsPath": "", "StringGreaterThanEqualsPath": "",
	"NumericEqualsPath": "", "NumericLessThanPath": "", "NumericGreaterThanPath": "",
	"NumericLessThanEqualsPath": "", "NumericGreaterThanEqualsPath": "",
	"BooleanEqualsPath":   "",
	"TimestampEqualsPath": "", "TimestampLessThanPath": "", "TimestampGreaterThanPath": "",
	"TimestampLessThanEqualsPath": "", "TimestampGreaterThanEqualsPath": "",
}

// operatorType returns the operand type of a comparison operator.
func operatorType(op string) (string, bool) {
	t, ok := comparisonOperators[op]
	return t, ok
}

// Choose evaluates a Choice state's rules in order against input (JSONPath
// mode) and returns the first rule that matches, or nil.
func (e *Env) Choose(rules []*ChoiceRule, input any) (*ChoiceRule, error) {
	for _, r := range rules {
		ok, err := e.evalRule(r, input)
		if err != nil {
			return nil, err
		}
		if ok {
			return r, nil
		}
	}
	return nil, nil
}

// ChooseJSONata evaluates JSONata Condition rules in order.
func (e *Env) ChooseJSONata(rules []*ChoiceRule, st States) (*ChoiceRule, error) {
	for i, r := range rules {
		cond, ok := r.Value.(string)
		var v any = r.Value
		if ok && IsExpression(cond) {
			var err error
			v, err = e.Expression("Condition", cond, st)
			if err != nil {
				return nil, err
			}
		}
		b, isBool := v.(bool)
		if !isBool {
			return nil, Errorf(ErrQueryEvaluation, "The Condition of choice %d must evaluate to a boolean, got %s", i, mustEncode(v))
		}
		if b {
			return r, nil
		}
	}
	return nil, nil
}

func (e *Env) evalRule(r *ChoiceRule, input any) (bool, error) {
	switch r.Operator {
	case "And":
		for _, c := range r.Children {
			ok, err := e.evalRule(c, input)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case "Or":
		for _, c := range r.Children {
			ok, err := e.evalRule(c, input)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case "Not":
		ok, err := e.evalRule(r.Children[0], input)
		return !ok, err
	}
	p, err := ParsePath(r.Variable)
	if err != nil {
		return false, Errorf(ErrRuntime, "Invalid Variable path '%s': %v", r.Variable, err)
	}
	v, found := e.resolvePath(p, input)
	if r.Operator == "IsPresent" {
		want, _ := r.Value.(bool)
		return found == want, nil
	}
	if !found {
		return false, Errorf(ErrRuntime, "Invalid path '%s' : No results for path: %s", r.Variable, bracketed(p))
	}
	op, operand := r.Operator, r.Value
	if strings.HasSuffix(op, "Path") {
		q, err := ParsePath(operand.(string))
		if err != nil {
			return false, Errorf(ErrRuntime, "Invalid path '%v' in %s: %v", operand, op, err)
		}
		var ok bool
		operand, ok = e.resolvePath(q, input)
		if !ok {
			return false, Errorf(ErrRuntime, "Invalid path '%v' : No results for path: %s", r.Value, bracketed(q))
		}
		op = strings.TrimSuffix(op, "Path")
	}
	return compare(op, v, operand), nil
}

// compare applies a comparison operator; a value of the wrong type never
// matches (the spec says such a rule is simply false).
func compare(op string, v, operand any) bool {
	switch op {
	case "IsNull", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp":
		want, _ := operand.(bool)
		var is bool
		switch op {
		case "IsNull":
			is = v == nil
		case "IsNumeric":
			is = isNumber(v)
		case "IsString":
			_, is = v.(string)
		case "IsBoolean":
			_, is = v.(bool)
		case "IsTimestamp":
			s, ok := v.(string)
			_, err := parseTimestamp(s)
			is = ok && err == nil
		}
		return is == want
	case "BooleanEquals":
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b
	case "StringMatches":
		s, ok1 := v.(string)
		pat, ok2 := operand.(string)
		return ok1 && ok2 && wildcardMatch(pat, s)
	}
	var c int
	var ok bool
	switch {
	case strings.HasPrefix(op, "String"):
		s1, ok1 := v.(string)
		s2, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false
		}
		c, ok = strings.Compare(s1, s2), true
		op = strings.TrimPrefix(op, "String")
	case strings.HasPrefix(op, "Numeric"):
		if !isNumber(v) || !isNumber(operand) {
			return false
		}
		c, ok = compareOrdered(v, operand)
		op = strings.TrimPrefix(op, "Numeric")
	case strings.HasPrefix(op, "Timestamp"):
		s1, ok1 := v.(string)
		s2, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false
		}
		t1, err1 := parseTimestamp(s1)
		t2, err2 := parseTimestamp(s2)
		if err1 != nil || err2 != nil {
			return false
		}
		c, ok = t1.Compare(t2), true
		op = strings.TrimPrefix(op, "Timestamp")
	}
	if !ok {
		return false
	}
	switch op {
	case "Equals":
		return c == 0
	case "LessThan":
		return c < 0
	case "GreaterThan":
		return c > 0
	case "LessThanEquals":
		return c <= 0
	case "GreaterThanEquals":
		return c >= 0
	}
	return false
}

// timestampPattern is the RFC 3339 profile Step Functions accepts: an upper
// case T and a zone (Z or an offset), optional fractional seconds.
var timestampPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)

// ParseTimestamp parses an ASL timestamp (RFC 3339 with a zone).
func ParseTimestamp(s string) (time.Time, error) { return parseTimestamp(s) }

func parseTimestamp(s string) (time.Time, error) {
	if !timestampPattern.MatchString(s) {
		return time.Time{}, &time.ParseError{Layout: time.RFC3339Nano, Value: s, Message: ": not an RFC 3339 timestamp"}
	}
	return time.Parse(time.RFC3339Nano, s)
}

// wildcardMatch matches s against a StringMatches pattern: "*" matches any
// run of characters and "\*" a literal star (and "\\" a backslash).
func wildcardMatch(pattern, s string) bool {
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			re.WriteString(regexp.QuoteMeta(string(pattern[i+1])))
			i++
		case c == '*':
			re.WriteString("(?s:.*)")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	m, err := regexp.MatchString(re.String(), s)
	return err == nil && m
}
