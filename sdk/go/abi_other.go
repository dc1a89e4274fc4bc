//go:build !wasip1

package hearth

import (
	"fmt"
	"os"
)

// hostLog writes to stderr so that handlers log something when unit tested
// on the host.
func hostLog(level Level, msg string) { fmt.Fprintf(os.Stderr, "[%s] %s\n", level, msg) }

func hostCall(op string, _ []byte) ([]byte, error) {
	return nil, fmt.Errorf("%s: host calls exist only inside a hearth function (GOOS=wasip1): %w", op, ErrHostCall)
}
