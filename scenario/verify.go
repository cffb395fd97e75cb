package scenario

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Expectation is what a run is checked against: a scenario's parameters
// and how far over the formula its makespan may be.
type Expectation struct {
	Params
	// Stair: Tokio's multi-thread runtime ran the first woken task's
	// compute alone, and the others after it (docs/go-vs-tokio.md, "The
	// stair of tokio::spawn"): its makespan, computes and ready time are
	// TokioStair's. Verify tries it where the formula fails a Tokio
	// multi-thread run.
	Stair     bool
	Tolerance float64 // allowed excess of the makespan, as a fraction of the expected one
	// Network is the time the run spent on the network, as measured
	// (Timeline.Network): the makespan is expected to be the formula's
	// plus this.
	Network time.Duration
}

// Makespan is the expected makespan: the formula's, plus the network's
// time, and the formula.
func (e Expectation) Makespan() (time.Duration, string) {
	want, formula := e.Expected()
	if e.Stair {
		want, formula = e.stairMakespan()
	}
	if e.Network > 0 {
		return want + e.Network, formula + " + network"
	}
	return want, formula
}

// DefaultTolerance holds on a busy 2-core machine at u ≥ 50ms: measured
// runs come within 1%, and a scenario's neighbour differs by 25% or more.
const DefaultTolerance = 0.05

// Expect is the expectation the run recorded for itself, with the
// network's time it measured.
func (tl *Timeline) Expect() Expectation {
	return Expectation{Params: tl.Params, Tolerance: DefaultTolerance, Network: tl.Network()}
}

// Check is one verified property.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func (c Check) String() string {
	mark := "ok  "
	if !c.OK {
		mark = "FAIL"
	}
	return fmt.Sprintf("%s %s: %s", mark, c.Name, c.Detail)
}

// Failed names the checks that failed, in order.
func Failed(checks []Check) []string {
	var names []string
	for _, c := range checks {
		if !c.OK {
			names = append(names, c.Name)
		}
	}
	return names
}

// Passed says whether every check passed.
func Passed(checks []Check) bool { return len(Failed(checks)) == 0 }

// slack absorbs the microsecond rounding of traces read back from Jaeger.
const slack = time.Microsecond

// Verify checks the timeline against exp: the makespan against the
// formula, every task's stages in order, the tasks in order, how many
// computes ran at once, the time spent ready, and the scenario's thread
// rules. docs/design.md, "What each scenario must show", lists them.
func (tl *Timeline) Verify(exp Expectation) []Check {
	checks := tl.verify(exp)
	if !Passed(checks) && exp.stairs() {
		exp.Stair = true
		if stair := tl.verify(exp); Passed(stair) {
			return append(stair, Check{Name: "Tokio's stair", OK: true, Detail: fmt.Sprintf(
				"not the formula's %s: the first woken task's compute ran alone, the others after it, though workers were idle (its worker had taken their events' turn at the I/O driver; docs/go-vs-tokio.md); failed against the formula: %s",
				exp.Formula(), strings.Join(Failed(checks), ", "))})
		}
	}
	return checks
}

// Formula is the expected makespan's formula.
func (e Expectation) Formula() string {
	_, f := e.Expected()
	return f
}

// stairs says whether the run may be Tokio's stair: tokio::spawn with
// blocking computes, more than one task and worker.
func (e Expectation) stairs() bool {
	return e.Runtime == Tokio && e.Scenario == MultiThread && e.Compute == Hold && e.N > 1 && e.Procs > 1
}

// stairMakespan is the stair's: the first compute alone, then the other
// n-1 tasks' computes P at a time: c+w+p+⌈(n-1)/P⌉·p.
func (e Expectation) stairMakespan() (time.Duration, string) {
	c, w, q := ConnectUnits*e.Unit, DelayUnits*e.Unit, ComputeUnits*e.Unit
	return c + w + q + time.Duration(ceilDiv(e.N-1, max(1, e.Procs)))*q, "c+w+p+⌈(n-1)/P⌉·p (Tokio's stair)"
}

// stairReady is the stair's ready time for replies that arrived at the
// given times: the first task runs at once, the others wait for its
// compute to end, then take the P workers in turn.
func (e Expectation) stairReady(arrivals []time.Duration) time.Duration {
	if len(arrivals) == 0 {
		return 0
	}
	order := slices.Clone(arrivals)
	slices.Sort(order)
	q := ComputeUnits * e.Unit
	free := order[0] + q // when the first compute ends
	p := max(1, e.Procs)
	var sum time.Duration
	for k, at := range order[1:] {
		start := max(at, free+time.Duration(k/p)*q)
		sum += start - at
	}
	return sum
}

func (tl *Timeline) verify(exp Expectation) []Check {
	v := &verifier{tl: tl, exp: exp}
	if v.exp.Procs <= 0 {
		v.exp.Procs = 1
	}
	if v.exp.CPUs <= 0 {
		v.exp.CPUs = v.exp.Procs
	}
	v.makespan()
	v.serverDelay()
	v.stages()
	v.series()
	v.computes()
	v.ready()
	v.readyExplained()
	v.threads()
	return v.checks
}

type verifier struct {
	tl     *Timeline
	exp    Expectation
	checks []Check
}

func (v *verifier) add(name string, ok bool, format string, args ...any) {
	v.checks = append(v.checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

// makespan: never much below the formula (every wait lasts at least its
// length), and at most Tolerance above.
func (v *verifier) makespan() {
	e := v.exp
	want, formula := e.Makespan()
	over := float64(v.tl.Makespan-want) / float64(want)
	network := ""
	if e.Network > 0 {
		network = fmt.Sprintf(", network %v", e.Network.Round(time.Microsecond))
	}
	ok := v.tl.Makespan >= want-2*time.Millisecond && over <= e.Tolerance
	detail := fmt.Sprintf("%v, expected %v = %s for %s, %s, n=%d, P=%d%s (%+.1f%%, allowed %s)",
		v.tl.Makespan.Round(time.Microsecond), want.Round(time.Microsecond), formula, e.Scenario, e.Compute, e.N, e.Procs, network, 100*over, percent(e.Tolerance))
	if b := v.burst(); !ok && b != "" && len(v.tl.Tasks) > 0 {
		detail += fmt.Sprintf("; the last task to end: %s; %s", v.breakdown(v.tl.Last()), b)
	}
	v.add("makespan", ok, "%s", detail)
}

// breakdown is where a task's time went, stage by stage, each against its
// length in the formula: "task9017 began at 22ms, connect 2u + 243ms,
// response 8u + 300ms, ready 107ms, compute 4u + 1ms".
func (v *verifier) breakdown(t Task) string {
	u := v.exp.Unit
	out := fmt.Sprintf("%s began at %v", t.Label(), t.Start.Round(time.Millisecond))
	for _, s := range t.Segments {
		units := map[Stage]int{StageConnect: ConnectUnits, StageResponse: DelayUnits, StageCompute: ComputeUnits}[s.Stage]
		if units == 0 {
			out += fmt.Sprintf(", %s %v", s.Stage, s.Len().Round(time.Millisecond))
			continue
		}
		over, sign := (s.Len() - time.Duration(units)*u).Round(time.Millisecond), "+"
		if over < 0 {
			over, sign = -over, "-"
		}
		out += fmt.Sprintf(", %s %du %s %v", s.Stage, units, sign, over)
	}
	return out
}

// burst names, in a run of many tasks at once, what the machine did to it
// that the formula leaves out: how far apart the dials returned and the
// replies arrived. Any program that opens as many connections at once
// meets the same (docs/results.md: the plain-Go floor), so a check that
// fails at scale says it, and a reader can tell the machine from
// asynctrace. "" for serial runs and runs of up to LaneTasks tasks.
func (v *verifier) burst() string {
	if v.exp.Scenario.Serial() || v.exp.N <= LaneTasks {
		return ""
	}
	d0, d1, ok1 := v.tl.Spread(StageConnect, true)
	r0, r1, ok2 := v.tl.Spread(StageResponse, true)
	if !ok1 || !ok2 {
		return ""
	}
	return fmt.Sprintf("the burst of %d connections on %d CPUs: the dials returned over %v, the replies arrived over %v",
		v.exp.N, v.exp.CPUs, (d1 - d0).Round(time.Millisecond), (r1 - r0).Round(time.Millisecond))
}

// serverDelay: the server held the requests 8u, as the client's unit
// says; a server started with another unit makes every figure wrong.
func (v *verifier) serverDelay() {
	if msg := v.tl.UnitMismatch(v.exp.Tolerance); msg != "" {
		v.add("server delay", false, "%s", msg)
		return
	}
	if d, ok := v.tl.ServerHeld(); ok {
		v.add("server delay", true, "requests held %v = %.2fu, want 8u", d.Round(time.Microsecond), units(d, v.exp.Unit))
	}
}

func percent(f float64) string { return fmt.Sprintf("+%.3g%%", 100*f) }

// stages: every task went through Stages in order, one after another; and
// the tasks are the ones expected, numbered in the order they began.
func (v *verifier) stages() {
	ok := len(v.tl.Tasks) == v.exp.N
	if !ok {
		v.add("stages", false, "%d tasks in the trace, want %d", len(v.tl.Tasks), v.exp.N)
	}
	for _, t := range v.tl.Tasks {
		var names []Stage
		ordered := true
		for i, s := range t.Segments {
			names = append(names, s.Stage)
			if i > 0 && s.Start+slack < t.Segments[i-1].End || s.Start+slack < t.Start || s.End > t.End+slack {
				ordered = false
			}
		}
		if !slices.Equal(names, Stages) || !ordered {
			ok = false
			v.add("stages of "+t.Label(), false, "%v, want %s one after another within the task", names, Names(Stages))
		}
	}
	if ok {
		v.add("stages", true, "%d tasks, each %s, in order", len(v.tl.Tasks), arrows(Stages))
	}
	inOrder := slices.IsSortedFunc(v.tl.Tasks, func(a, b Task) int { return cmp.Compare(a.Start, b.Start) })
	v.add("tasks in order", inOrder, "task spans start in task order, so trace views list task1 first")
}

func arrows(st []Stage) string {
	s := ""
	for i, x := range st {
		if i > 0 {
			s += " → "
		}
		s += string(x)
	}
	return s
}

func (v *verifier) series() {
	if !v.exp.Scenario.Serial() {
		return
	}
	var tasks []interval
	for _, t := range v.tl.Tasks {
		tasks = append(tasks, interval{t.Start, t.End})
	}
	n := maxConcurrent(tasks)
	v.add("tasks in series", n <= 1, "at most %d task(s) under way at once, want 1", n)
}

// computes: how many may run at once. A hold keeps its P; syscall and
// sleep give it up; CPU work is time-sliced, so its spans interleave and
// say nothing on their own.
func (v *verifier) computes() {
	e := v.exp
	if e.Compute == CPU {
		return
	}
	limit := e.N
	switch {
	case e.Scenario.Serial():
		limit = 1
	case e.Compute == Hold:
		limit = min(e.Procs, e.N)
	}
	n := maxConcurrent(v.stage(StageCompute))
	v.add("computes at once", n <= limit, "at most %d at once, want at most %d", n, limit)
	if limit >= e.N && !e.Scenario.Serial() && e.N > 1 {
		detail := fmt.Sprintf("%d of %d computes under way at one moment, want all", n, e.N)
		if c0, c1, ok := v.tl.Spread(StageCompute, false); ok && n < e.N && c1-c0 >= ComputeUnits*e.Unit {
			if b := v.burst(); b != "" {
				detail += fmt.Sprintf("; they began over %v, longer than a compute (%v), so not all could be: %s",
					(c1 - c0).Round(time.Millisecond), ComputeUnits*e.Unit, b)
			}
		}
		if e.Stair {
			want := min(e.Procs, e.N-1)
			detail = fmt.Sprintf("%d of %d computes under way at one moment, want %d after the first one's (Tokio's stair)", n, e.N, want)
			v.add("computes in parallel", n >= want, "%s", detail)
			return
		}
		v.add("computes in parallel", n == e.N, "%s", detail)
	}
}

// ready: the time tasks spent with their reply there, waiting for a
// thread, against the model's prediction for the arrivals measured
// (ReadyGiven; with every reply at c+w, ExpectedReady), within a tenth of a
// unit per task, at least ReadyNoise, plus the makespan's tolerance (and
// the scheduler's hand-over time for syscall).
func (v *verifier) ready() {
	formula, over, ok := v.exp.ExpectedReady()
	if !ok {
		return
	}
	var arrivals []time.Duration
	for _, t := range v.tl.Tasks {
		if s, ok := t.Segment(StageResponse); ok {
			arrivals = append(arrivals, s.End)
		}
	}
	want, _ := v.exp.ReadyGiven(arrivals)
	if v.exp.Stair {
		want = v.exp.stairReady(arrivals)
		formula = want
	}
	got := v.tl.StageTotal(StageReady)
	allowed := time.Duration(v.exp.N)*max(v.exp.Unit/10, ReadyNoise) + time.Duration(v.exp.Tolerance*float64(want))
	diff := got - want
	ok = -allowed <= diff && diff <= allowed+over
	detail := fmt.Sprintf("%v ready in all (%.2fu), expected %v (%.2fu) ± %v", got.Round(time.Microsecond), units(got, v.exp.Unit),
		want.Round(time.Microsecond), units(want, v.exp.Unit), allowed.Round(time.Millisecond))
	if over > 0 {
		detail += fmt.Sprintf(", + %v for sysmon to hand over the Ps", over)
	}
	if (want - formula).Abs() > allowed {
		detail += fmt.Sprintf("; replies came late, so not the formula's %.0fu", units(formula, v.exp.Unit))
	}
	if b := v.burst(); !ok && b != "" {
		detail += fmt.Sprintf("; %d goroutines woken by their replies queued for %d P(s), each run costing CPU time (its spans' included): %s",
			v.exp.N, v.exp.Procs, b)
	}
	v.add("ready", ok, "%s", detail)
}

// readyExplained: in hold runs, what held the P(s) or thread each task
// could run on (Waits' rule, on the expected parameters) covers its ready
// time but for at most the ready check's allowance for one task: a tenth
// of a unit, at least ReadyNoise, plus the tolerance of its wait.
func (v *verifier) readyExplained() {
	e := v.exp
	if e.Compute != Hold {
		return
	}
	// A task whose reply came while a P was free waits for the scheduler
	// to notice: an idle P's thread, or, when none is polling the network,
	// sysmon, which looks every 10ms when the program is idle (measured:
	// multi-thread at P = 2, one task in three runs of four waited 10 or
	// 20ms with a P free). No compute explains that, and none is asked to.
	base := max(e.Unit/10, WakeLatency)
	var bad []string
	var ready, unexplained, worst time.Duration
	worstTask := 0
	for _, w := range newWaitRule(e.Params, v.tl.Tasks).totals(v.tl.Tasks) {
		ready += w.Ready.Len()
		unexplained += w.Unexplained
		if w.Unexplained > worst {
			worst, worstTask = w.Unexplained, w.Task
		}
		if allowed := base + time.Duration(e.Tolerance*float64(w.Ready.Len())); w.Unexplained > allowed {
			bad = append(bad, fmt.Sprintf("%s waited %v, %v of it unexplained (allowed %v)", TaskLabel(w.Task),
				w.Ready.Len().Round(time.Millisecond), w.Unexplained.Round(time.Millisecond), allowed.Round(time.Millisecond)))
		}
	}
	holders := "the computes holding every P"
	if e.Runtime == Tokio {
		holders = "the computes blocking the worker that later ran the task (or, where it was idle, the others)"
	}
	if len(bad) > 0 {
		detail := fmt.Sprintf("%s explain too little: %s", holders, strings.Join(bad[:min(len(bad), 5)], "; "))
		detail += "; nothing in the run explains the rest (a busy machine, a garbage collection?)"
		if len(bad) > 5 {
			detail += fmt.Sprintf("; and %d more", len(bad)-5)
		}
		if b := v.burst(); b != "" {
			detail += "; " + b
		}
		v.add("ready explained", false, "%s", detail)
		return
	}
	detail := fmt.Sprintf("%v of %v ready in all explained by %s; each task's unexplained part within %v plus %.3g%% of its wait",
		(ready - unexplained).Round(time.Microsecond), ready.Round(time.Microsecond), holders, base.Round(time.Millisecond), 100*e.Tolerance)
	if worstTask > 0 {
		detail += fmt.Sprintf(" (the most: %v, %s)", worst.Round(time.Microsecond), TaskLabel(worstTask))
	}
	v.add("ready explained", true, "%s", detail)
}

// ReadyNoise is the least wait for a thread a task may show where the
// model predicts none: a thread woken on a busy machine waits for a CPU
// too (measured: up to 7ms with two CPU hogs on 2 cores).
const ReadyNoise = 10 * time.Millisecond

// WakeLatency bounds how long a task whose reply is there may wait for a
// free thread to notice it: sysmon polls the network when nothing else
// has for 10ms, sleeping up to 10ms between looks, and on a busy machine
// its thread waits for a CPU too.
const WakeLatency = 2*SysmonRetake + ReadyNoise

func units(d, u time.Duration) float64 {
	if u <= 0 {
		return 0
	}
	return float64(d) / float64(u)
}

// threads: the scenario's thread rules, on the thread lanes.
func (v *verifier) threads() {
	e := v.exp
	lanes := v.tl.ThreadLanes()
	switch {
	case e.Scenario == SingleThread && e.Compute == Hold && e.Procs == 1:
		// The article's one thread is Go's one P. The P usually stays on
		// one OS thread; when a goroutine blocks in a system call, the
		// runtime may hand the P to another thread, and the computes that
		// follow run there: more lanes, the computes still one at a time.
		moved, computes := false, 0
		var all []interval
		for _, l := range lanes {
			computes += len(l.Segments)
			all = append(all, laneIntervals(l)...)
			for _, s := range l.Segments {
				moved = moved || s.Moved()
			}
		}
		where := "the one P's OS thread"
		if len(lanes) > 1 {
			where = "the one P moved between OS threads between computes (a goroutine blocked in a system call, and the runtime handed the P on)"
		}
		v.add("one thread at a time", len(lanes) >= 1 && computes == e.N && !moved && maxConcurrent(all) <= 1,
			"%d compute(s) on %d thread lane(s)%s, want the %d computes one after another: the stair; %s", computes, len(lanes), movedNote(moved), e.N, where)
	case e.Scenario.Locked():
		ok := true
		for _, t := range v.tl.Tasks {
			for _, s := range t.Segments {
				if len(t.Segments) > 0 && (s.Thread != t.Segments[0].Thread || s.Moved()) {
					ok = false
				}
			}
		}
		v.add("locked threads", ok, "every stage of a task on the task's own OS thread")
		want := len(v.tl.Tasks)
		switch {
		case e.Scenario == Sync:
			want = 1
		case e.pooled():
			// rayon's pool: a thread per task up to P, each taking whole
			// tasks one after another.
			want = min(want, max(1, e.Procs))
		}
		own := true
		for _, l := range lanes {
			if e.Scenario == OSThreads && !e.pooled() && slices.ContainsFunc(l.Segments, func(s Segment) bool { return s.Task != l.Segments[0].Task }) {
				own = false
			}
			if e.pooled() && maxConcurrent(laneIntervals(l)) > 1 {
				own = false
			}
		}
		bad := ", one holding stages of two tasks"
		if e.pooled() {
			bad = ", one holding two tasks at once"
		}
		v.add("OS threads", len(lanes) == want && own, "%d thread lane(s) for %d tasks, want %d%s",
			len(lanes), len(v.tl.Tasks), want, map[bool]string{true: "", false: bad}[own])
	}
}

func movedNote(moved bool) string {
	if moved {
		return ", one compute moved to another thread"
	}
	return ""
}

type interval struct{ start, end time.Duration }

func (v *verifier) stage(name Stage) []interval {
	var out []interval
	for _, t := range v.tl.Tasks {
		if s, ok := t.Segment(name); ok {
			out = append(out, interval{s.Start, s.End})
		}
	}
	return out
}

func laneIntervals(l Lane) []interval {
	var out []interval
	for _, s := range l.Segments {
		out = append(out, interval{s.Start, s.End})
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
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.delta, b.delta) // ends before starts
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}
