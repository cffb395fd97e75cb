package clientcmd

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"asynctrace/client"
	"asynctrace/scenario"
)

// The waiting tasks' own memory is in -json, and beside the process's peak
// in the summary; where each task has an OS thread, the summary says the
// threads' stacks are in it.
func TestSummaryStacks(t *testing.T) {
	tests := []struct {
		give client.Result
		want string
	}{
		{client.Result{Runtime: scenario.Go, Scenario: scenario.MultiThread, Tasks: 10000, PeakRSS: 200 << 20, RSSPerTask: 20 << 10, StacksPerTask: 8 << 10, OSThreadsAdded: 2},
			"200.0 MiB resident (20.0 KiB a task; goroutine stacks 8.0 KiB a task)"},
		{client.Result{Runtime: scenario.Go, Scenario: scenario.OSThreads, Tasks: 10000, PeakRSS: 400 << 20, RSSPerTask: 40 << 10, StacksPerTask: 46 << 10, OSThreadsAdded: 10064},
			"400.0 MiB resident (40.0 KiB a task; stacks 46.0 KiB a task, with the 10064 OS threads' own)"},
	}
	for _, tt := range tests {
		tt.give.Unit, tt.give.Expected = 200*time.Millisecond, 2800*time.Millisecond
		var b strings.Builder
		writeSummary(&b, tt.give, "")
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("%s summary:\n%s\nwant it to say %q", tt.give.Scenario, b.String(), tt.want)
		}
		j, err := json.Marshal(tt.give)
		if err != nil {
			t.Fatal(err)
		}
		var back client.Result
		if err := json.Unmarshal(j, &back); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(j), `"stacks_per_task_bytes":`) || back.StacksPerTask != tt.give.StacksPerTask || back.OSThreadsAdded != tt.give.OSThreadsAdded {
			t.Errorf("%s -json %s read back as stacks %d, threads %d; want %d, %d", tt.give.Scenario, j, back.StacksPerTask, back.OSThreadsAdded, tt.give.StacksPerTask, tt.give.OSThreadsAdded)
		}
	}
}
