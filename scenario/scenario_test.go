package scenario

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const u = time.Second

func TestExpected(t *testing.T) {
	tests := []struct {
		give Params
		want time.Duration
	}{
		// The article's five runs (3 tasks; its machine had 3 or more workers).
		{Params{Scenario: Sync, Compute: Hold, N: 3, Procs: 2, CPUs: 2, Unit: u}, 42 * u},
		{Params{Scenario: Sequential, Compute: Hold, N: 3, Procs: 2, CPUs: 2, Unit: u}, 42 * u},
		{Params{Scenario: SingleThread, Compute: Hold, N: 3, Procs: 1, CPUs: 2, Unit: u}, 22 * u},
		{Params{Scenario: MultiThread, Compute: Hold, N: 3, Procs: 3, CPUs: 2, Unit: u}, 14 * u},
		{Params{Scenario: OSThreads, Compute: Syscall, N: 3, Procs: 3, CPUs: 2, Unit: u}, 14 * u},
		// Where Go differs.
		{Params{Scenario: MultiThread, Compute: Hold, N: 3, Procs: 2, CPUs: 2, Unit: u}, 18 * u},
		{Params{Scenario: SingleThread, Compute: Syscall, N: 3, Procs: 1, CPUs: 2, Unit: u}, 14 * u},
		{Params{Scenario: SingleThread, Compute: Sleep, N: 3, Procs: 1, CPUs: 2, Unit: u}, 14 * u},
		{Params{Scenario: MultiThread, Compute: CPU, N: 3, Procs: 3, CPUs: 2, Unit: u}, 18 * u},
		{Params{Scenario: OSThreads, Compute: CPU, N: 5, Procs: 5, CPUs: 2, Unit: u}, 22 * u},
	}
	for _, tt := range tests {
		if got, formula := tt.give.Expected(); got != tt.want || formula == "" {
			t.Errorf("%+v.Expected() = %v (%s), want %v", tt.give, got, formula, tt.want)
		}
	}
}

func TestExpectedReady(t *testing.T) {
	tests := []struct {
		give     Params
		want     time.Duration
		wantOver time.Duration
		wantOK   bool
	}{
		{Params{Scenario: SingleThread, Compute: Hold, N: 3, Procs: 1, Unit: u}, 12 * u, 0, true}, // (0+1+2)·4u
		{Params{Scenario: MultiThread, Compute: Hold, N: 3, Procs: 3, Unit: u}, 0, 0, true},
		{Params{Scenario: MultiThread, Compute: Hold, N: 5, Procs: 2, Unit: u}, 16 * u, 0, true}, // (0+0+1+1+2)·4u
		{Params{Scenario: SingleThread, Compute: Syscall, N: 3, Procs: 1, Unit: u}, 0, 3 * SysmonRetake, true},
		{Params{Scenario: Sync, Compute: Hold, N: 3, Procs: 1, Unit: u}, 0, 0, true},
		{Params{Scenario: SingleThread, Compute: CPU, N: 3, Procs: 1, Unit: u}, 0, 0, false},
	}
	for _, tt := range tests {
		got, over, ok := tt.give.ExpectedReady()
		if got != tt.want || over != tt.wantOver || ok != tt.wantOK {
			t.Errorf("%+v.ExpectedReady() = %v, %v, %v; want %v, %v, %v", tt.give, got, over, ok, tt.want, tt.wantOver, tt.wantOK)
		}
	}
}

func TestReadyGiven(t *testing.T) {
	one := Params{Scenario: SingleThread, Compute: Hold, N: 3, Procs: 1, Unit: u}
	three := one
	three.Scenario, three.Procs = MultiThread, 3
	tests := []struct {
		give     Params
		arrivals []time.Duration
		want     time.Duration
	}{
		{one, []time.Duration{10 * u, 10 * u, 10 * u}, 12 * u}, // the formula's premise
		{one, []time.Duration{10 * u, 10 * u, 14 * u}, 8 * u},  // one reply 4u late: it waits less
		{one, []time.Duration{10 * u, 20 * u, 30 * u}, 0},      // each reply after the last compute
		{three, []time.Duration{10 * u, 10 * u, 10 * u}, 0},
	}
	for _, tt := range tests {
		if got, ok := tt.give.ReadyGiven(tt.arrivals); got != tt.want || !ok {
			t.Errorf("%s P=%d ReadyGiven(%v) = %v, %v; want %v", tt.give.Scenario, tt.give.Procs, tt.arrivals, got, ok, tt.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	for _, tt := range []struct {
		give      Scenario
		wantProcs int
		wantMode  Compute
	}{
		{Sync, 2, Hold}, {Sequential, 2, Hold}, {SingleThread, 1, Hold}, {MultiThread, 2, Hold}, {OSThreads, 3, Syscall},
	} {
		if p, m := tt.give.DefaultProcs(3, 2), tt.give.DefaultCompute(); p != tt.wantProcs || m != tt.wantMode {
			t.Errorf("%s defaults: procs %d, compute %s; want %d, %s", tt.give, p, m, tt.wantProcs, tt.wantMode)
		}
	}
}

func TestParse(t *testing.T) {
	for _, s := range All {
		if got, err := Parse(string(s)); got != s || err != nil {
			t.Errorf("Parse(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := Parse("async"); err == nil || !strings.Contains(err.Error(), "single-thread") {
		t.Errorf("Parse(async) = %v, want an error listing the scenarios", err)
	}
	if _, err := ParseCompute("spin"); err == nil {
		t.Error("ParseCompute(spin): no error")
	}
	for _, tt := range []struct {
		give   string
		want   int
		wantOK bool
	}{{"task1", 1, true}, {"task12", 12, true}, {"task0", 0, false}, {"task01", 0, false}, {"task", 0, false}, {"OS thread 5", 0, false}, {"task-1", 0, false}} {
		got, err := ParseTaskLabel(tt.give)
		if got != tt.want || (err == nil) != tt.wantOK {
			t.Errorf("ParseTaskLabel(%q) = %d, %v; want %d, ok %v", tt.give, got, err, tt.want, tt.wantOK)
		}
	}
	if TaskLabel(7) != "task7" {
		t.Errorf("TaskLabel(7) = %q", TaskLabel(7))
	}
}

// article draws the article's figure of a scenario as a timeline, to the
// second: every stage its length, tasks ready in batches of b computes.
func article(sc Scenario, procs int) *Timeline {
	p := Params{Scenario: sc, Compute: sc.DefaultCompute(), N: 3, Procs: procs, CPUs: 2, Unit: u}
	tl := &Timeline{Params: p}
	var at time.Duration
	for i := 1; i <= 3; i++ {
		t := Task{Index: i, Goroutine: int64(10 + i), Locked: sc.Locked()}
		start := time.Duration(0)
		if sc.Serial() {
			start = at
		}
		thread := int64(100)
		if sc == OSThreads || sc == MultiThread {
			thread = int64(100 + i)
		}
		wait := time.Duration(0)
		if !sc.Serial() {
			wait = time.Duration((i-1)/procs) * 4 * u
		}
		seg := func(s Stage, from, to time.Duration) Segment {
			return Segment{Task: i, Stage: s, Start: from, End: to, Thread: thread, ThreadEnd: thread}
		}
		t.Start = start
		t.Segments = []Segment{
			seg(StageConnect, start, start+2*u),
			seg(StageResponse, start+2*u, start+10*u),
			seg(StageReady, start+10*u, start+10*u+wait),
			seg(StageCompute, start+10*u+wait, start+14*u+wait),
		}
		t.End = start + 14*u + wait
		at = t.End
		tl.Makespan = max(tl.Makespan, t.End)
		tl.Tasks = append(tl.Tasks, t)
	}
	return tl
}

func TestThreadLanes(t *testing.T) {
	tests := []struct {
		give      *Timeline
		wantLanes int
		wantSegs  []Stage // of the first lane
	}{
		{article(SingleThread, 1), 1, []Stage{StageCompute, StageCompute, StageCompute}},
		{article(Sync, 2), 1, slices.Repeat(Stages, 3)},
		{article(OSThreads, 3), 3, Stages},
		{article(MultiThread, 3), 3, []Stage{StageCompute}},
	}
	for _, tt := range tests {
		lanes := tt.give.ThreadLanes()
		if len(lanes) != tt.wantLanes {
			t.Errorf("%s: %d lanes, want %d", tt.give.Scenario, len(lanes), tt.wantLanes)
			continue
		}
		var got []Stage
		for _, s := range lanes[0].Segments {
			got = append(got, s.Stage)
		}
		if !slices.Equal(got, tt.wantSegs) {
			t.Errorf("%s: first lane holds %v, want %v", tt.give.Scenario, got, tt.wantSegs)
		}
		l := lanes[0]
		if l.Start != l.Segments[0].Start || l.End != l.Segments[len(l.Segments)-1].End {
			t.Errorf("%s: lane [%v, %v], its stages [%v, %v]", tt.give.Scenario, l.Start, l.End, l.Segments[0].Start, l.Segments[len(l.Segments)-1].End)
		}
	}
	if got := article(SingleThread, 1).StageTotal(StageReady); got != 12*u {
		t.Errorf("single-thread ready in all %v, want 12u", got)
	}
}

func failed(checks []Check) string { return strings.Join(Failed(checks), ",") }

// The article's own figures pass; each broken on purpose fails the check
// that says so.
func TestVerify(t *testing.T) {
	for _, sc := range All {
		procs := sc.DefaultProcs(3, 3)
		tl := article(sc, procs)
		if f := failed(tl.Verify(tl.Expect())); f != "" {
			t.Errorf("the article's %s figure fails %s", sc, f)
		}
	}
	tests := []struct {
		name    string
		sc      Scenario
		breakIt func(tl *Timeline)
		want    string
	}{
		{"slow", SingleThread, func(tl *Timeline) { tl.Makespan *= 2 }, "makespan"},
		{"computes together", SingleThread, func(tl *Timeline) {
			for i := range tl.Tasks {
				tl.Tasks[i].Segments[3] = tl.Tasks[0].Segments[3]
				tl.Tasks[i].Segments[3].Task = i + 1
			}
		}, "computes at once"},
		{"no ready time", SingleThread, func(tl *Timeline) {
			for i := range tl.Tasks {
				tl.Tasks[i].Segments[2].End = tl.Tasks[i].Segments[2].Start
			}
		}, "ready"},
		{"compute before response", MultiThread, func(tl *Timeline) { tl.Tasks[0].Segments[3].Start = 0 }, "stages of task1"},
		{"a stage missing", MultiThread, func(tl *Timeline) { tl.Tasks[1].Segments = tl.Tasks[1].Segments[:3] }, "stages of task2"},
		{"tasks out of order", MultiThread, func(tl *Timeline) { tl.Tasks[0].Start = time.Millisecond }, "tasks in order"},
		{"overlapping tasks", Sync, func(tl *Timeline) { tl.Tasks[1].Start = tl.Tasks[0].Start }, "tasks in series"},
		{"shared thread", OSThreads, func(tl *Timeline) {
			for j := range tl.Tasks[1].Segments {
				tl.Tasks[1].Segments[j].Thread, tl.Tasks[1].Segments[j].ThreadEnd = 101, 101
			}
		}, "OS threads"},
		{"moved compute", SingleThread, func(tl *Timeline) { tl.Tasks[2].Segments[3].ThreadEnd = 999 }, "one thread at a time"},
		{"computes together on two threads", SingleThread, func(tl *Timeline) {
			tl.Tasks[1].Segments[3] = tl.Tasks[0].Segments[3]
			tl.Tasks[1].Segments[3].Task = 2
			tl.Tasks[1].Segments[3].Thread, tl.Tasks[1].Segments[3].ThreadEnd = 999, 999
		}, "one thread at a time"},
	}
	for _, tt := range tests {
		tl := article(tt.sc, tt.sc.DefaultProcs(3, 3))
		tt.breakIt(tl)
		if f := failed(tl.Verify(tl.Expect())); !strings.Contains(f, tt.want) {
			t.Errorf("%s %s: failed %q, want %q among them", tt.name, tt.sc, f, tt.want)
		}
	}
	// The one P moved to another OS thread between two computes: two
	// lanes, the stair all the same.
	tl0 := article(SingleThread, 1)
	for _, j := range []int{1, 2} {
		seg := &tl0.Tasks[j].Segments[3]
		seg.Thread, seg.ThreadEnd = 999, 999
	}
	if lanes := len(tl0.ThreadLanes()); lanes != 2 {
		t.Fatalf("%d lanes, want 2", lanes)
	}
	if f := failed(tl0.Verify(tl0.Expect())); f != "" {
		t.Errorf("the P moved between computes: failed %q, want none", f)
	}

	// A single-thread run is not a multi-thread one.
	tl := article(SingleThread, 1)
	exp := tl.Expect()
	exp.Scenario, exp.Procs = MultiThread, 3
	if f := failed(tl.Verify(exp)); !strings.Contains(f, "makespan") || !strings.Contains(f, "computes in parallel") {
		t.Errorf("single-thread as multi-thread P=3 failed %q, want makespan and computes in parallel", f)
	}
}

// A server run with another unit: Verify says so, naming both units.
func TestUnitMismatch(t *testing.T) {
	tl := article(MultiThread, 3)
	if msg := tl.UnitMismatch(DefaultTolerance); msg != "" {
		t.Errorf("the article's figure: %q", msg)
	}
	// The server at -unit 1s, the client at 100ms: every response 8s.
	tl.Unit = 100 * time.Millisecond
	for i := range tl.Tasks {
		for j := range tl.Tasks[i].Segments {
			s := &tl.Tasks[i].Segments[j]
			if s.Stage == StageResponse {
				s.End = s.Start + 8*time.Second
			}
		}
	}
	msg := tl.UnitMismatch(DefaultTolerance)
	for _, want := range []string{"held requests 8s", "not 8u = 800ms", "its unit is 1s", "the client's 100ms"} {
		if !strings.Contains(msg, want) {
			t.Errorf("UnitMismatch = %q, want it to say %q", msg, want)
		}
	}
	if strings.Contains(msg, "-unit") {
		t.Errorf("UnitMismatch = %q names a flag: what to do is the commands' to say", msg)
	}
	if f := failed(tl.Verify(tl.Expect())); !strings.Contains(f, "server delay") {
		t.Errorf("Verify failed %q, want server delay among them", f)
	}
}

func TestMaxConcurrent(t *testing.T) {
	iv := func(a, b int) interval { return interval{time.Duration(a), time.Duration(b)} }
	tests := []struct {
		give []interval
		want int
	}{
		{nil, 0},
		{[]interval{iv(0, 10), iv(10, 20)}, 1}, // touching ends
		{[]interval{iv(0, 10), iv(5, 20), iv(6, 7)}, 3},
		{[]interval{iv(0, 10), iv(5, 20), iv(11, 12)}, 2},
	}
	for _, tt := range tests {
		if got := maxConcurrent(tt.give); got != tt.want {
			t.Errorf("maxConcurrent(%v) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

func TestCheckString(t *testing.T) {
	if got := (Check{Name: "ready", OK: false, Detail: "x"}).String(); got != "FAIL ready: x" {
		t.Errorf("Check.String() = %q", got)
	}
	if got := percent(0.001); got != "+0.1%" {
		t.Errorf("percent(0.001) = %q, want +0.1%%", got)
	}
}

// burst is a multi-thread run of n tasks whose dials returned spread over
// spread, each task otherwise the article's: the burst of a large run.
func burst(n int, spread time.Duration) *Timeline {
	p := Params{Scenario: MultiThread, Compute: Sleep, N: n, Procs: 2, CPUs: 2, Unit: u}
	tl := &Timeline{Params: p}
	for i := 1; i <= n; i++ {
		late := spread * time.Duration(i-1) / time.Duration(n-1)
		seg := func(s Stage, from, to time.Duration) Segment {
			return Segment{Task: i, Stage: s, Start: from, End: to, Thread: 100, ThreadEnd: 100}
		}
		t := Task{Index: i, Handshake: late, End: 14*u + late, Segments: []Segment{
			seg(StageConnect, 0, 2*u+late),
			seg(StageResponse, 2*u+late, 10*u+late),
			seg(StageReady, 10*u+late, 10*u+late),
			seg(StageCompute, 10*u+late, 14*u+late),
		}}
		tl.Tasks = append(tl.Tasks, t)
		tl.Makespan = max(tl.Makespan, t.End)
	}
	return tl
}

// At scale, a check the burst of dials fails names it; the network the
// makespan counts is the last task's.
func TestVerifyAtScale(t *testing.T) {
	tl := burst(100, 5*u)
	if got := tl.Network(); got != 5*u {
		t.Errorf("network %v, want the last task's, %v", got, 5*u)
	}
	for _, c := range tl.Verify(tl.Expect()) {
		if c.Name != "computes in parallel" {
			continue
		}
		if c.OK || !strings.Contains(c.Detail, "the burst of 100 connections on 2 CPUs: the dials returned over 5s") {
			t.Errorf("%v, want it failed, naming the burst", c)
		}
		return
	}
	t.Error("no computes in parallel check")
}

// A small run names no burst: a check it fails is asynctrace's to explain.
func TestVerifySmallNamesNoBurst(t *testing.T) {
	tl := burst(3, 5*u)
	for _, c := range tl.Verify(tl.Expect()) {
		if strings.Contains(c.Detail, "burst") {
			t.Errorf("%v names a burst in a run of 3 tasks", c)
		}
	}
}

func TestBreakdown(t *testing.T) {
	tl := burst(100, 5*u)
	v := &verifier{tl: tl, exp: tl.Expect()}
	want := "task100 began at 0s, connect 2u + 5s, response 8u + 0s, ready 0s, compute 4u + 0s"
	if got := v.breakdown(tl.Last()); got != want {
		t.Errorf("breakdown %q, want %q", got, want)
	}
}

func TestTokioFormulas(t *testing.T) {
	for _, tt := range []struct {
		give Params
		want time.Duration
	}{
		{Params{Runtime: Tokio, Scenario: MultiThread, Compute: Hold, N: 3, Procs: 2, CPUs: 2, Unit: time.Second}, 18 * time.Second},
		{Params{Runtime: Tokio, Scenario: MultiThread, Compute: Hold, N: 3, Procs: 3, CPUs: 2, Unit: time.Second}, 14 * time.Second},
		{Params{Runtime: Tokio, Scenario: OSThreads, Compute: Hold, N: 3, Procs: 2, CPUs: 2, Unit: time.Second}, 28 * time.Second},
		{Params{Runtime: Tokio, Scenario: OSThreads, Compute: Hold, N: 3, Procs: 3, CPUs: 2, Unit: time.Second}, 14 * time.Second},
		{Params{Runtime: Tokio, Scenario: SingleThread, Compute: Hold, N: 3, Procs: 1, CPUs: 2, Unit: time.Second}, 22 * time.Second},
	} {
		if got, f := tt.give.Expected(); got != tt.want {
			t.Errorf("%+v: Expected() = %v (%s), want %v", tt.give, got, f, tt.want)
		}
	}
	p := Params{Runtime: Tokio, Scenario: OSThreads, Compute: Hold, N: 3, Procs: 2, CPUs: 2, Unit: time.Second}
	if want, _, ok := p.ExpectedReady(); !ok || want != 0 {
		t.Errorf("rayon's ExpectedReady() = %v, %v; want 0, true: a pool thread waits for its own reply", want, ok)
	}
}
