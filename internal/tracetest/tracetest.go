// Package tracetest checks the trace contract (docs/trace.md, defined in
// tracing/contract.go) on one run's spans, however they were read: from
// the SDK in memory (the unit tests, diagram.FromSDK) or from Jaeger's
// query API (the end-to-end tests, diagram.FromJaeger). One checker, so
// that the contract is asserted the same way on both.
package tracetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"asynctrace/diagram"
	"asynctrace/scenario"
	"asynctrace/tracing"
)

// Want is what the run was asked to be.
type Want struct {
	// Runtime ran the tasks: Go's (the default), whose spans carry the
	// goroutine, or Tokio's (the article's programs), whose carry only the
	// OS thread, from service tokio-client.
	Runtime  scenario.Runtime
	Scenario scenario.Scenario
	Tasks    int
	Compute  scenario.Compute // the lane rule depends on it
	Unit     time.Duration
	// Slack is how far a span may lie outside its parent, or a stage
	// start before the one before it ended: 0 on the SDK's times, 1 ms on
	// Jaeger's (microseconds, rounded on both ends).
	Slack time.Duration
	// EchoOver bounds the echo and response spans at 8u + EchoOver; 0
	// checks only that they last at least 8u (in-process under one P with
	// hold, a compute also holds up the server's goroutines).
	EchoOver time.Duration
}

// clientService is the service of the run's client spans.
func (w Want) clientService() string {
	if w.Runtime == scenario.Tokio {
		return tracing.TokioClientService
	}
	return tracing.ClientService
}

// checkIDs: the ids of whoever ran a task's work: the goroutine, which
// it returns, and its OS thread in Go's runs; the OS thread in Tokio's,
// whose tasks have no goroutine (0).
func (w Want) checkIDs(t testing.TB, what string, s *diagram.Span) (goroutine int64) {
	t.Helper()
	if w.Runtime == scenario.Tokio {
		checkOSThread(t, what, s)
		return 0
	}
	return checkThreadAttrs(t, what, s)
}

// Trace is a checked trace, indexed for a test's own checks.
type Trace struct {
	Spans  []diagram.Span
	ByID   map[string]*diagram.Span
	Root   *diagram.Span
	Groups []*diagram.Span                    // the root's children: tasks, then threads
	Tasks  []*diagram.Span                    // task1…taskN
	Stages []map[scenario.Stage]*diagram.Span // per task
	Lanes  []*diagram.Span                    // the OS thread lanes
	Held   map[string][]*diagram.Span         // a lane's id: the stage spans under it
	Count  map[string]int                     // spans per service
}

// TasksHeld is how many tasks' stages a thread lane holds.
func (tr *Trace) TasksHeld(lane *diagram.Span) int {
	tasks := map[any]bool{}
	for _, s := range tr.Held[lane.ID] {
		tasks[s.Attrs[string(tracing.KeyTask)]] = true
	}
	return len(tasks)
}

// Children are the spans whose parent is id, in the order of the trace.
func (tr *Trace) Children(id string) []*diagram.Span {
	var out []*diagram.Span
	for i := range tr.Spans {
		if tr.Spans[i].Parent == id {
			out = append(out, &tr.Spans[i])
		}
	}
	return out
}

// Ready is all tasks' ready spans added up.
func (tr *Trace) Ready() time.Duration {
	var sum time.Duration
	for _, st := range tr.Stages {
		if s := st[scenario.StageReady]; s != nil {
			sum += s.End.Sub(s.Start)
		}
	}
	return sum
}

// Arrivals are the times, from the run's start, at which each task's echo
// arrived: its response span's end.
func (tr *Trace) Arrivals() []time.Duration {
	var out []time.Duration
	for _, st := range tr.Stages {
		if s := st[scenario.StageResponse]; s != nil {
			out = append(out, s.End.Sub(tr.Root.Start))
		}
	}
	return out
}

// Makespan is the root span's length.
func (tr *Trace) Makespan() time.Duration { return tr.Root.End.Sub(tr.Root.Start) }

// Check asserts the contract on spans, the whole of one trace, and
// returns it indexed. It stops the test only where nothing more can be
// checked.
func Check(t testing.TB, spans []diagram.Span, want Want) *Trace {
	t.Helper()
	tr := &Trace{Spans: spans, ByID: map[string]*diagram.Span{}, Held: map[string][]*diagram.Span{}, Count: map[string]int{}}
	for i := range tr.Spans {
		s := &tr.Spans[i]
		tr.ByID[s.ID] = s
		tr.Count[s.Service]++
	}
	for i := range tr.Spans {
		if s := &tr.Spans[i]; tr.ByID[s.Parent] == nil && s.Name == tracing.ScenarioSpanName(want.Scenario) {
			tr.Root = s
		}
	}
	if tr.Root == nil {
		t.Fatalf("no root span %q", tracing.ScenarioSpanName(want.Scenario))
	}
	tr.checkRoot(t, want)
	tr.checkNesting(t, want.Slack)
	tr.index(t, want.Tasks)
	for i := range tr.Tasks {
		tr.checkTask(t, i, want)
	}
	tr.checkLanes(t, want)
	tr.checkCounts(t, want)
	return tr
}

// checkRoot: the run's knobs and measurements on the root.
func (tr *Trace) checkRoot(t testing.TB, want Want) {
	t.Helper()
	a := tr.Root.Attrs
	for _, k := range []attribute.Key{
		tracing.KeyScenario, tracing.KeyTasks, tracing.KeyGOMAXPROCS, tracing.KeyNumCPU, tracing.KeyCompute, tracing.KeyUnitMS,
		tracing.KeyExpectedMS, tracing.KeyMakespanMS, tracing.KeyReadyMS, tracing.KeyThreadLanes, tracing.KeyPeakOSThreads, tracing.KeyPeakGoroutines,
	} {
		if _, ok := a[string(k)]; !ok {
			t.Errorf("root has no attribute %s", k)
		}
	}
	if rt := cmp.Or(want.Runtime, scenario.Go); a[string(tracing.KeyRuntime)] != string(rt) || tr.Root.Service != want.clientService() {
		t.Errorf("root: %s = %v from %s, want %s from %s", tracing.KeyRuntime, a[string(tracing.KeyRuntime)], tr.Root.Service, rt, want.clientService())
	}
	if a[string(tracing.KeyScenario)] != string(want.Scenario) || a[string(tracing.KeyTasks)] != int64(want.Tasks) {
		t.Errorf("root: %s = %v, %s = %v; want %s, %d", tracing.KeyScenario, a[string(tracing.KeyScenario)],
			tracing.KeyTasks, a[string(tracing.KeyTasks)], want.Scenario, want.Tasks)
	}
}

// checkNesting: no span starts before its parent, or ends after it.
func (tr *Trace) checkNesting(t testing.TB, slack time.Duration) {
	t.Helper()
	at := func(x time.Time) time.Duration { return x.Sub(tr.Root.Start) }
	for _, s := range tr.Spans {
		p := tr.ByID[s.Parent]
		if p == nil {
			continue
		}
		if s.Start.Before(p.Start.Add(-slack)) || s.End.After(p.End.Add(slack)) {
			t.Errorf("%s/%s [%v, %v] is not within its parent %s [%v, %v]", s.Service, s.Name,
				at(s.Start), at(s.End), p.Name, at(p.Start), at(p.End))
		}
	}
}

// index finds the two halves under the root, in order, and in them the
// tasks, their stages and the lanes.
func (tr *Trace) index(t testing.TB, n int) {
	t.Helper()
	tr.Groups = tr.Children(tr.Root.ID)
	slices.SortStableFunc(tr.Groups, func(a, b *diagram.Span) int { return a.Start.Compare(b.Start) })
	var names []string
	for _, g := range tr.Groups {
		names = append(names, g.Name)
	}
	if want := []string{tracing.SpanTasks, tracing.SpanThreads}; !slices.Equal(names, want) && !slices.Equal(names, want[:1]) {
		t.Errorf("the root's children, by start: %v, want %v (threads only where a stage held one)", names, want)
	}
	tr.Tasks, tr.Stages = make([]*diagram.Span, n), make([]map[scenario.Stage]*diagram.Span, n)
	for _, g := range tr.Groups {
		for _, s := range tr.Children(g.ID) {
			switch g.Name {
			case tracing.SpanThreads:
				tr.Lanes = append(tr.Lanes, s)
				tr.Held[s.ID] = tr.Children(s.ID)
			case tracing.SpanTasks:
				label, _ := s.Attrs[string(tracing.KeyTask)].(string)
				i, err := scenario.ParseTaskLabel(label)
				if err != nil || i > n || tr.Tasks[i-1] != nil || s.Name != tracing.TaskSpanName(i, n) {
					t.Errorf("unexpected task span %s (%s = %q)", s.Name, tracing.KeyTask, label)
					continue
				}
				tr.Tasks[i-1] = s
			}
		}
	}
	slices.SortStableFunc(tr.Lanes, func(a, b *diagram.Span) int { return a.Start.Compare(b.Start) })
	for i, task := range tr.Tasks {
		if task == nil {
			t.Fatalf("no span of %s under %s", scenario.TaskLabel(i+1), tracing.SpanTasks)
		}
		tr.Stages[i] = map[scenario.Stage]*diagram.Span{}
		for _, s := range tr.Children(task.ID) {
			st := scenario.Stage(s.Name)
			if tr.Stages[i][st] != nil {
				t.Errorf("%s has two %s spans", task.Name, st)
			}
			tr.Stages[i][st] = s
		}
	}
}

// checkTask: task i's span, its events, its stages in order on its
// goroutine, and the server's echo inside its response.
func (tr *Trace) checkTask(t testing.TB, i int, want Want) {
	t.Helper()
	task, label := tr.Tasks[i], scenario.TaskLabel(i+1)
	if i > 0 && task.Start.Before(tr.Tasks[i-1].Start) {
		t.Errorf("%s starts before %s: Jaeger would list it first", label, tr.Tasks[i-1].Name)
	}
	if task.Attrs[string(tracing.KeyTask)] != label || task.Attrs[string(tracing.KeyLockedThread)] != want.Scenario.Locked() {
		t.Errorf("%s: %s = %v, %s = %v", label, tracing.KeyTask, task.Attrs[string(tracing.KeyTask)],
			tracing.KeyLockedThread, task.Attrs[string(tracing.KeyLockedThread)])
	}
	g := want.checkIDs(t, label, task)
	for _, ev := range []string{tracing.EventStarted, tracing.EventWritten, tracing.EventRead, tracing.EventFinished} {
		if !slices.Contains(task.Events, ev) {
			t.Errorf("%s has no event %q", label, ev)
		}
	}
	var prev *diagram.Span
	for _, st := range scenario.Stages {
		s := tr.Stages[i][st]
		if s == nil {
			t.Errorf("%s has no %s span", label, st)
			continue
		}
		if want.Runtime == scenario.Tokio {
			checkOSThread(t, label+"/"+string(st), s)
		} else {
			checkStageThreads(t, label+"/"+string(st), s, g)
		}
		if prev != nil && s.Start.Before(prev.End.Add(-want.Slack)) {
			t.Errorf("%s: %s starts %v before %s ends", label, st, prev.End.Sub(s.Start), prev.Name)
		}
		prev = s
	}
	if resp := tr.Stages[i][scenario.StageResponse]; resp != nil {
		tr.checkEcho(t, label, resp, want)
	}
	if ready := tr.Stages[i][scenario.StageReady]; ready != nil {
		tr.checkWait(t, label, ready, want)
	}
}

// checkWait: a ready span says how much of its wait nothing explains,
// and, in a named run, explains a wait of scenario.MinWait or more in a
// line; each of its links points at the compute of another task that
// overlapped the wait.
func (tr *Trace) checkWait(t testing.TB, label string, ready *diagram.Span, want Want) {
	t.Helper()
	unexplained, ok := ready.Attrs[string(tracing.KeyWaitUnexplainedMS)].(float64)
	if !ok {
		t.Errorf("%s/ready has no %s", label, tracing.KeyWaitUnexplainedMS)
	}
	// A wait mostly explained names what held its thread: it links to it.
	if d := ready.End.Sub(ready.Start); tracing.Named(want.Tasks) && d >= scenario.MinWait+want.Slack &&
		scenario.FromMS(unexplained) < d/2 && len(ready.Links) == 0 {
		t.Errorf("%s/ready waited %v, %.1fms of it unexplained, and links to nothing", label, d, unexplained)
	}
	if line, _ := ready.Attrs[string(tracing.KeyWait)].(string); tracing.Named(want.Tasks) && ready.End.Sub(ready.Start) >= scenario.MinWait+want.Slack &&
		!strings.HasPrefix(line, label+" waited ") {
		t.Errorf("%s/ready lasts %v and %s = %q, want the wait explained", label, ready.End.Sub(ready.Start), tracing.KeyWait, line)
	}
	for _, id := range ready.Links {
		c := tr.ByID[id]
		if c == nil {
			t.Errorf("%s/ready links to a span not in the trace", label)
			continue
		}
		owner := tr.ByID[c.Parent]
		if c.Name != tracing.SpanCompute || owner == nil || owner.Attrs[string(tracing.KeyTask)] == label {
			t.Errorf("%s/ready links to %s, not another task's compute", label, c.Name)
			continue
		}
		if c.End.Before(ready.Start.Add(-want.Slack)) || c.Start.After(ready.End.Add(want.Slack)) {
			t.Errorf("%s/ready [%v, %v] links to %s's compute [%v, %v], which does not overlap it", label,
				ready.Start.Sub(tr.Root.Start), ready.End.Sub(tr.Root.Start), owner.Attrs[string(tracing.KeyTask)], c.Start.Sub(tr.Root.Start), c.End.Sub(tr.Root.Start))
		}
	}
}

// checkEcho: the server's echo is the response's child, across the
// services, with delay and write under it; both last about 8u.
func (tr *Trace) checkEcho(t testing.TB, label string, resp *diagram.Span, want Want) {
	t.Helper()
	if resp.Kind != "client" {
		t.Errorf("%s/response kind %q, want client", label, resp.Kind)
	}
	if how := resp.Attrs[string(tracing.KeyArrival)]; how != tracing.TimeKernel {
		t.Errorf("%s/response %s = %v, want %s: the kernel timestamps loopback data", label, tracing.KeyArrival, how, tracing.TimeKernel)
	}
	var echo *diagram.Span
	for _, s := range tr.Children(resp.ID) {
		if s.Name == tracing.SpanEcho {
			echo = s
		}
	}
	if echo == nil || echo.Service != tracing.ServerService || echo.Kind != "server" {
		t.Errorf("%s: no %s span of %s, kind server, whose parent is the response span", label, tracing.SpanEcho, tracing.ServerService)
		return
	}
	g := checkThreadAttrs(t, label+"/echo", echo)
	a := echo.Attrs
	if a[string(tracing.KeyPreamble)] != tracing.PreambleTraced || a[string(tracing.KeyEchoBytes)] != int64(len(label)) {
		t.Errorf("%s/echo: %s = %v, %s = %v", label, tracing.KeyPreamble, a[string(tracing.KeyPreamble)], tracing.KeyEchoBytes, a[string(tracing.KeyEchoBytes)])
	}
	for _, k := range []attribute.Key{tracing.KeyPeerAddress, tracing.KeyPeerPort} {
		if _, ok := a[string(k)]; !ok {
			t.Errorf("%s/echo has no attribute %s", label, k)
		}
	}
	var kids []string
	for _, s := range tr.Children(echo.ID) {
		kids = append(kids, s.Name)
		checkStageThreads(t, label+"/echo/"+s.Name, s, g)
	}
	slices.Sort(kids)
	if !slices.Equal(kids, []string{tracing.SpanDelay, tracing.SpanWrite}) {
		t.Errorf("%s/echo children %v, want delay and write", label, kids)
	}
	// The server holds a request 8u from its accept (hold_ms, on its
	// clock); the echo, from the first byte, and the response, from the
	// write, start a little after the accept, and last about as long.
	w := scenario.ServerDelay(want.Unit)
	if h, _ := a[string(tracing.KeyHoldMS)].(float64); time.Duration(h*float64(time.Millisecond)) < w-time.Microsecond {
		t.Errorf("%s/echo: %s = %v, want at least 8u = %v", label, tracing.KeyHoldMS, a[string(tracing.KeyHoldMS)], w)
	}
	// Less where the client wrote late after its connect: on a busy
	// machine its thread waits for a CPU too (scenario.ReadyNoise); the
	// hold itself is checked above.
	for _, s := range []*diagram.Span{echo, resp} {
		if d := s.End.Sub(s.Start); d < w-want.Unit/10-scenario.ReadyNoise-want.Slack || want.EchoOver > 0 && d > w+want.EchoOver {
			t.Errorf("%s/%s lasts %v, want about 8u = %v", label, s.Name, d, w)
		}
	}
}

// checkLanes: a lane per OS thread that held a stage, named for it; under
// it a span per stage it held, linked to that stage's span, timed as it,
// and holding the thread by the lane rule.
func (tr *Trace) checkLanes(t testing.TB, want Want) {
	t.Helper()
	wantSome := want.Compute != scenario.Sleep || want.Scenario.Locked()
	if wantSome != (len(tr.Lanes) > 0) || tr.Root.Attrs[string(tracing.KeyThreadLanes)] != int64(len(tr.Lanes)) {
		t.Errorf("%d lane spans, the root says %v; compute %s", len(tr.Lanes), tr.Root.Attrs[string(tracing.KeyThreadLanes)], want.Compute)
	}
	for k, lane := range tr.Lanes {
		tid, _ := lane.Attrs[string(tracing.KeyOSThreadID)].(int64)
		if lane.Name != tracing.ThreadLaneSpanName(k+1, want.Tasks) || lane.Attrs[string(tracing.KeyThreadLane)] != int64(k+1) || tid <= 0 {
			t.Errorf("lane %d of %d, by start: %q, %s = %v, %s = %v", k+1, len(tr.Lanes), lane.Name,
				tracing.KeyThreadLane, lane.Attrs[string(tracing.KeyThreadLane)], tracing.KeyOSThreadID, lane.Attrs[string(tracing.KeyOSThreadID)])
		}
		if len(tr.Held[lane.ID]) == 0 {
			t.Errorf("%s holds no stage", lane.Name)
		}
		for _, s := range tr.Held[lane.ID] {
			tr.checkHeld(t, lane, tid, s, want)
		}
	}
}

func (tr *Trace) checkHeld(t testing.TB, lane *diagram.Span, tid int64, s *diagram.Span, want Want) {
	t.Helper()
	if len(s.Links) != 1 {
		t.Errorf("%s/%s has %d links, want 1", lane.Name, s.Name, len(s.Links))
		return
	}
	target := tr.ByID[s.Links[0]]
	if target == nil {
		t.Errorf("%s/%s links to a span not in the trace", lane.Name, s.Name)
		return
	}
	task := tr.ByID[target.Parent]
	i := 0
	if task != nil {
		i, _ = scenario.ParseTaskLabel(task.Name)
	}
	stage := scenario.Stage(target.Name)
	if i == 0 || s.Name != tracing.LaneStageSpanName(i, stage, want.Tasks) ||
		s.Start.Before(target.Start.Add(-want.Slack)) || s.End.After(target.End.Add(want.Slack)) {
		t.Errorf("%s/%s [%v, %v] links to %s [%v, %v]", lane.Name, s.Name, s.Start, s.End, target.Name, target.Start, target.End)
		return
	}
	th, _ := target.Attrs[string(tracing.KeyOSThreadID)].(int64)
	if th != tid || !scenario.HoldsThread(stage, want.Scenario.Locked(), want.Compute) {
		t.Errorf("%s holds %s/%s, which started on OS thread %d", lane.Name, task.Name, target.Name, th)
	}
}

// checkCounts: every span the contract promises, and no more.
func (tr *Trace) checkCounts(t testing.TB, w Want) {
	t.Helper()
	n := w.Tasks
	held := 0
	for _, l := range tr.Lanes {
		held += len(tr.Held[l.ID])
	}
	if got, want := tr.Count[w.clientService()], 1+len(tr.Groups)+n+len(scenario.Stages)*n+len(tr.Lanes)+held; got != want {
		t.Errorf("%d spans from %s, want %d (1 root + %d groups + %d tasks + %d stages + %d lanes holding %d stages)",
			got, w.clientService(), want, len(tr.Groups), n, len(scenario.Stages)*n, len(tr.Lanes), held)
	}
	if got, want := tr.Count[tracing.ServerService], 3*n; got != want {
		t.Errorf("%d spans from %s, want %d", got, tracing.ServerService, want)
	}
}

// checkThreadAttrs: the goroutine's attributes, on the span of the work
// it owns (a task, an echo), and its OS thread; it returns the goroutine.
func checkThreadAttrs(t testing.TB, what string, s *diagram.Span) (goroutine int64) {
	t.Helper()
	g, ok := s.Attrs[string(tracing.KeyThreadID)].(int64)
	if name := s.Attrs[string(tracing.KeyThreadName)]; !ok || g <= 0 || name != fmt.Sprintf("goroutine %d", g) {
		t.Errorf("%s: thread.id=%v thread.name=%v, want a positive integer and \"goroutine <id>\"",
			what, s.Attrs[string(tracing.KeyThreadID)], name)
	}
	checkOSThread(t, what, s)
	return g
}

// checkStageThreads: a stage span (the client's four, the server's delay
// and write) carries both ids, the goroutine (thread.id), which is its
// parent's, g, and the OS thread.
func checkStageThreads(t testing.TB, what string, s *diagram.Span, g int64) {
	t.Helper()
	if got, ok := s.Attrs[string(tracing.KeyThreadID)].(int64); !ok || got != g {
		t.Errorf("%s: %s = %v, want %d, the goroutine of its parent", what, tracing.KeyThreadID, s.Attrs[string(tracing.KeyThreadID)], g)
	}
	checkOSThread(t, what, s)
}

// checkOSThread: the OS thread a span started on, and the one it ended on
// where they differ, as integers.
func checkOSThread(t testing.TB, what string, s *diagram.Span) {
	t.Helper()
	a := s.Attrs
	tid, ok := a[string(tracing.KeyOSThreadID)].(int64)
	if !ok || tid <= 0 {
		t.Errorf("%s: %s=%v, want a positive integer", what, tracing.KeyOSThreadID, a[string(tracing.KeyOSThreadID)])
	}
	if end, ok := a[string(tracing.KeyOSThreadIDEnd)]; ok {
		if e, isInt := end.(int64); !isInt || e == tid {
			t.Errorf("%s: %s = %v, want an integer other than the start thread", what, tracing.KeyOSThreadIDEnd, end)
		}
	}
}
