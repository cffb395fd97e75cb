package jaeger

import (
	"fmt"

	"asynctrace/scenario"
)

// LargeTraceHint says how to read, in Jaeger's UI, the trace of a run of n
// tasks, when its tasks are too many to read row by row (above
// scenario.LaneTasks): such a trace has some 8 spans a task with the
// server's (80,002 at 10,000 tasks), which the UI takes seconds to draw
// (README, "Large runs"). "" for smaller runs.
func LargeTraceHint(n int) string {
	if n <= scenario.LaneTasks {
		return ""
	}
	return fmt.Sprintf("%d tasks: in Jaeger, Collapse All then Expand +1 shows one row a task; "+
		"Trace Statistics (by operation) gives each stage's time in all; Trace Graph freezes the tab on traces this size, "+
		"and Flamegraph shows only the first tasks", n)
}
