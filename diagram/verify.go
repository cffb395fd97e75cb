package diagram

import (
	"fmt"
	"slices"
	"time"

	"asynctrace/client"
	"asynctrace/tracing"
)

// Expectation is the timeline a run should have: DESIGN.md's scenario and
// compute mode with P = Procs and C = CPUs.
type Expectation struct {
	Scenario  client.Scenario
	Compute   client.Compute
	Tasks     int
	Procs     int
	CPUs      int
	Unit      time.Duration
	Tolerance float64 // allowed excess of the makespan, as a fraction of the expected one
}

// DefaultTolerance holds on a busy 2-core machine at u ≥ 50ms: measured
// runs come within 1%, and a scenario's neighbour differs by 25% or more.
const DefaultTolerance = 0.05

// Expect is the expectation the run recorded for itself.
func (d *Diagram) Expect() Expectation {
	return Expectation{
		Scenario: d.Scenario, Compute: d.Compute, Tasks: d.Tasks, Procs: d.GOMAXPROCS,
		CPUs: d.NumCPU, Unit: d.Unit, Tolerance: DefaultTolerance,
	}
}

// Check is one verified property.
type Check struct {
	Name   string
	OK     bool
	Detail string
}

func (c Check) String() string {
	mark := "ok  "
	if !c.OK {
		mark = "FAIL"
	}
	return fmt.Sprintf("%s %s: %s", mark, c.Name, c.Detail)
}

// Verify checks the run against exp: its makespan against the formula, the
// order of every task's stages, and the thread rules of the scenario.
func (d *Diagram) Verify(exp Expectation) []Check {
	var checks []Check
	add := func(name string, ok bool, format string, args ...any) {
		checks = append(checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	if exp.Procs <= 0 {
		exp.Procs = 1
	}
	if exp.CPUs <= 0 {
		exp.CPUs = exp.Procs
	}
	want, formula := client.Expected(exp.Scenario, exp.Compute, exp.Tasks, exp.Procs, exp.CPUs, exp.Unit)

	// Makespan: never much below the formula (every wait lasts at least
	// its length), and at most Tolerance above.
	over := float64(d.Makespan-want) / float64(want)
	add("makespan", d.Makespan >= want-2*time.Millisecond && over <= exp.Tolerance,
		"%v, expected %v = %s for %s, %s, n=%d, P=%d (%+.1f%%, allowed %+.0f%%)",
		d.Makespan.Round(time.Microsecond), want, formula, exp.Scenario, exp.Compute, exp.Tasks, exp.Procs, 100*over, 100*exp.Tolerance)

	// Every task: connect, response, compute, in that order.
	complete := len(d.TaskLanes) == exp.Tasks
	for _, l := range d.TaskLanes {
		var names []string
		ordered := true
		var prevEnd time.Duration
		for i, s := range l.Segments {
			if s.Stage == StageReady {
				continue
			}
			names = append(names, s.Stage)
			if i > 0 && s.Start < prevEnd {
				ordered = false
			}
			prevEnd = s.End
		}
		if !slices.Equal(names, []string{tracing.SpanConnect, tracing.SpanResponse, tracing.SpanCompute}) || !ordered {
			complete = false
			add("stages of "+l.Label, false, "%v, want connect, response, compute one after another", names)
		}
	}
	if complete {
		add("stages", true, "%d tasks, each connect → response → compute, in order", len(d.TaskLanes))
	} else if len(d.TaskLanes) != exp.Tasks {
		add("stages", false, "%d tasks in the trace, want %d", len(d.TaskLanes), exp.Tasks)
	}

	computes := d.stage(tracing.SpanCompute)
	serial := exp.Scenario == client.Sync || exp.Scenario == client.Sequential
	if serial {
		var tasks []interval
		for _, l := range d.TaskLanes {
			tasks = append(tasks, interval{l.Start, l.End})
		}
		n := maxConcurrent(tasks)
		add("tasks in series", n <= 1, "at most %d task(s) under way at once, want 1", n)
	}

	// How many computes may run at once: a hold keeps its P; syscall and
	// sleep give it up; CPU work is time-sliced, so its spans interleave
	// and say nothing on their own.
	limit := exp.Tasks
	switch {
	case serial:
		limit = 1
	case exp.Compute == client.Hold:
		limit = min(exp.Procs, exp.Tasks)
	}
	if exp.Compute != client.CPU {
		n := maxConcurrent(computes)
		add("computes at once", n <= limit, "at most %d at once, want at most %d", n, limit)
		if limit >= exp.Tasks && !serial && exp.Tasks > 1 {
			add("computes in parallel", n == exp.Tasks, "%d of %d computes under way at one moment, want all", n, exp.Tasks)
		}
	}

	// Thread rules.
	switch {
	case exp.Scenario == client.SingleThread && exp.Compute == client.Hold && exp.Procs == 1:
		ids := map[int64]bool{}
		moved := false
		for _, l := range d.TaskLanes {
			for _, s := range l.Segments {
				if s.Stage == tracing.SpanCompute {
					ids[s.Thread], moved = true, moved || s.Moved()
				}
			}
		}
		add("one OS thread", len(ids) == 1 && !moved, "computes on %d OS thread(s)%s, want one: the stair", len(ids), movedNote(moved))
	case exp.Scenario == client.Sync || exp.Scenario == client.OSThreads:
		perTask := map[int64]bool{}
		ok := true
		for _, l := range d.TaskLanes {
			var tid int64
			for i, s := range l.Segments {
				if i == 0 {
					tid = s.Thread
				}
				if s.Thread != tid || s.Moved() {
					ok = false
				}
			}
			perTask[tid] = true
		}
		add("locked threads", ok, "every stage of a task on the task's own OS thread")
		want := len(d.TaskLanes)
		if exp.Scenario == client.Sync {
			want = 1
		}
		add("OS threads", len(perTask) == want, "%d distinct OS thread(s) for %d tasks, want %d", len(perTask), len(d.TaskLanes), want)
	}
	return checks
}

func movedNote(moved bool) string {
	if moved {
		return ", one moved during its compute"
	}
	return ""
}

// Passed says whether every check passed.
func Passed(checks []Check) bool {
	return !slices.ContainsFunc(checks, func(c Check) bool { return !c.OK })
}

type interval struct{ start, end time.Duration }

func (d *Diagram) stage(name string) []interval {
	var out []interval
	for _, l := range d.TaskLanes {
		for _, s := range l.Segments {
			if s.Stage == name {
				out = append(out, interval{s.Start, s.End})
			}
		}
	}
	return out
}

// maxConcurrent is the most intervals under way at one moment (touching
// ends do not overlap).
func maxConcurrent(iv []interval) int {
	type edge struct {
		at    time.Duration
		delta int
	}
	var edges []edge
	for _, v := range iv {
		edges = append(edges, edge{v.start, +1}, edge{v.end, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.delta - b.delta // ends before starts
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}
