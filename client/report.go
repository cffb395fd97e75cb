package client

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"asynctrace/scenario"
)

// resultJSON is Result as -json writes it: the durations in milliseconds.
// One type both ways, so that what MarshalJSON writes UnmarshalJSON reads.
type resultJSON struct {
	plain
	UnitMS     float64 `json:"unit_ms"`
	MakespanMS float64 `json:"makespan_ms"`
	ExpectedMS float64 `json:"expected_ms"`
	DiffMS     float64 `json:"diff_ms"` // written only: makespan - expected - network
	ReadyMS    float64 `json:"ready_ms"`
	NetworkMS  float64 `json:"network_ms"`
	SpawnMS    float64 `json:"spawn_ms"`
}

type plain Result // Result without its JSON methods

// MarshalJSON adds the durations, in milliseconds, to the JSON fields.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(resultJSON{plain(r), ms(r.Unit), ms(r.Makespan), ms(r.Expected), ms(r.Makespan - r.Expected - r.Network), ms(r.Ready), ms(r.Network), ms(r.Spawn)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Result) UnmarshalJSON(b []byte) error {
	var v resultJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Result(v.plain)
	r.Unit, r.Makespan, r.Expected, r.Ready, r.Network, r.Spawn = fromMS(v.UnitMS), fromMS(v.MakespanMS), fromMS(v.ExpectedMS), fromMS(v.ReadyMS), fromMS(v.NetworkMS), fromMS(v.SpawnMS)
	return nil
}

func fromMS(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// WriteSummary writes the human summary of a run: measured against
// expected makespan, and where to see the trace (traceURL may be empty).
func (r Result) WriteSummary(w io.Writer, traceURL string) {
	want := r.Expected + r.Network
	diff := r.Makespan - want
	if r.Runtime == scenario.Tokio {
		fmt.Fprintf(w, "%s on Tokio %s: %d tasks, %s, compute=%s, unit=%v\n", r.Scenario, r.RuntimeVersion, r.Tasks, tokioThreads(r), r.Compute, r.Unit)
	} else {
		fmt.Fprintf(w, "%s: %d tasks, GOMAXPROCS=%d, compute=%s, unit=%v\n", r.Scenario, r.Tasks, r.GOMAXPROCS, r.Compute, r.Unit)
	}
	fmt.Fprintf(w, "  makespan %v, expected %v (%s) + network %v, difference %+v (%+.2f%%)\n",
		r.Makespan.Round(time.Microsecond), r.Expected, r.Formula, r.Network.Round(time.Microsecond), diff.Round(time.Microsecond),
		100*float64(diff)/float64(want))
	fmt.Fprintf(w, "  ready (reply there, waiting for a thread) %v in all; %d OS thread lane(s)\n", r.Ready.Round(time.Microsecond), r.ThreadLanes)
	for _, wt := range r.Waits {
		fmt.Fprintf(w, "    %s\n", wt.Line)
	}
	if r.Runtime == scenario.Tokio {
		fmt.Fprintf(w, "  peak %s resident (the program's)\n", bytesIEC(r.PeakRSS))
	} else {
		fmt.Fprintf(w, "  peak %d OS threads, %d goroutines, %s resident (%s a task; %s); tasks started in %v\n",
			r.PeakOSThreads, r.PeakGoroutines, bytesIEC(r.PeakRSS), bytesIEC(r.RSSPerTask), r.stacksNote(), r.Spawn.Round(time.Microsecond))
	}
	if r.SpansDropped > 0 {
		fmt.Fprintf(w, "  %d spans were not exported\n", r.SpansDropped)
	}
	fmt.Fprintf(w, "  trace %s", r.TraceID)
	if traceURL != "" {
		fmt.Fprintf(w, "  %s", traceURL)
	}
	fmt.Fprintln(w)
	if r.UnitMismatch != "" {
		fmt.Fprintf(w, "  warning: %s\n", r.UnitMismatch)
	}
	if hint := LargeTraceHint(r.Tasks); hint != "" {
		fmt.Fprintf(w, "  %s; its picture: go run ./cmd/diagram -trace %s -svg DIR\n", hint, r.TraceID)
	}
	if r.PlainServer {
		fmt.Fprintln(w, "  note: the server echoed the trace context preamble too: a plain echo server (the article's?), not asynctrace's, so the trace has no server spans")
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "  %d of %d tasks failed: %s; the first: %s\n", len(r.Errors), r.Tasks, r.failureCounts(), r.Errors[0])
	}
}

// stacksNote says what the waiting tasks themselves take, beside the
// process's peak: their stacks, and where each task has an OS thread,
// that the threads' own runtime stacks are in the figure.
func (r Result) stacksNote() string {
	if r.Scenario.Locked() {
		return fmt.Sprintf("stacks %s a task, with the %d OS threads' own", bytesIEC(r.StacksPerTask), r.OSThreadsAdded)
	}
	return fmt.Sprintf("goroutine stacks %s a task", bytesIEC(r.StacksPerTask))
}

// tokioThreads says what a Tokio run's P was: its runtime's workers, or
// rayon's threads.
func tokioThreads(r Result) string {
	what := "worker"
	switch r.Scenario {
	case scenario.OSThreads:
		what = "rayon thread"
	case scenario.Sync:
		what = "thread"
	}
	if r.GOMAXPROCS != 1 {
		what += "s"
	}
	return fmt.Sprintf("%d %s", r.GOMAXPROCS, what)
}

// failureCounts is "2 connect: refused (…), 1 response: …", the most
// frequent cause first.
func (r Result) failureCounts() string {
	causes := slices.Collect(maps.Keys(r.Failures))
	slices.SortFunc(causes, func(a, b string) int {
		return cmp.Or(cmp.Compare(r.Failures[b], r.Failures[a]), cmp.Compare(a, b))
	})
	parts := make([]string, len(causes))
	for i, c := range causes {
		parts[i] = fmt.Sprintf("%d %s", r.Failures[c], c)
	}
	return strings.Join(parts, ", ")
}

// LargeTraceHint says how to read the trace of a run of n tasks in
// Jaeger, for runs above scenario.LaneTasks, whose traces are too large to
// read row by row (80,001 spans at 10,000 tasks take the UI 12 to 14 s to
// draw); "" for smaller runs.
func LargeTraceHint(n int) string {
	if n <= scenario.LaneTasks {
		return ""
	}
	return fmt.Sprintf("%d tasks: in Jaeger, Collapse All then Expand +1 shows one row a task; "+
		"Trace Statistics (by operation) gives each stage's time in all; Trace Graph freezes the tab on traces this size, "+
		"and Flamegraph shows only the first tasks", n)
}

// bytesIEC writes a byte count for people: 227.6 MiB.
func bytesIEC(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
