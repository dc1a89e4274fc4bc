// Package asl parses, validates and evaluates the Amazon States Language:
// state machine definitions, paths, payload templates, intrinsic functions,
// JSONata expressions, Choice rules and the error-handling rules. It is pure:
// no I/O, no clocks, no randomness it is not handed. The engine in
// internal/workflow drives it.
package asl

// QueryLanguage selects how a state's fields are evaluated.
type QueryLanguage string

// The two query languages of ASL.
const (
	JSONPath QueryLanguage = "JSONPath"
	JSONata  QueryLanguage = "JSONata"
)

// State types.
const (
	TypePass     = "Pass"
	TypeTask     = "Task"
	TypeChoice   = "Choice"
	TypeWait     = "Wait"
	TypeSucceed  = "Succeed"
	TypeFail     = "Fail"
	TypeParallel = "Parallel"
	TypeMap      = "Map"
)

// Map processor modes.
const (
	ModeInline      = "INLINE"
	ModeDistributed = "DISTRIBUTED"
)

// Machine is a parsed state machine, or one branch of a Parallel state or the
// item processor of a Map state (which have the same shape).
type Machine struct {
	Comment        string
	StartAt        string
	States         map[string]*State
	QueryLanguage  QueryLanguage
	TimeoutSeconds int64 // 0: no limit
	Version        string
	// Order lists the state names in the order the definition gives them.
	Order []string
}

// Path is an optional JSONPath field (InputPath, OutputPath, ResultPath).
// Absent means "$"; Null means the field was JSON null, which discards (the
// input for InputPath/OutputPath, the result for ResultPath).
type Path struct {
	Null bool
	Expr string
}

// State is one state of a machine. Which fields are meaningful depends on
// Type; the parser rejects fields a type does not allow.
type State struct {
	Name          string
	Type          string
	Comment       string
	QueryLanguage QueryLanguage // resolved: the state's own or the machine's
	Next          string
	End           bool

	InputPath, OutputPath, ResultPath Path
	Parameters                        any // JSONPath payload template
	HasParameters                     bool
	ResultSelector                    any
	HasResultSelector                 bool
	Result                            any // Pass
	HasResult                         bool
	Arguments                         any // JSONata
	HasArguments                      bool
	Output                            any // JSONata
	HasOutput                         bool
	Assign                            map[string]any
	HasAssign                         bool

	// Task.
	Resource             string
	TimeoutSeconds       any // number, or a JSONata string
	TimeoutSecondsPath   string
	HeartbeatSeconds     any
	HeartbeatSecondsPath string
	Credentials          any
	Retry                []*Retrier
	Catch                []*Catcher

	// Choice.
	Choices []*ChoiceRule
	Default string

	// Wait.
	Seconds       any // number, or a JSONata string
	SecondsPath   string
	Timestamp     any
	TimestampPath string

	// Fail.
	Error, Cause         any // string, or a JSONata string
	ErrorPath, CausePath string

	// Parallel.
	Branches []*Machine

	// Map.
	ItemProcessor                  *Machine
	ProcessorMode                  string
	ItemsPath                      string
	Items                          any // JSONata
	HasItems                       bool
	ItemSelector                   any
	HasItemSelector                bool
	MaxConcurrency                 any
	MaxConcurrencyPath             string
	ToleratedFailurePercentage     any
	ToleratedFailurePercentagePath string
	ToleratedFailureCount          any
	ToleratedFailureCountPath      string
	Label                          string
	// ItemReader, ItemBatcher and ResultWriter read items from and write
	// results to AWS services (S3); they are kept so that the engine can
	// refuse them clearly at run time.
	ItemReader, ItemBatcher, ResultWriter any
}

// Terminal reports whether the state ends its machine when it completes.
func (s *State) Terminal() bool {
	return s.End || s.Type == TypeSucceed || s.Type == TypeFail
}

// Retrier is one entry of a Retry field.
type Retrier struct {
	ErrorEquals     []string
	IntervalSeconds float64 // default 1
	MaxAttempts     int     // default 3
	BackoffRate     float64 // default 2.0
	MaxDelaySeconds float64 // 0: no cap
	JitterStrategy  string  // "FULL" or "NONE"
}

// Catcher is one entry of a Catch field.
type Catcher struct {
	ErrorEquals []string
	Next        string
	ResultPath  Path
	Output      any
	HasOutput   bool
	Assign      map[string]any
	HasAssign   bool
}

// ChoiceRule is a Choice state rule, or a nested rule inside And/Or/Not.
type ChoiceRule struct {
	// Operator is the comparison ("StringEquals", "NumericLessThanPath",
	// "IsPresent", …), "And", "Or", "Not", or "Condition" in JSONata mode.
	Operator string
	Variable string
	// Value is the operand: a literal, or a path for the …Path operators,
	// or the JSONata Condition.
	Value    any
	Children []*ChoiceRule
	// Next, Assign and Output are set on top-level rules only.
	Next      string
	Assign    map[string]any
	HasAssign bool
	Output    any
	HasOutput bool
}
