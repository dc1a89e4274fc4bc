package statetest

import (
	"os"
	"testing"
)

// ServiceURL returns the URL of a real service for a backend's test, read
// from the environment variable name (for example HEARTH_TEST_REDIS_URL).
// When it is unset the test is skipped with a message saying how to run it,
// except under CI (HEARTH_CI=1), where a missing service is a failure: CI
// sources .ci/services.sh, so the URL must be there.
func ServiceURL(t testing.TB, name string) string {
	t.Helper()
	url := os.Getenv(name)
	if url != "" {
		return url
	}
	msg := name + " is not set; run `source .ci/services.sh` (installs and starts redis-server and PostgreSQL) to run this test"
	if os.Getenv("HEARTH_CI") == "1" {
		t.Fatal("HEARTH_CI=1 but " + msg)
	}
	t.Skip(msg)
	return ""
}
