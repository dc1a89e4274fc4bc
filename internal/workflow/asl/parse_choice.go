package asl

import "fmt"

func (p *parser) choice(s *State, obj map[string]any, loc string) {
	s.Default, _ = p.str(obj, "Default", loc)
	v, ok := obj["Choices"]
	arr, isArr := v.([]any)
	switch {
	case !ok:
		p.errorf(CodeSchema, loc, "These fields are required: [Choices]")
		return
	case !isArr || len(arr) == 0:
		p.errorf(CodeSchema, loc+"/Choices", "The field 'Choices' must be a non-empty array")
		return
	}
	for i, e := range arr {
		rloc := fmt.Sprintf("%s/Choices/%d", loc, i)
		ro, ok := e.(map[string]any)
		if !ok {
			p.errorf(CodeSchema, rloc, "A choice rule must be an object")
			continue
		}
		r := p.choiceRule(ro, rloc, s.QueryLanguage, true)
		if r != nil {
			s.Choices = append(s.Choices, r)
		}
	}
}

// choiceRule parses a rule; top-level rules carry Next (and Assign/Output).
func (p *parser) choiceRule(obj map[string]any, loc string, ql QueryLanguage, top bool) *ChoiceRule {
	r := &ChoiceRule{}
	extra := map[string]bool{"Comment": true}
	if top {
		extra["Next"], extra["Assign"], extra["Output"] = true, true, true
		next, ok := p.str(obj, "Next", loc)
		if !ok {
			p.errorf(CodeSchema, loc, "These fields are required: [Next]")
		}
		r.Next = next
		r.Assign, r.HasAssign = p.assign(obj, loc, ql)
		if v, ok := obj["Output"]; ok {
			r.Output, r.HasOutput = v, true
			p.expressions(v, loc+"/Output")
		}
	}
	if ql == JSONata {
		cond, ok := obj["Condition"]
		if !ok {
			p.errorf(CodeSchema, loc, "These fields are required: [Condition]")
			return nil
		}
		if s, isStr := cond.(string); isStr {
			p.expressions(s, loc+"/Condition")
		} else if _, isBool := cond.(bool); !isBool {
			p.errorf(CodeSchema, loc+"/Condition", "Condition must be a JSONata expression or a boolean")
		}
		r.Operator, r.Value = "Condition", cond
		for _, k := range sortedKeys(obj) {
			if k != "Condition" && !extra[k] {
				p.errorf(CodeSchema, loc+"/"+k, "The field '%s' is not supported in a JSONata choice rule", k)
			}
		}
		return r
	}
	var ops []string
	for _, k := range sortedKeys(obj) {
		switch {
		case k == "And" || k == "Or" || k == "Not":
			ops = append(ops, k)
		case k == "Variable" || extra[k]:
		default:
			if _, ok := operatorType(k); ok {
				ops = append(ops, k)
			} else {
				p.errorf(CodeSchema, loc+"/"+k, "The field '%s' is not supported in a choice rule", k)
			}
		}
	}
	if len(ops) != 1 {
		p.errorf(CodeSchema, loc, "A choice rule needs exactly one comparison operator or And/Or/Not, found %d", len(ops))
		return nil
	}
	op := ops[0]
	r.Operator = op
	switch op {
	case "And", "Or":
		arr, ok := obj[op].([]any)
		if !ok || len(arr) == 0 {
			p.errorf(CodeSchema, loc+"/"+op, "The field '%s' must be a non-empty array of rules", op)
			return nil
		}
		for i, e := range arr {
			co, ok := e.(map[string]any)
			cloc := fmt.Sprintf("%s/%s/%d", loc, op, i)
			if !ok {
				p.errorf(CodeSchema, cloc, "A choice rule must be an object")
				continue
			}
			if c := p.choiceRule(co, cloc, ql, false); c != nil {
				r.Children = append(r.Children, c)
			}
		}
		return r
	case "Not":
		co, ok := obj[op].(map[string]any)
		if !ok {
			p.errorf(CodeSchema, loc+"/Not", "The field 'Not' must be a rule")
			return nil
		}
		c := p.choiceRule(co, loc+"/Not", ql, false)
		if c == nil {
			return nil
		}
		r.Children = []*ChoiceRule{c}
		return r
	}
	v, ok := p.str(obj, "Variable", loc)
	if !ok {
		p.errorf(CodeSchema, loc, "These fields are required: [Variable]")
		return nil
	}
	p.checkPath(v, loc+"/Variable", false)
	r.Variable = v
	r.Value = obj[op]
	want, _ := operatorType(op)
	switch want {
	case "":
		s, isStr := r.Value.(string)
		if !isStr {
			p.errorf(CodeSchema, loc+"/"+op, "The field '%s' must be a path", op)
			return nil
		}
		p.checkPath(s, loc+"/"+op, false)
	default:
		if typeName(r.Value) != want {
			p.errorf(CodeSchema, loc+"/"+op, "The field '%s' must be a %s", op, want)
			return nil
		}
	}
	if len(op) > 9 && op[:9] == "Timestamp" && want == "string" {
		if _, err := parseTimestamp(r.Value.(string)); err != nil {
			p.errorf(CodeSchema, loc+"/"+op, "The field '%s' must be an RFC 3339 timestamp", op)
		}
	}
	return r
}
