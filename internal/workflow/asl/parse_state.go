package asl

import (
	"fmt"
	"strings"
)

// stateFields lists the fields each state type accepts beyond Type, Comment
// and QueryLanguage.
var stateFields = map[string][]string{
	TypePass:    {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result", "Assign", "Output"},
	TypeTask:    {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Retry", "Catch", "Assign", "Arguments", "Output", "Credentials"},
	TypeChoice:  {"InputPath", "OutputPath", "Choices", "Default", "Assign", "Output"},
	TypeWait:    {"Next", "End", "InputPath", "OutputPath", "Seconds", "SecondsPath", "Timestamp", "TimestampPath", "Assign", "Output"},
	TypeSucceed: {"InputPath", "OutputPath", "Output"},
	TypeFail:    {"Error", "ErrorPath", "Cause", "CausePath"},
	TypeParallel: {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Branches",
		"Retry", "Catch", "Assign", "Arguments", "Output"},
	TypeMap: {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "ItemsPath", "Items",
		"ItemSelector", "ItemProcessor", "Iterator", "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailurePercentage",
		"ToleratedFailurePercentagePath", "ToleratedFailureCount", "ToleratedFailureCountPath", "Retry", "Catch", "Assign",
		"Arguments", "Output", "Label", "ItemReader", "ResultWriter", "ItemBatcher"},
}

// jsonPathOnly and jsonataOnly are the fields one query language forbids.
var (
	jsonPathOnly = []string{"InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Result", "ItemsPath",
		"SecondsPath", "TimestampPath", "ErrorPath", "CausePath", "TimeoutSecondsPath", "HeartbeatSecondsPath",
		"MaxConcurrencyPath", "ToleratedFailurePercentagePath", "ToleratedFailureCountPath"}
	jsonataOnly = []string{"Arguments", "Output", "Items"}
)

func (p *parser) state(name string, obj map[string]any, loc string, machineQL QueryLanguage) *State {
	s := &State{Name: name, QueryLanguage: machineQL}
	typ, ok := p.str(obj, "Type", loc)
	fields, known := stateFields[typ]
	switch {
	case !ok:
		if _, present := obj["Type"]; !present {
			p.errorf(CodeSchema, loc, "These fields are required: [Type]")
		}
		return s
	case !known:
		p.errorf(CodeSchema, loc+"/Type", "Unknown state type %q", typ)
		return s
	}
	s.Type = typ
	if ql, ok := p.str(obj, "QueryLanguage", loc); ok {
		s.QueryLanguage = p.queryLanguage(ql, loc+"/QueryLanguage")
		if p.topQL == JSONata && s.QueryLanguage == JSONPath {
			p.errorf(CodeSchema, loc, "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine")
		}
	}
	allowed := map[string]bool{"Type": true, "Comment": true, "QueryLanguage": true}
	for _, f := range fields {
		allowed[f] = true
	}
	for _, k := range sortedKeys(obj) {
		if !allowed[k] {
			p.errorf(CodeSchema, loc+"/"+k, "The field '%s' is not supported by %s states", k, typ)
		}
	}
	forbidden, lang := jsonataOnly, "JSONPath"
	if s.QueryLanguage == JSONata {
		forbidden, lang = jsonPathOnly, "JSONata"
	}
	for _, f := range forbidden {
		if _, ok := obj[f]; ok && allowed[f] {
			p.errorf(CodeSchema, loc+"/"+f, "The field '%s' is not supported when the query language is %s", f, lang)
		}
	}
	s.Comment, _ = p.str(obj, "Comment", loc)
	p.transition(s, obj, loc)
	p.io(s, obj, loc)
	switch typ {
	case TypeTask:
		p.task(s, obj, loc)
	case TypeChoice:
		p.choice(s, obj, loc)
	case TypeWait:
		p.wait(s, obj, loc)
	case TypeFail:
		p.fail(s, obj, loc)
	case TypeParallel:
		p.parallel(s, obj, loc)
	case TypeMap:
		p.mapState(s, obj, loc)
	}
	if typ == TypeTask || typ == TypeParallel || typ == TypeMap {
		s.Retry = p.retriers(obj, loc)
		s.Catch = p.catchers(obj, loc, s.QueryLanguage)
	}
	return s
}

// transition reads Next/End and applies the terminal-state rules.
func (p *parser) transition(s *State, obj map[string]any, loc string) {
	s.Next, _ = p.str(obj, "Next", loc)
	s.End, _ = p.boolean(obj, "End", loc)
	_, hasNext := obj["Next"]
	_, hasEnd := obj["End"]
	switch s.Type {
	case TypeChoice, TypeSucceed, TypeFail:
		return // fields are rejected by the allow list
	}
	switch {
	case hasNext && hasEnd:
		p.errorf(CodeSchema, loc, "A state may have 'Next' or 'End', not both")
	case !hasNext && !s.End:
		p.errorf(CodeSchema, loc, "A %s state must have 'Next' or 'End': true", s.Type)
	}
}

// io reads the input and output processing fields.
func (p *parser) io(s *State, obj map[string]any, loc string) {
	s.InputPath = p.path(obj, "InputPath", loc, false)
	s.OutputPath = p.path(obj, "OutputPath", loc, false)
	s.ResultPath = p.path(obj, "ResultPath", loc, true)
	if v, ok := obj["Parameters"]; ok {
		s.Parameters, s.HasParameters = v, true
		p.template(v, loc+"/Parameters")
	}
	if v, ok := obj["ResultSelector"]; ok {
		s.ResultSelector, s.HasResultSelector = v, true
		p.template(v, loc+"/ResultSelector")
	}
	if v, ok := obj["Result"]; ok {
		s.Result, s.HasResult = v, true
	}
	if v, ok := obj["Arguments"]; ok {
		s.Arguments, s.HasArguments = v, true
		p.expressions(v, loc+"/Arguments")
	}
	if v, ok := obj["Output"]; ok {
		s.Output, s.HasOutput = v, true
		p.expressions(v, loc+"/Output")
	}
	s.Assign, s.HasAssign = p.assign(obj, loc, s.QueryLanguage)
}

func (p *parser) assign(obj map[string]any, loc string, ql QueryLanguage) (map[string]any, bool) {
	v, ok := obj["Assign"]
	if !ok {
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.errorf(CodeSchema, loc+"/Assign", "The field 'Assign' must be an object")
		return nil, false
	}
	for _, k := range sortedKeys(m) {
		name := strings.TrimSuffix(k, ".$")
		if name == "" || !isIdentStart(name[0]) || strings.IndexFunc(name, func(r rune) bool { return r > 127 || !isIdentPart(byte(r)) }) >= 0 {
			p.errorf(CodeSchema, loc+"/Assign/"+k, "Invalid variable name '%s'", name)
		}
	}
	if ql == JSONata {
		p.expressions(m, loc+"/Assign")
	} else {
		p.template(m, loc+"/Assign")
	}
	return m, true
}

// numberOrExpr reads a field that holds a number, or a JSONata expression
// in JSONata mode (TimeoutSeconds, Seconds, MaxConcurrency, …).
func (p *parser) numberOrExpr(s *State, obj map[string]any, key, loc string, min float64) any {
	v, ok := obj[key]
	if !ok {
		return nil
	}
	if str, isStr := v.(string); isStr && s.QueryLanguage == JSONata && IsExpression(str) {
		p.expressions(str, loc+"/"+key)
		return str
	}
	f, isNum := toFloat(v)
	if !isNum {
		p.errorf(CodeSchema, loc+"/"+key, "The field '%s' must be a number, not %s", key, typeName(v))
		return nil
	}
	if f < min {
		p.errorf(CodeSchema, loc+"/"+key, "The field '%s' must be at least %v", key, min)
	}
	return v
}

func (p *parser) task(s *State, obj map[string]any, loc string) {
	res, ok := p.str(obj, "Resource", loc)
	if !ok {
		if _, present := obj["Resource"]; !present {
			p.errorf(CodeSchema, loc, "These fields are required: [Resource]")
		}
	}
	s.Resource = res
	if s.QueryLanguage == JSONata && IsExpression(res) {
		p.errorf(CodeSchema, loc+"/Resource", "The field 'Resource' must be a literal")
	}
	if ok && !knownIntegration(res) {
		p.errorf(CodeSchema, loc+"/Resource", "The resource provided %s is not recognized. The value is not a valid resource ARN, or the resource is not available in this region.", res)
	}
	if p.opt.Type == Express {
		for _, suffix := range []string{".sync", ".waitForTaskToken"} {
			if strings.HasSuffix(res, suffix) || strings.Contains(res, suffix+":") {
				p.errorf(CodeSchema, loc+"/Resource", "Express state machine does not support '%s' service integration ", suffix)
			}
		}
	}
	s.TimeoutSeconds = p.numberOrExpr(s, obj, "TimeoutSeconds", loc, 1)
	s.HeartbeatSeconds = p.numberOrExpr(s, obj, "HeartbeatSeconds", loc, 1)
	s.TimeoutSecondsPath = p.pathString(obj, "TimeoutSecondsPath", loc)
	s.HeartbeatSecondsPath = p.pathString(obj, "HeartbeatSecondsPath", loc)
	if s.TimeoutSeconds != nil && s.TimeoutSecondsPath != "" {
		p.errorf(CodeSchema, loc, "A Task may have 'TimeoutSeconds' or 'TimeoutSecondsPath', not both")
	}
	if s.HeartbeatSeconds != nil && s.HeartbeatSecondsPath != "" {
		p.errorf(CodeSchema, loc, "A Task may have 'HeartbeatSeconds' or 'HeartbeatSecondsPath', not both")
	}
	if t, ok := toFloat(s.TimeoutSeconds); ok {
		if h, ok := toFloat(s.HeartbeatSeconds); ok && h >= t {
			p.errorf(CodeSchema, loc+"/HeartbeatSeconds", "HeartbeatSeconds must be smaller than TimeoutSeconds")
		}
	}
	if v, ok := obj["Credentials"]; ok {
		s.Credentials = v
		c, isObj := v.(map[string]any)
		_, hasRole := c["RoleArn"]
		_, hasRolePath := c["RoleArn.$"]
		if !isObj || (!hasRole && !hasRolePath) {
			p.errorf(CodeSchema, loc+"/Credentials", "The field 'RoleArn' is required but was missing")
		}
	}
}

func (p *parser) wait(s *State, obj map[string]any, loc string) {
	s.Seconds = p.numberOrExpr(s, obj, "Seconds", loc, 0)
	s.SecondsPath = p.pathString(obj, "SecondsPath", loc)
	if v, ok := obj["Timestamp"]; ok {
		str, isStr := v.(string)
		switch {
		case !isStr:
			p.errorf(CodeSchema, loc+"/Timestamp", "The field 'Timestamp' must be a string")
		case s.QueryLanguage == JSONata && IsExpression(str):
			p.expressions(str, loc+"/Timestamp")
		default:
			if _, err := parseTimestamp(str); err != nil {
				p.errorf(CodeSchema, loc+"/Timestamp", "The field 'Timestamp' must be an RFC 3339 timestamp: %q", str)
			}
		}
		s.Timestamp = v
	}
	s.TimestampPath = p.pathString(obj, "TimestampPath", loc)
	n := 0
	for _, k := range []string{"Seconds", "SecondsPath", "Timestamp", "TimestampPath"} {
		if _, ok := obj[k]; ok {
			n++
		}
	}
	if n != 1 {
		p.errorf(CodeSchema, loc, "A Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath")
	}
}

func (p *parser) fail(s *State, obj map[string]any, loc string) {
	for _, f := range []struct {
		key string
		dst *any
	}{{"Error", &s.Error}, {"Cause", &s.Cause}} {
		if v, ok := obj[f.key]; ok {
			str, isStr := v.(string)
			if !isStr {
				p.errorf(CodeSchema, loc+"/"+f.key, "The field '%s' must be a string", f.key)
				continue
			}
			if s.QueryLanguage == JSONata {
				p.expressions(str, loc+"/"+f.key)
			}
			*f.dst = str
		}
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"ErrorPath", &s.ErrorPath}, {"CausePath", &s.CausePath}} {
		str, ok := p.str(obj, f.key, loc)
		if !ok {
			continue
		}
		*f.dst = str
		if IsIntrinsic(str) {
			if _, err := ParseIntrinsic(str); err != nil {
				p.errorf(CodeSchema, loc+"/"+f.key, "%v", err)
			}
		} else {
			p.checkPath(str, loc+"/"+f.key, false)
		}
	}
	if s.Error != nil && s.ErrorPath != "" {
		p.errorf(CodeSchema, loc, "A Fail state may have 'Error' or 'ErrorPath', not both")
	}
	if s.Cause != nil && s.CausePath != "" {
		p.errorf(CodeSchema, loc, "A Fail state may have 'Cause' or 'CausePath', not both")
	}
}

func (p *parser) parallel(s *State, obj map[string]any, loc string) {
	v, ok := obj["Branches"]
	branches, isArr := v.([]any)
	switch {
	case !ok:
		p.errorf(CodeSchema, loc, "These fields are required: [Branches]")
		return
	case !isArr || len(branches) == 0:
		p.errorf(CodeSchema, loc+"/Branches", "The field 'Branches' must be a non-empty array")
		return
	}
	for i, b := range branches {
		bloc := fmt.Sprintf("%s/Branches/%d", loc, i)
		bo, ok := b.(map[string]any)
		if !ok {
			p.errorf(CodeSchema, bloc, "A branch must be an object")
			continue
		}
		s.Branches = append(s.Branches, p.machine(bo, bloc, p.topQL, false))
	}
}

func (p *parser) mapState(s *State, obj map[string]any, loc string) {
	key := "ItemProcessor"
	if _, ok := obj[key]; !ok {
		key = "Iterator"
	}
	v, ok := obj[key]
	proc, isObj := v.(map[string]any)
	switch {
	case !ok:
		p.errorf(CodeSchema, loc, "These fields are required: [ItemProcessor]")
	case !isObj:
		p.errorf(CodeSchema, loc+"/"+key, "The field '%s' must be an object", key)
	default:
		s.ItemProcessor = p.machine(proc, loc+"/"+key, p.topQL, false)
		s.ProcessorMode = ModeInline
		if cfg, ok := proc["ProcessorConfig"].(map[string]any); ok {
			if mode, ok := p.str(cfg, "Mode", loc+"/"+key+"/ProcessorConfig"); ok {
				if mode != ModeInline && mode != ModeDistributed {
					p.errorf(CodeSchema, loc+"/"+key+"/ProcessorConfig/Mode", "Mode must be INLINE or DISTRIBUTED")
				}
				s.ProcessorMode = mode
			}
		}
	}
	s.ItemsPath = p.pathString(obj, "ItemsPath", loc)
	if v, ok := obj["Items"]; ok {
		s.Items, s.HasItems = v, true
		p.expressions(v, loc+"/Items")
	}
	if v, ok := obj["ItemSelector"]; ok {
		s.ItemSelector, s.HasItemSelector = v, true
		if s.QueryLanguage == JSONata {
			p.expressions(v, loc+"/ItemSelector")
		} else {
			p.template(v, loc+"/ItemSelector")
		}
	}
	if s.HasItemSelector && s.HasParameters {
		p.errorf(CodeSchema, loc, "A Map state may have 'ItemSelector' or 'Parameters', not both")
	}
	s.MaxConcurrency = p.numberOrExpr(s, obj, "MaxConcurrency", loc, 0)
	s.MaxConcurrencyPath = p.pathString(obj, "MaxConcurrencyPath", loc)
	s.ToleratedFailurePercentage = p.numberOrExpr(s, obj, "ToleratedFailurePercentage", loc, 0)
	if f, ok := toFloat(s.ToleratedFailurePercentage); ok && f > 100 {
		p.errorf(CodeSchema, loc+"/ToleratedFailurePercentage", "ToleratedFailurePercentage must be at most 100")
	}
	s.ToleratedFailurePercentagePath = p.pathString(obj, "ToleratedFailurePercentagePath", loc)
	s.ToleratedFailureCount = p.numberOrExpr(s, obj, "ToleratedFailureCount", loc, 0)
	s.ToleratedFailureCountPath = p.pathString(obj, "ToleratedFailureCountPath", loc)
	s.Label, _ = p.str(obj, "Label", loc)
	s.ItemReader, s.ItemBatcher, s.ResultWriter = obj["ItemReader"], obj["ItemBatcher"], obj["ResultWriter"]
}

func (p *parser) retriers(obj map[string]any, loc string) []*Retrier {
	v, ok := obj["Retry"]
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		p.errorf(CodeSchema, loc+"/Retry", "The field 'Retry' must be an array")
		return nil
	}
	var out []*Retrier
	for i, e := range arr {
		rloc := fmt.Sprintf("%s/Retry/%d", loc, i)
		ro, ok := e.(map[string]any)
		if !ok {
			p.errorf(CodeSchema, rloc, "A retrier must be an object")
			continue
		}
		r := &Retrier{IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: "NONE"}
		r.ErrorEquals = p.errorEquals(ro, rloc, i == len(arr)-1)
		if n, ok := p.integer(ro, "IntervalSeconds", rloc); ok {
			if n < 1 {
				p.errorf(CodeSchema, rloc+"/IntervalSeconds", "IntervalSeconds must be at least 1")
			}
			r.IntervalSeconds = float64(n)
		}
		if n, ok := p.integer(ro, "MaxAttempts", rloc); ok {
			if n < 0 {
				p.errorf(CodeSchema, rloc+"/MaxAttempts", "MaxAttempts must not be negative")
			}
			r.MaxAttempts = int(n)
		}
		if f, ok := p.float(ro, "BackoffRate", rloc); ok {
			if f < 1 {
				p.errorf(CodeSchema, rloc+"/BackoffRate", "BackoffRate must be at least 1.0")
			}
			r.BackoffRate = f
		}
		if n, ok := p.integer(ro, "MaxDelaySeconds", rloc); ok {
			if n < 1 {
				p.errorf(CodeSchema, rloc+"/MaxDelaySeconds", "MaxDelaySeconds must be at least 1")
			}
			r.MaxDelaySeconds = float64(n)
		}
		if j, ok := p.str(ro, "JitterStrategy", rloc); ok {
			if j != "FULL" && j != "NONE" {
				p.errorf(CodeSchema, rloc+"/JitterStrategy", "JitterStrategy must be FULL or NONE")
			}
			r.JitterStrategy = j
		}
		for _, k := range sortedKeys(ro) {
			switch k {
			case "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment":
			default:
				p.errorf(CodeSchema, rloc+"/"+k, "The field '%s' is not supported in a retrier", k)
			}
		}
		out = append(out, r)
	}
	return out
}

func (p *parser) errorEquals(obj map[string]any, loc string, last bool) []string {
	if _, ok := obj["ErrorEquals"]; !ok {
		p.errorf(CodeSchema, loc, "These fields are required: [ErrorEquals]")
		return nil
	}
	names := p.stringList(obj, "ErrorEquals", loc)
	if len(names) == 0 {
		p.errorf(CodeSchema, loc+"/ErrorEquals", "ErrorEquals must not be empty")
	}
	for _, n := range names {
		if n == ErrAll && (len(names) != 1 || !last) {
			p.errorf(CodeSchema, loc+"/ErrorEquals", "States.ALL must appear alone and in the last retrier or catcher")
		}
	}
	return names
}

func (p *parser) catchers(obj map[string]any, loc string, ql QueryLanguage) []*Catcher {
	v, ok := obj["Catch"]
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		p.errorf(CodeSchema, loc+"/Catch", "The field 'Catch' must be an array")
		return nil
	}
	var out []*Catcher
	for i, e := range arr {
		cloc := fmt.Sprintf("%s/Catch/%d", loc, i)
		co, ok := e.(map[string]any)
		if !ok {
			p.errorf(CodeSchema, cloc, "A catcher must be an object")
			continue
		}
		c := &Catcher{ErrorEquals: p.errorEquals(co, cloc, i == len(arr)-1)}
		next, ok := p.str(co, "Next", cloc)
		if !ok {
			p.errorf(CodeSchema, cloc, "These fields are required: [Next]")
		}
		c.Next = next
		c.ResultPath = p.path(co, "ResultPath", cloc, true)
		if v, ok := co["Output"]; ok {
			c.Output, c.HasOutput = v, true
			p.expressions(v, cloc+"/Output")
		}
		c.Assign, c.HasAssign = p.assign(co, cloc, ql)
		out = append(out, c)
	}
	return out
}
