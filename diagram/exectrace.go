package diagram

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/exp/trace"

	"asynctrace/scenario"
	"asynctrace/tracing"
)

// ExecTraceSlack is how far a stage span and its region may differ: both
// are read on the goroutine, microseconds apart.
const ExecTraceSlack = time.Millisecond

// ExecTraceGranularity is how long a goroutine's read can be ready before
// the scheduler sees it: with every P busy, sysmon polls the network when
// it has not been polled for 10 ms, and sysmon itself sleeps up to 10 ms
// between looks (runtime/proc.go, sysmon); and on a busy machine sysmon's
// thread waits for a CPU too (scenario.ReadyNoise). The ready span starts
// at the echo's arrival (the kernel's timestamp), the runnable state when
// the poll found it.
const ExecTraceGranularity = scenario.WakeLatency

// ExecTrace is what the checks read of a Go execution trace
// (runtime/trace, as the -exectrace flags write it).
type ExecTrace struct {
	regions     map[int64]map[string][]execRegion // by goroutine and name, in the order they began
	transitions map[int64][]goTransition
	tasks       map[string]map[trace.TaskID]bool // runtime/trace tasks, by name
	logs        []string                         // the tasks' OTel ids (tracing.ExecTraceLogCategory)
}

type execRegion struct {
	name       string
	begin, end trace.Time
}

type goTransition struct {
	at       trace.Time
	from, to trace.GoState
}

// ReadExecTrace reads an execution trace.
func ReadExecTrace(r io.Reader) (*ExecTrace, error) {
	rd, err := trace.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("execution trace: %w", err)
	}
	x := &ExecTrace{regions: map[int64]map[string][]execRegion{}, transitions: map[int64][]goTransition{}, tasks: map[string]map[trace.TaskID]bool{}}
	regions := map[int64][]execRegion{} // by goroutine, in the order they began
	open := map[int64][]int{}           // per goroutine, indexes of its regions not yet ended
	for {
		ev, err := rd.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("execution trace: %w", err)
		}
		g := int64(ev.Goroutine())
		switch ev.Kind() {
		case trace.EventRegionBegin:
			regions[g] = append(regions[g], execRegion{name: ev.Region().Type, begin: ev.Time(), end: -1})
			open[g] = append(open[g], len(regions[g])-1)
		case trace.EventRegionEnd:
			name := ev.Region().Type
			stack := open[g]
			for i := len(stack) - 1; i >= 0; i-- {
				if r := &regions[g][stack[i]]; r.name == name {
					r.end = ev.Time()
					open[g] = slices.Delete(stack, i, i+1)
					break
				}
			}
		case trace.EventTaskBegin:
			task := ev.Task()
			if x.tasks[task.Type] == nil {
				x.tasks[task.Type] = map[trace.TaskID]bool{}
			}
			x.tasks[task.Type][task.ID] = true
		case trace.EventLog:
			if l := ev.Log(); l.Category == tracing.ExecTraceLogCategory {
				x.logs = append(x.logs, l.Message)
			}
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			id := int64(st.Resource.Goroutine())
			from, to := st.Goroutine()
			x.transitions[id] = append(x.transitions[id], goTransition{at: ev.Time(), from: from, to: to})
		}
	}
	for g, rs := range regions {
		byName := map[string][]execRegion{}
		for _, r := range rs {
			if r.end >= 0 { // regions still open at the end are not measured
				byName[r.name] = append(byName[r.name], r)
			}
		}
		x.regions[g] = byName
	}
	return x, nil
}

// ExecCheck is the result of checking a run's spans against its execution
// trace: the checks, and the largest differences measured.
type ExecCheck struct {
	Checks []scenario.Check
	// RegionDiff is the largest difference between a stage span and its
	// region; ReadyDiff between a ready span and the time the goroutine
	// was runnable.
	RegionDiff, ReadyDiff time.Duration
}

// CheckExecTrace checks the run's spans against what the scheduler
// recorded: every task has its runtime/trace task; every stage span a
// region of the same goroutine (the span's thread.id) of the same length
// (response and ready together: the response region ends when the
// goroutine ran again); with one P, no two of the tasks' goroutines ever
// running at once, and with more, the computes running in parallel where
// the model says they do; and each ready span as long as its goroutine was
// runnable after its read became ready.
func (d *Diagram) CheckExecTrace(x *ExecTrace) ExecCheck {
	var c ExecCheck
	add := func(name string, ok bool, format string, args ...any) {
		c.Checks = append(c.Checks, scenario.Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	d.checkExecTasks(x, add)
	readies := d.checkExecRegions(x, &c, add)
	d.checkExecAtOnce(x, add)
	checkExecReady(x, readies, &c, add)
	return c
}

type addCheck func(name string, ok bool, format string, args ...any)

// checkExecTasks: a runtime/trace task per task, and the OTel ids they log.
func (d *Diagram) checkExecTasks(x *ExecTrace, add addCheck) {
	missing := []string{}
	for i := range d.Tasks {
		if name := tracing.TaskSpanName(i+1, len(d.Tasks)); len(x.tasks[name]) == 0 {
			missing = append(missing, name)
		}
	}
	logged := 0
	for _, l := range x.logs {
		if strings.Contains(l, "trace_id="+d.TraceID) {
			logged++
		}
	}
	n := len(d.Tasks)
	add("exec tasks", len(missing) == 0 && logged >= n,
		"%d of %d tasks have a runtime/trace task (missing: %s); %d log this trace's id", n-len(missing), n, orNone(missing), logged)
}

// readyPair is a ready span and the response region of its goroutine.
type readyPair struct {
	ready  time.Duration
	region execRegion
	g      int64
	task   string
}

// checkExecRegions matches every stage span to the region of the same
// name on its goroutine, in order, and compares their lengths; it returns
// the ready spans with their response regions, for checkExecReady.
func (d *Diagram) checkExecRegions(x *ExecTrace, c *ExecCheck, add addCheck) []readyPair {
	used := map[int64]map[string]int{} // regions of each name taken so far, per goroutine
	take := func(g int64, name string) (execRegion, bool) {
		if used[g] == nil {
			used[g] = map[string]int{}
		}
		rs, k := x.regions[g][name], used[g][name]
		if k >= len(rs) {
			return execRegion{}, false
		}
		used[g][name]++
		return rs[k], true
	}
	var worst []string
	worstAt := ""
	matched, want := 0, 0
	var readies []readyPair
	tasks := slices.Clone(d.Tasks)
	slices.SortStableFunc(tasks, func(a, b scenario.Task) int { return cmp.Compare(a.Start, b.Start) })
	for _, t := range tasks {
		g, label := t.Goroutine, t.Label()
		ready, hasReady := t.Segment(scenario.StageReady)
		for _, stage := range []scenario.Stage{scenario.StageConnect, scenario.StageResponse, scenario.StageCompute} {
			s, ok := t.Segment(stage)
			if !ok {
				continue
			}
			want++
			span := s.Len()
			if stage == scenario.StageResponse && hasReady {
				span = ready.End - s.Start // the region covers response and ready
			}
			r, ok := take(g, string(stage))
			if !ok {
				worst = append(worst, fmt.Sprintf("%s %s: no region on goroutine %d", label, stage, g))
				continue
			}
			matched++
			length := r.end.Sub(r.begin)
			if stage == scenario.StageCompute {
				length = x.ranUntil(g, r).Sub(r.begin)
			}
			diff := (length - span).Abs()
			if diff > c.RegionDiff {
				c.RegionDiff, worstAt = diff, fmt.Sprintf(" (%s %s)", label, stage)
			}
			if diff > ExecTraceSlack {
				worst = append(worst, fmt.Sprintf("%s %s: span %v, region %v", label, stage, span, length))
			}
			if stage == scenario.StageResponse && hasReady {
				readies = append(readies, readyPair{ready: ready.Len(), region: r, g: g, task: label})
			}
		}
	}
	add("exec regions", len(worst) == 0,
		"%d of %d stage spans have a region of their goroutine; largest difference %v%s (allowed %v)%s",
		matched, want, c.RegionDiff.Round(time.Microsecond), worstAt, ExecTraceSlack, list(worst))
	return readies
}

// checkExecAtOnce: the task goroutines' running intervals, as the
// scheduler saw them, against P and the model's parallel computes.
func (d *Diagram) checkExecAtOnce(x *ExecTrace, add addCheck) {
	goroutines := map[int64]bool{}
	for _, t := range d.Tasks {
		goroutines[t.Goroutine] = true
	}
	atOnce := x.maxRunning(goroutines)
	procs := max(d.Procs, 1)
	switch {
	case procs == 1:
		add("exec one at a time", atOnce <= 1, "at most %d of the tasks' goroutines running at once, by the scheduler, want 1: one P", atOnce)
	case len(goroutines) > 1:
		// Where the model runs computes in parallel, the scheduler must
		// have run that many goroutines at once; never more than P.
		wantPar := 1
		if d.Compute == scenario.Hold || d.Compute == scenario.CPU {
			wantPar = min(len(goroutines), procs)
		}
		add("exec at once", atOnce <= procs && atOnce >= wantPar,
			"at most %d of the tasks' goroutines running at once, by the scheduler; want %d to %d (P=%d)", atOnce, wantPar, procs, procs)
	}
}

// checkExecReady: each ready span, from the echo's arrival to the
// goroutine running again, against the scheduler's runnable state, from
// when it saw the read could go on.
func checkExecReady(x *ExecTrace, readies []readyPair, c *ExecCheck, add addCheck) {
	var late []string
	for _, p := range readies {
		runnable := x.runnableBefore(p.g, p.region)
		diff := p.ready - runnable
		c.ReadyDiff = max(c.ReadyDiff, diff.Abs())
		if diff < -ExecTraceSlack || diff > ExecTraceSlack+ExecTraceGranularity {
			late = append(late, fmt.Sprintf("%s: ready %v, runnable %v", p.task, p.ready.Round(time.Microsecond), runnable.Round(time.Microsecond)))
		}
	}
	add("exec ready", len(late) == 0,
		"%d ready spans against the time their goroutine was runnable: largest difference %v (allowed %v, plus %v of the scheduler's granularity)%s",
		len(readies), c.ReadyDiff.Round(time.Microsecond), ExecTraceSlack, ExecTraceGranularity, list(late))
}

// maxRunning is the most of the goroutines running at one moment.
func (x *ExecTrace) maxRunning(goroutines map[int64]bool) int {
	type edge struct {
		at    trace.Time
		delta int
	}
	var edges []edge
	for g := range goroutines {
		for _, t := range x.transitions[g] {
			if t.to == trace.GoRunning {
				edges = append(edges, edge{t.at, +1})
			}
			if t.from == trace.GoRunning {
				edges = append(edges, edge{t.at, -1})
			}
		}
	}
	// At the same instant, a goroutine stops before another starts.
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.delta, b.delta)) })
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}

// runnableBefore is how long goroutine g was runnable before it last
// resumed within region r: the time its read waited for a thread. (It
// runs again after system calls too: those are not waits for a thread.)
func (x *ExecTrace) runnableBefore(g int64, r execRegion) time.Duration {
	ts, from := x.within(g, r)
	run := -1
	for i := from; i < len(ts) && ts[i].at <= r.end; i++ {
		if ts[i].from == trace.GoRunnable && ts[i].to == trace.GoRunning {
			run = i
		}
	}
	if run < 0 {
		return 0
	}
	for i := run - 1; i >= from; i-- {
		if ts[i].to == trace.GoRunnable && ts[i].from != trace.GoRunnable {
			return ts[run].at.Sub(ts[i].at)
		}
	}
	return 0
}

// ranUntil is when goroutine g stopped running in region r: its end,
// unless the goroutine was preempted and ran again only to end the
// region. After a hold (a system call the scheduler is not told of), the
// runtime preempts the goroutine at its next call and queues it behind
// the others: it ends the region only when it runs again, hundreds of
// milliseconds later under one P, while its span ended when the hold did.
func (x *ExecTrace) ranUntil(g int64, r execRegion) trace.Time {
	ts, from := x.within(g, r)
	last := -1 // the last resumption within the region
	for i := from; i < len(ts) && ts[i].at <= r.end; i++ {
		if ts[i].from == trace.GoRunnable && ts[i].to == trace.GoRunning {
			last = i
		}
	}
	if last < 0 || r.end.Sub(ts[last].at) > ExecTraceSlack {
		return r.end // ran on to the end: real work after the resumption
	}
	for i := last - 1; i >= from; i-- {
		if ts[i].from == trace.GoRunning && ts[i].to == trace.GoRunnable {
			return ts[i].at // preempted here
		}
	}
	return r.end
}

// within returns goroutine g's transitions, in time order, and the index
// of the first at or after region r's beginning: a goroutine that ran
// thousands of regions (sync's one goroutine) is not scanned from its
// start for each.
func (x *ExecTrace) within(g int64, r execRegion) ([]goTransition, int) {
	ts := x.transitions[g]
	return ts, sort.Search(len(ts), func(i int) bool { return ts[i].at >= r.begin })
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// list shows the first few problems.
func list(s []string) string {
	if len(s) == 0 {
		return ""
	}
	more := ""
	if len(s) > 3 {
		more = fmt.Sprintf("; and %d more", len(s)-3)
		s = s[:3]
	}
	return ": " + strings.Join(s, "; ") + more
}

// Tasks counts the runtime/trace tasks named name.
func (x *ExecTrace) Tasks(name string) int { return len(x.tasks[name]) }

// Regions counts the completed regions named name, on every goroutine.
func (x *ExecTrace) Regions(name string) int {
	n := 0
	for _, byName := range x.regions {
		n += len(byName[name])
	}
	return n
}
