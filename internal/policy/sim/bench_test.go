package sim

import (
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/policy"
)

// BenchmarkRun replays the committed synthetic trace (2 million invocations)
// against each built-in policy and reports replay speed.
func BenchmarkRun(b *testing.B) {
	tr := readAzureDir(b, syntheticDir, "invocations.csv", "durations.csv", "memory.csv")
	for _, np := range policy.Builtin() {
		b.Run(np.Name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Run(tr, []policy.Named{np}, Options{Train: 12 * time.Hour}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tr.Invocations())*float64(b.N)/b.Elapsed().Seconds(), "invocations/s")
		})
	}
}
