package clientcmd

import (
	"fmt"
	"io"
	"strings"
	"time"

	"asynctrace/client"
	"asynctrace/jaeger"
	"asynctrace/scenario"
)

// writeSummary writes the human summary of a run: measured against the
// expected makespan, and where to see the trace (traceURL may be empty).
// A run in which every task failed says that first, and none of the
// figures such a run did not measure.
func writeSummary(w io.Writer, r client.Result, traceURL string) {
	if r.AllFailed() {
		writeAllFailed(w, r, traceURL)
		return
	}
	want := r.Expected + r.Network
	diff := r.Makespan - want
	fmt.Fprintf(w, "%s: %d tasks, %s\n", title(r), r.Tasks, knobs(r))
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
			r.PeakOSThreads, r.PeakGoroutines, bytesIEC(r.PeakRSS), bytesIEC(r.RSSPerTask), stacksNote(r), r.Spawn.Round(time.Microsecond))
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
		fmt.Fprintf(w, "  warning: %s; start the server with -unit %v\n", r.UnitMismatch, r.Unit)
	}
	if hint := jaeger.LargeTraceHint(r.Tasks); hint != "" {
		fmt.Fprintf(w, "  %s; its picture: go run ./cmd/diagram -trace %s -svg DIR\n", hint, r.TraceID)
	}
	if r.PlainServer {
		fmt.Fprintln(w, "  note: the server echoed the trace context preamble too: a plain echo server (the article's?), not asynctrace's, so the trace has no server spans")
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "  %d of %d tasks failed: %s; the first: %s\n", len(r.Errors), r.Tasks, failureCounts(r.ByCause()), r.Errors[0])
	}
}

// writeAllFailed is the summary of a run in which every task failed: what
// failed them, and the trace only where its spans were all exported.
func writeAllFailed(w io.Writer, r client.Result, traceURL string) {
	fmt.Fprintf(w, "%s: all %d tasks failed (%s): %s\n", title(r), r.Tasks, knobs(r), failureCounts(r.ByCause()))
	fmt.Fprintf(w, "  the first: %s\n", r.Errors[0])
	if r.SpansDropped == 0 && traceURL != "" {
		fmt.Fprintf(w, "  trace %s  %s: its spans say where each task failed\n", r.TraceID, traceURL)
	}
}

// title names the run: its scenario, and the runtime where it is not Go:
// "single-thread on Tokio 1.24.2".
func title(r client.Result) string {
	if r.Runtime == scenario.Tokio {
		return fmt.Sprintf("%s on Tokio %s", r.Scenario, r.RuntimeVersion)
	}
	return string(r.Scenario)
}

// knobs are the run's P, compute mode and unit: "GOMAXPROCS=1,
// compute=hold, unit=1s", or for Tokio "3 workers, compute=hold, …".
func knobs(r client.Result) string {
	return fmt.Sprintf("%s, compute=%s, unit=%v", scenario.Threads(r.Runtime, r.Scenario, r.GOMAXPROCS), r.Compute, r.Unit)
}

// stacksNote says what the waiting tasks themselves take, beside the
// process's peak: their stacks, and where each task has an OS thread,
// that the threads' own runtime stacks are in the figure.
func stacksNote(r client.Result) string {
	if r.Scenario.Locked() {
		return fmt.Sprintf("stacks %s a task, with the %d OS threads' own", bytesIEC(r.StacksPerTask), r.OSThreadsAdded)
	}
	return fmt.Sprintf("goroutine stacks %s a task", bytesIEC(r.StacksPerTask))
}

// failureCounts is "2 connect: refused (…), 1 response: …", the most
// frequent cause first.
func failureCounts(fs []client.Failure) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%d %s", f.Tasks, f.Cause)
	}
	return strings.Join(parts, ", ")
}

// writeFailures writes a run's failed tasks on stderr grouped by cause,
// each with its first few errors: a few lines however many tasks failed.
func writeFailures(w io.Writer, r client.Result) {
	if len(r.Errors) == 0 {
		return
	}
	fmt.Fprintf(w, "client: %s: %d of %d tasks failed:\n", r.Scenario, len(r.Errors), r.Tasks)
	for _, f := range r.ByCause() {
		more := ""
		if f.Tasks > len(f.Examples) {
			more = fmt.Sprintf(", the first %d", len(f.Examples))
		}
		fmt.Fprintf(w, "client:   %d %s%s:\n", f.Tasks, f.Cause, more)
		for _, e := range f.Examples {
			fmt.Fprintf(w, "client:     %s\n", e)
		}
	}
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
