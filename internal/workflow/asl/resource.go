package asl

import "strings"

// integrationActions lists, for the optimized service integrations whose
// action set is small and closed, the actions Step Functions offers; a
// Resource naming another action of these services is rejected at creation
// as Step Functions does. Other services (and aws-sdk:*) are not checked.
var integrationActions = map[string][]string{
	"lambda":   {"invoke"},
	"dynamodb": {"getItem", "putItem", "updateItem", "deleteItem"},
	"sns":      {"publish"},
	"sqs":      {"sendMessage"},
	"states":   {"startExecution"},
	"events":   {"putEvents"},
}

// knownIntegration reports whether an arn:aws:states::: resource names an
// integration that exists (true for services it does not know).
func knownIntegration(resource string) bool {
	rest, ok := strings.CutPrefix(resource, "arn:aws:states:::")
	if !ok {
		return true
	}
	service, action, ok := strings.Cut(rest, ":")
	if !ok {
		return false
	}
	actions, checked := integrationActions[service]
	if !checked {
		return true
	}
	// Integration patterns are suffixes: .sync, .sync:2, .waitForTaskToken.
	action, _, _ = strings.Cut(action, ".")
	for _, a := range actions {
		if a == action {
			return true
		}
	}
	return false
}
