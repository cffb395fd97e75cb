package scenario

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// waiting is a task of a run that waits: its reply at readyAt, its
// compute from computeAt for 4u (u = 1s), the stages before them the
// article's; it computes on thread, where it resumed after its ready
// stage.
func waiting(i int, readyAt, computeAt time.Duration, thread int64) Task {
	seg := func(s Stage, from, to time.Duration) Segment {
		return Segment{Task: i, Stage: s, Start: from, End: to, Thread: thread, ThreadEnd: thread}
	}
	return Task{Index: i, Start: 0, End: computeAt + 4*u, Segments: []Segment{
		seg(StageConnect, 0, 2*u),
		seg(StageResponse, 2*u, readyAt),
		seg(StageReady, readyAt, computeAt),
		seg(StageCompute, computeAt, computeAt+4*u),
	}}
}

func run(p Params, tasks ...Task) *Timeline {
	p.N, p.Unit = len(tasks), u
	tl := &Timeline{Params: p, Tasks: tasks}
	for _, t := range tasks {
		tl.Makespan = max(tl.Makespan, t.End)
	}
	return tl
}

const ms = time.Millisecond

var (
	single = Params{Scenario: SingleThread, Compute: Hold, Procs: 1, CPUs: 2}
	multi2 = Params{Scenario: MultiThread, Compute: Hold, Procs: 2, CPUs: 2}
)

func TestWaits(t *testing.T) {
	tests := []struct {
		name string
		give *Timeline
		want []string // Explain(u) of each wait
	}{
		{"single-thread: 0, 4u and 8u", run(single,
			waiting(1, 10*u, 10*u, 100), waiting(2, 10*u, 14*u, 100), waiting(3, 10*u, 18*u, 100)), []string{
			"task2 waited 4.0u: task1's compute 4.0u",
			"task3 waited 8.0u: task1's compute 4.0u, task2's compute 4.0u",
		}},
		{"single-thread, task3 first", run(single,
			waiting(1, 10*u, 18*u, 100), waiting(2, 10*u, 14*u, 100), waiting(3, 10*u, 10*u, 100)), []string{
			"task1 waited 8.0u: task3's compute 4.0u, task2's compute 4.0u",
			"task2 waited 4.0u: task3's compute 4.0u",
		}},
		{"single-thread, a reply late by 1u", run(single,
			waiting(1, 10*u, 10*u, 100), waiting(2, 11*u, 14*u, 100), waiting(3, 10*u, 18*u, 100)), []string{
			"task2 waited 3.0u: task1's compute 3.0u",
			"task3 waited 8.0u: task1's compute 4.0u, task2's compute 4.0u",
		}},
		{"multi-thread P=2: one task waits for one compute", pTwo(), []string{
			"task3 waited 4.0u: task1's compute 4.0u, while task2's compute held the other P",
		}},
		{"os-threads: a P and a thread per task", run(Params{Scenario: OSThreads, Compute: Syscall, Procs: 3, CPUs: 2},
			waiting(1, 10*u, 10*u, 101), waiting(2, 10*u, 10*u+3*ms, 102), waiting(3, 10*u, 10*u, 103)), []string{
			"task2 waited 3.0ms: unexplained 3.0ms",
		}},
		{"syscall under one P: sysmon hands the P on", run(Params{Scenario: SingleThread, Compute: Syscall, Procs: 1, CPUs: 2},
			waiting(1, 10*u, 10*u, 101), waiting(2, 10*u, 10*u+6*ms, 102), waiting(3, 10*u, 10*u+16*ms, 103)), []string{
			"task2 waited 6.0ms: the P's hand-off by sysmon from task1's compute 6.0ms",
			"task3 waited 16.0ms: the P's hand-off by sysmon from task1's compute 10.0ms, from task2's compute 6.0ms",
		}},
		{"syscall: sysmon slower than SysmonRetake", run(Params{Scenario: SingleThread, Compute: Syscall, Procs: 1, CPUs: 2},
			waiting(1, 10*u, 10*u, 101), waiting(2, 10*u, 10*u+25*ms, 102)), []string{
			"task2 waited 25.0ms: the P's hand-off by sysmon from task1's compute 10.0ms; unexplained 15.0ms",
		}},
		{"unexplained: no compute during the wait", run(single,
			waiting(1, 10*u, 10*u, 100), waiting(2, 15*u, 16*u, 100)), []string{
			"task2 waited 1.0u: unexplained 1.0u",
		}},
		{"partly unexplained", run(single,
			waiting(1, 10*u, 10*u, 100), waiting(2, 10*u, 15*u, 100)), []string{
			"task2 waited 5.0u: task1's compute 4.0u; unexplained 1.0u",
		}},
		{"sleep holds nothing", run(Params{Scenario: SingleThread, Compute: Sleep, Procs: 1},
			waiting(1, 10*u, 10*u, 100), waiting(2, 10*u, 12*u, 100)), []string{
			"task2 waited 2.0u: unexplained 2.0u",
		}},
		{"cpu: min(P, CPUs) busy", run(Params{Scenario: MultiThread, Compute: CPU, Procs: 3, CPUs: 1},
			waiting(1, 10*u, 10*u, 101), waiting(2, 10*u, 12*u, 102)), []string{
			"task2 waited 2.0u: task1's compute 2.0u",
		}},
		{"tokio multi-thread: the worker that ran the task", run(Params{Runtime: Tokio, Scenario: MultiThread, Compute: Hold, Procs: 2, CPUs: 2},
			waiting(1, 10*u, 10*u, 201), waiting(2, 10*u, 10*u, 202), resumed(waiting(3, 10*u, 14*u, 202), 201)), []string{
			"task3 waited 4.0u: task2's compute 4.0u",
		}},
		{"tokio multi-thread, the stair: read on an idle worker", run(Params{Runtime: Tokio, Scenario: MultiThread, Compute: Hold, Procs: 3, CPUs: 2},
			waiting(1, 10*u, 14*u, 203), waiting(2, 10*u, 14*u, 201), resumed(waiting(3, 10*u, 10*u, 201), 201)), []string{
			"task1 waited 4.0u: task3's compute 4.0u",
			"task2 waited 4.0u: task3's compute 4.0u",
		}},
		{"tokio single-thread: one worker", run(Params{Runtime: Tokio, Scenario: SingleThread, Compute: Hold, Procs: 1, CPUs: 2},
			waiting(1, 10*u, 10*u, 201), waiting(2, 10*u, 14*u, 201), waiting(3, 10*u, 18*u, 201)), []string{
			"task2 waited 4.0u: task1's compute 4.0u",
			"task3 waited 8.0u: task1's compute 4.0u, task2's compute 4.0u",
		}},
	}
	for _, tt := range tests {
		waits := tt.give.Waits()
		var got []string
		for _, w := range waits {
			got = append(got, w.Explain(u))
			checkAddsUp(t, tt.name, w)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Waits() explained\n\t%s\nwant\n\t%s", tt.name, strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
		}
		// The totals Verify uses say the same.
		totals := tt.give.WaitTotals()
		if len(totals) != len(tt.give.Tasks) {
			t.Errorf("%s: %d totals for %d tasks", tt.name, len(totals), len(tt.give.Tasks))
		}
		for _, w := range waits {
			i := slices.IndexFunc(totals, func(x Wait) bool { return x.Task == w.Task })
			if i < 0 || totals[i].Unexplained != w.Unexplained || totals[i].Handoff != w.Handoff || totals[i].Holders != nil {
				t.Errorf("%s: task%d unexplained %v, hand-off %v by Waits; totals %+v", tt.name, w.Task, w.Unexplained, w.Handoff, totals)
			}
		}
	}
}

// pTwo is multi-thread at P = 2: task1 and task2 compute at once, task2
// 1ms longer; task3 waits 4u for task1's P.
func pTwo() *Timeline {
	tl := run(multi2, waiting(1, 10*u, 10*u, 101), waiting(2, 10*u, 10*u, 102), waiting(3, 10*u, 14*u, 101))
	tl.Tasks[1].Segments[3].End += ms
	return tl
}

// resumed moves a task's ready stage's end to another thread: a Tokio
// task taken up by another worker.
func resumed(t Task, thread int64) Task {
	t.Segments[2].Thread = thread
	return t
}

// checkAddsUp: the holders' shares and the unexplained part make the
// ready time, and the hand-off is the hand-off holders' shares.
func checkAddsUp(t *testing.T, name string, w Wait) {
	t.Helper()
	sum, handoff := w.Unexplained, time.Duration(0)
	for _, h := range w.Holders {
		sum += h.Covered
		if h.Handoff {
			handoff += h.Covered
		}
		if h.Overlap < h.Covered || h.Task == w.Task {
			t.Errorf("%s: task%d's holder %+v", name, w.Task, h)
		}
	}
	if sum != w.Ready.Len() || handoff != w.Handoff || w.Unexplained < 0 {
		t.Errorf("%s: task%d: covered + unexplained = %v, hand-off %v of %v; want %v, %v", name, w.Task, sum, w.Handoff, handoff, w.Ready.Len(), handoff)
	}
}

// The P = 2 case in numbers: the compute that ended first covered the
// wait, the other held the other P all along.
func TestWaitsApportion(t *testing.T) {
	waits := pTwo().Waits()
	w := waits[len(waits)-1]
	type share struct {
		task             int
		covered, overlap time.Duration
	}
	var got []share
	for _, h := range w.Holders {
		got = append(got, share{h.Task, h.Covered, h.Overlap})
	}
	want := []share{{1, 4 * u, 4 * u}, {2, 0, 4 * u}}
	if !slices.Equal(got, want) || w.Unexplained != 0 {
		t.Errorf("task3's holders %+v, unexplained %v; want %+v, 0", got, w.Unexplained, want)
	}
}

func TestVerifyReadyExplained(t *testing.T) {
	// pause delays the single-thread stair by d: nothing ran meanwhile
	// (a stop-the-world, a busy machine), yet the ready time in all is
	// within the ready check's allowance.
	pause := func(d time.Duration) *Timeline {
		tl := article(SingleThread, 1)
		for i := range tl.Tasks {
			segs := tl.Tasks[i].Segments
			segs[2].End += d
			segs[3].Start += d
			segs[3].End += d
			tl.Tasks[i].End += d
		}
		tl.Makespan += d
		return tl
	}
	tokio := article(SingleThread, 1)
	tokio.Runtime = Tokio
	tokioElsewhere := article(SingleThread, 1)
	tokioElsewhere.Runtime = Tokio
	tokioElsewhere.Tasks[2].Segments[2].ThreadEnd = 999 // resumed on a worker nothing blocked
	tests := []struct {
		name       string
		give       *Timeline
		wantOK     bool
		wantDetail string
	}{
		{"the article's stair", article(SingleThread, 1), true, "12s of 12s ready in all explained by the computes holding every P"},
		{"multi-thread, no waits", article(MultiThread, 3), true, "0s of 0s ready"},
		{"a pause of 0.25u before the stair", pause(u / 4), false, "task1 waited 250ms, 250ms of it unexplained (allowed 113ms)"},
		{"tokio, one worker", tokio, true, "the worker that later ran the task"},
		{"tokio, resumed on an idle worker: the others' computes", tokioElsewhere, true, "12s of 12s ready"},
	}
	for _, tt := range tests {
		var got *Check
		checks := tt.give.Verify(tt.give.Expect())
		for i := range checks {
			if checks[i].Name == "ready explained" {
				got = &checks[i]
			}
		}
		if got == nil {
			t.Errorf("%s: no ready explained check in %v", tt.name, checks)
			continue
		}
		if got.OK != tt.wantOK || !strings.Contains(got.Detail, tt.wantDetail) {
			t.Errorf("%s: %v, want ok %v, saying %q", tt.name, got, tt.wantOK, tt.wantDetail)
		}
		if tt.name == "a pause of 0.25u before the stair" {
			if f := failed(checks); f != "ready explained" {
				t.Errorf("%s: failed %q, want only ready explained", tt.name, f)
			}
		}
	}
	// Not a hold run: no such check.
	tl := article(OSThreads, 3)
	for _, c := range tl.Verify(tl.Expect()) {
		if c.Name == "ready explained" {
			t.Errorf("os-threads with syscall computes: %v", c)
		}
	}
}

// Tokio's stair: with three workers, the first woken task's compute runs
// alone and the other two after it. It fails the formula's 14u, and
// passes as the stair, saying so; Go's run of the same shape fails.
func TestVerifyTokioStair(t *testing.T) {
	stair := func(rt Runtime) *Timeline {
		return run(Params{Runtime: rt, Scenario: MultiThread, Compute: Hold, Procs: 3, CPUs: 2},
			waiting(1, 10*u, 14*u, 203), resumed(waiting(2, 10*u, 14*u, 201), 201), waiting(3, 10*u, 10*u, 201))
	}
	checks := stair(Tokio).Verify(stair(Tokio).Expect())
	if !Passed(checks) || !slices.ContainsFunc(checks, func(c Check) bool { return c.Name == "Tokio's stair" && strings.Contains(c.Detail, "makespan") }) {
		t.Errorf("Tokio's stair: %v, want it passed as the stair, the formula's makespan named as failed", checks)
	}
	if checks := stair(Go).Verify(stair(Go).Expect()); Passed(checks) {
		t.Errorf("Go's run of the stair's shape passed: %v", checks)
	}
	// Two tasks waiting where the stair has one: not the stair either.
	worse := run(Params{Runtime: Tokio, Scenario: MultiThread, Compute: Hold, Procs: 3, CPUs: 2},
		waiting(1, 10*u, 18*u, 203), waiting(2, 10*u, 14*u, 201), waiting(3, 10*u, 10*u, 201))
	if checks := worse.Verify(worse.Expect()); Passed(checks) {
		t.Errorf("a run of 22u passed as Tokio's: %v", checks)
	}
}

// rayon's two threads take three whole tasks, one thread two in a row:
// 28u, two lanes, and the run passes every check.
func TestVerifyRayonPool(t *testing.T) {
	third := waiting(3, 24*u, 24*u, 301) // on task1's thread, after it
	third.Start, third.Segments[0].Start, third.Segments[0].End, third.Segments[1].Start = 14*u, 14*u, 16*u, 16*u
	tl := run(Params{Runtime: Tokio, Scenario: OSThreads, Compute: Hold, Procs: 2, CPUs: 2}, waiting(1, 10*u, 10*u, 301), waiting(2, 10*u, 10*u, 302), third)
	if checks := tl.Verify(tl.Expect()); !Passed(checks) {
		t.Errorf("rayon with two threads: %v", checks)
	}
	// A thread of the pool holding two tasks at once is not rayon's.
	tl.Tasks[2] = waiting(3, 10*u, 10*u, 301)
	if checks := tl.Verify(tl.Expect()); Passed(checks) {
		t.Errorf("two tasks at once on one of rayon's threads passed: %v", checks)
	}
}
