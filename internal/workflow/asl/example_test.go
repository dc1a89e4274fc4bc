package asl_test

import (
	"errors"
	"fmt"

	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// Parse reports every problem of a definition at once, with its location.
func ExampleParse() {
	_, err := asl.Parse([]byte(`{"StartAt":"A","States":{
		"A":{"Type":"Pass","Next":"Missing"},
		"B":{"Type":"Wait","Next":"A"}}}`))
	var ve *asl.ValidationError
	if errors.As(err, &ve) {
		for _, d := range ve.Diagnostics {
			fmt.Println(d)
		}
	}
	// Output:
	// SCHEMA_VALIDATION_FAILED: A Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath at /States/B
	// MISSING_TRANSITION_TARGET: Missing 'Next' target: Missing at /States/A/Next
	// UNREACHABLE_STATE: State 'B' is not reachable at /States/B
}
