package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"asynctrace/internal/echotest"
	"asynctrace/internal/spantest"
	"asynctrace/scenario"
	"asynctrace/server"
	"asynctrace/tracing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// unit is small enough for a quick suite, large enough that one compute
// (4u) stands out from the noise of a busy 2-core machine.
const unit = 40 * time.Millisecond

// run is one scenario's trace, as recorded.
type run struct {
	res    Result
	spans  []sdktrace.ReadOnlySpan
	byID   map[trace.SpanID]sdktrace.ReadOnlySpan
	root   sdktrace.ReadOnlySpan
	tasks  []sdktrace.ReadOnlySpan            // task1..taskN
	stages []map[string]sdktrace.ReadOnlySpan // per task: connect, response, ready, compute
	lanes  []sdktrace.ReadOnlySpan            // OS thread lanes
}

// runScenario runs cfg against an in-process server, both recording into
// one recorder of the test's own, and collects the run's trace.
func runScenario(t *testing.T, cfg Config) run {
	t.Helper()
	rec, tp := spantest.New(t)
	if cfg.Addr == "" {
		cfg.Addr = echotest.Start(t, server.Config{Delay: scenario.ServerDelay(unit), TracerProvider: tp}).Addr
	}
	cfg.Unit, cfg.TracerProvider = unit, tp
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run(%s): %v", cfg.Scenario, err)
	}
	id, _ := trace.TraceIDFromHex(res.TraceID)
	n := res.Tasks
	// Every server span has ended once the last reply left; wait for them
	// all the same, by trace.
	spans := rec.WaitEnded(t, fmt.Sprintf("the server's %d echo spans in trace %s", n, res.TraceID), func(all []sdktrace.ReadOnlySpan) bool {
		echoes := 0
		for _, s := range all {
			if s.SpanContext().TraceID() == id && s.Name() == tracing.SpanEcho {
				echoes++
			}
		}
		return echoes == n
	})
	r := run{res: res, byID: map[trace.SpanID]sdktrace.ReadOnlySpan{}, tasks: make([]sdktrace.ReadOnlySpan, n), stages: make([]map[string]sdktrace.ReadOnlySpan, n)}
	for _, s := range spans {
		if s.SpanContext().TraceID() == id {
			r.spans = append(r.spans, s)
			r.byID[s.SpanContext().SpanID()] = s
		}
	}
	for i := range r.stages {
		r.stages[i] = map[string]sdktrace.ReadOnlySpan{}
	}
	for _, s := range r.spans {
		if !s.Parent().IsValid() {
			r.root = s
		}
	}
	if r.root == nil || r.root.Name() != tracing.ScenarioSpanName(cfg.Scenario) {
		t.Fatalf("no root span %q in %v", tracing.ScenarioSpanName(cfg.Scenario), names(r.spans))
	}
	for _, s := range r.spans {
		parent := r.byID[s.Parent().SpanID()]
		switch {
		case parent == r.root && strings.HasPrefix(s.Name(), tracing.ThreadLaneSpanPrefix):
			r.lanes = append(r.lanes, s)
		case parent == r.root:
			i, err := scenario.ParseTaskLabel(s.Name())
			if err != nil || i > n || r.tasks[i-1] != nil {
				t.Fatalf("unexpected child of the root %q", s.Name())
			}
			r.tasks[i-1] = s
		}
	}
	for i, task := range r.tasks {
		if task == nil {
			t.Fatalf("no span task%d under the root", i+1)
		}
		for _, s := range r.spans {
			if s.Parent().SpanID() == task.SpanContext().SpanID() {
				if _, dup := r.stages[i][s.Name()]; dup {
					t.Errorf("task%d has two %s spans", i+1, s.Name())
				}
				r.stages[i][s.Name()] = s
			}
		}
	}
	return r
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var n []string
	for _, s := range spans {
		n = append(n, s.Name())
	}
	slices.Sort(n)
	return n
}

var attrs = spantest.Attrs

func osThread(s sdktrace.ReadOnlySpan) int64 {
	id, _ := attrs(s)[string(tracing.KeyOSThreadID)].(int64)
	return id
}

// checkTrace asserts what every scenario's trace must show.
func checkTrace(t *testing.T, r run) {
	t.Helper()
	res := r.res
	root := attrs(r.root)
	for k, want := range map[string]any{
		string(tracing.KeyScenario):    string(res.Scenario),
		string(tracing.KeyTasks):       int64(res.Tasks),
		string(tracing.KeyGOMAXPROCS):  int64(res.GOMAXPROCS),
		string(tracing.KeyCompute):     string(res.Compute),
		string(tracing.KeyUnitMS):      float64(unit.Milliseconds()),
		string(tracing.KeyExpectedMS):  ms(res.Expected),
		string(tracing.KeyReadyMS):     ms(res.Ready),
		string(tracing.KeyThreadLanes): int64(len(r.lanes)),
	} {
		if root[k] != want {
			t.Errorf("root %s = %v, want %v", k, root[k], want)
		}
	}
	for _, k := range []string{string(tracing.KeyPeakOSThreads), string(tracing.KeyPeakGoroutines), string(tracing.KeyMakespanMS)} {
		if v, ok := root[k]; !ok || v == int64(0) {
			t.Errorf("root %s = %v, want a measurement", k, v)
		}
	}

	// Makespan near the formula: never below it (every wait is at least its
	// length), and within a tolerance that a busy 2-core machine keeps.
	tol := 50*time.Millisecond + res.Expected/10
	if res.Makespan < res.Expected-2*time.Millisecond || res.Makespan > res.Expected+tol {
		t.Errorf("%s makespan %v, want %v (%s) within -2ms/+%v", res.Scenario, res.Makespan, res.Expected, res.Formula, tol)
	}
	if got := r.root.EndTime().Sub(r.root.StartTime()); got != res.Makespan {
		t.Errorf("root span lasts %v, makespan says %v", got, res.Makespan)
	}

	// No span starts before, or ends after, its parent: in one process,
	// and across the two, on one clock.
	for _, s := range r.spans {
		p, ok := r.byID[s.Parent().SpanID()]
		if !ok {
			continue
		}
		if s.StartTime().Before(p.StartTime()) || s.EndTime().After(p.EndTime()) {
			t.Errorf("%s [%v, %v] is not within its parent %s [%v, %v]", s.Name(),
				s.StartTime().Sub(r.root.StartTime()), s.EndTime().Sub(r.root.StartTime()),
				p.Name(), p.StartTime().Sub(r.root.StartTime()), p.EndTime().Sub(r.root.StartTime()))
		}
	}

	for i, task := range r.tasks {
		label := scenario.TaskLabel(i + 1)
		checkThreadAttrs(t, task)
		ta := attrs(task)
		if ta[string(tracing.KeyTask)] != label || ta[string(tracing.KeyLockedThread)] != res.Scenario.Locked() {
			t.Errorf("%s attributes %v", label, ta)
		}
		if i > 0 && task.StartTime().Before(r.tasks[i-1].StartTime()) {
			t.Errorf("%s starts before %s: Jaeger would list it first", label, r.tasks[i-1].Name())
		}
		var prev sdktrace.ReadOnlySpan
		for _, st := range scenario.Stages {
			s := r.stages[i][string(st)]
			if s == nil {
				t.Errorf("%s has no %s span", label, st)
				continue
			}
			checkThreadAttrs(t, s)
			if attrs(s)[string(tracing.KeyThreadID)] != ta[string(tracing.KeyThreadID)] {
				t.Errorf("%s/%s on another goroutine than its task", label, st)
			}
			if prev != nil && s.StartTime().Before(prev.EndTime()) {
				t.Errorf("%s: %s starts %v before %s ends", label, st, prev.EndTime().Sub(s.StartTime()), prev.Name())
			}
			prev = s
		}
		for _, ev := range []string{tracing.EventStarted, tracing.EventWritten, tracing.EventRead, tracing.EventFinished} {
			if !slices.ContainsFunc(task.Events(), func(e sdktrace.Event) bool { return e.Name == ev }) {
				t.Errorf("%s has no event %q", label, ev)
			}
		}
		checkEcho(t, r, label, r.stages[i][tracing.SpanResponse])
	}
	checkLanes(t, r)
	exp := res.Timeline.Expect()
	exp.Tolerance = float64(tol) / float64(res.Expected)
	if checks := res.Timeline.Verify(exp); !scenario.Passed(checks) {
		t.Errorf("the run's own timeline fails its checks: %v", checks)
	}
}

// checkEcho: the server's echo span continues the response span, in this
// trace, with delay and write under it.
func checkEcho(t *testing.T, r run, label string, resp sdktrace.ReadOnlySpan) {
	t.Helper()
	if resp == nil {
		return
	}
	if resp.SpanKind() != trace.SpanKindClient {
		t.Errorf("%s/response kind %v, want client", label, resp.SpanKind())
	}
	if how := attrs(resp)[string(tracing.KeyArrival)]; how != tracing.TimeKernel {
		t.Errorf("%s/response %s = %v, want %s: the kernel timestamps loopback data", label, tracing.KeyArrival, how, tracing.TimeKernel)
	}
	var echo sdktrace.ReadOnlySpan
	for _, s := range r.spans {
		if s.Name() == tracing.SpanEcho && s.Parent().SpanID() == resp.SpanContext().SpanID() {
			echo = s
		}
	}
	if echo == nil {
		t.Errorf("%s/response has no server echo span as child", label)
		return
	}
	if ea := attrs(echo); ea[string(tracing.KeyPreamble)] != tracing.PreambleTraced || ea[string(tracing.KeyEchoBytes)] != int64(len(label)) {
		t.Errorf("%s echo attributes %v", label, ea)
	}
	var kids []sdktrace.ReadOnlySpan
	for _, s := range r.spans {
		if s.Parent().SpanID() == echo.SpanContext().SpanID() {
			kids = append(kids, s)
		}
	}
	if got := names(kids); !slices.Equal(got, []string{tracing.SpanDelay, tracing.SpanWrite}) {
		t.Errorf("%s echo children %v, want delay and write", label, got)
	}
	// The server holds the request 8u: echo and response both about 8u.
	// In-process, under GOMAXPROCS=1 with hold, a compute that holds the
	// only P stops the server's goroutines too, and a reply can leave up to
	// 4u late: only the lower bound holds then (the end-to-end suite runs
	// the server as its own process).
	shared := r.res.GOMAXPROCS == 1 && r.res.Compute == scenario.Hold
	for _, s := range []sdktrace.ReadOnlySpan{echo, resp} {
		if d := s.EndTime().Sub(s.StartTime()); d < 8*unit || !shared && d > 8*unit+unit/2+20*time.Millisecond {
			t.Errorf("%s/%s lasts %v, want about 8u = %v", label, s.Name(), d, 8*unit)
		}
	}
}

// checkLanes: one lane span per OS thread that held a stage, named for it;
// under it, a span per stage it held, linked to that stage's span, timed
// as it.
func checkLanes(t *testing.T, r run) {
	t.Helper()
	// A sleeping compute holds no thread: unlocked, it makes no lane.
	wantSome := r.res.Compute != scenario.Sleep || r.res.Scenario.Locked()
	if len(r.lanes) != r.res.ThreadLanes || wantSome != (len(r.lanes) > 0) {
		t.Errorf("%d lane spans, the result says %d; compute %s", len(r.lanes), r.res.ThreadLanes, r.res.Compute)
	}
	for _, lane := range r.lanes {
		tid := osThread(lane)
		if lane.Name() != tracing.ThreadLaneSpanName(tid) {
			t.Errorf("lane %q carries OS thread %d", lane.Name(), tid)
		}
		kids := 0
		for _, s := range r.spans {
			if s.Parent().SpanID() != lane.SpanContext().SpanID() {
				continue
			}
			kids++
			if len(s.Links()) != 1 {
				t.Errorf("%s/%s has %d links, want 1", lane.Name(), s.Name(), len(s.Links()))
				continue
			}
			target, ok := r.byID[s.Links()[0].SpanContext.SpanID()]
			if !ok {
				t.Errorf("%s/%s links to a span not in the trace", lane.Name(), s.Name())
				continue
			}
			task := r.byID[target.Parent().SpanID()]
			i, _ := scenario.ParseTaskLabel(task.Name())
			if s.Name() != tracing.LaneStageSpanName(i, scenario.Stage(target.Name())) ||
				!s.StartTime().Equal(target.StartTime()) || !s.EndTime().Equal(target.EndTime()) {
				t.Errorf("%s/%s links to %s/%s [%v, %v], timed [%v, %v]", lane.Name(), s.Name(), task.Name(), target.Name(),
					target.StartTime(), target.EndTime(), s.StartTime(), s.EndTime())
			}
			if osThread(target) != tid || !scenario.HoldsThread(scenario.Stage(target.Name()), r.res.Scenario.Locked(), r.res.Compute) {
				t.Errorf("%s holds %s/%s, which started on OS thread %d", lane.Name(), task.Name(), target.Name(), osThread(target))
			}
		}
		if kids == 0 {
			t.Errorf("%s holds no stage", lane.Name())
		}
	}
}

func checkThreadAttrs(t *testing.T, s sdktrace.ReadOnlySpan) {
	t.Helper()
	a := attrs(s)
	g, ok1 := a[string(tracing.KeyThreadID)].(int64)
	name, ok2 := a[string(tracing.KeyThreadName)].(string)
	tid, ok3 := a[string(tracing.KeyOSThreadID)].(int64)
	if !ok1 || !ok2 || !ok3 || g <= 0 || tid <= 0 || name != fmt.Sprintf("goroutine %d", g) {
		t.Errorf("%s thread attributes: thread.id=%v thread.name=%v os_thread.id=%v", s.Name(), a[string(tracing.KeyThreadID)], a[string(tracing.KeyThreadName)], a[string(tracing.KeyOSThreadID)])
	}
	if end, ok := a[string(tracing.KeyOSThreadIDEnd)]; ok && end == tid {
		t.Errorf("%s: %s = %v, equal to the start thread", s.Name(), tracing.KeyOSThreadIDEnd, end)
	}
}

func readyTotal(r run) time.Duration {
	var sum time.Duration
	for _, st := range r.stages {
		if s := st[tracing.SpanReady]; s != nil {
			sum += s.EndTime().Sub(s.StartTime())
		}
	}
	return sum
}

// checkReady: the ready spans add up to want, the formula's figure for
// replies that all arrive at c+w; where the machine delayed one, to what
// the model predicts for the arrivals measured. Each task's ready is at
// most 0.1u more than predicted, plus a loaded machine's wait for a CPU.
func checkReady(t *testing.T, r run, want time.Duration) {
	t.Helper()
	var arrivals []time.Duration
	for _, st := range r.stages {
		arrivals = append(arrivals, st[tracing.SpanResponse].EndTime().Sub(r.root.StartTime()))
	}
	given, _ := r.res.Timeline.ReadyGiven(arrivals)
	if (given - want).Abs() > unit/2 {
		t.Logf("replies arrived at %v, not all at c+w: %v of ready expected instead of %v", arrivals, given, want)
		want = given
	}
	slack := 3 * (unit/10 + scenario.ReadyNoise)
	if got := readyTotal(r); (got - want).Abs() > slack {
		t.Errorf("ready spans add up to %v, want about %v (± %v)", got, want, slack)
	}
}

func TestSync(t *testing.T) {
	r := runScenario(t, Config{Scenario: scenario.Sync})
	checkTrace(t, r)
	// One goroutine, locked to one OS thread, runs every task: one lane.
	for i, s := range r.tasks[1:] {
		if osThread(s) != osThread(r.tasks[0]) || attrs(s)[string(tracing.KeyThreadID)] != attrs(r.tasks[0])[string(tracing.KeyThreadID)] {
			t.Errorf("task%d not on task1's goroutine and OS thread", i+2)
		}
	}
	if len(r.lanes) != 1 {
		t.Errorf("%d thread lanes, want 1", len(r.lanes))
	}
}

func TestSequential(t *testing.T) {
	checkTrace(t, runScenario(t, Config{Scenario: scenario.Sequential}))
}

// The article's stair: one thread lane holding the three computes one
// after another; the replies all arrive at c+w, and the tasks wait for the
// thread 0, 1 and 2 computes long: 12u of ready in all.
func TestSingleThread(t *testing.T) {
	r := runScenario(t, Config{Scenario: scenario.SingleThread})
	checkTrace(t, r)
	if r.res.GOMAXPROCS != 1 || r.res.Compute != scenario.Hold {
		t.Errorf("single-thread defaults: GOMAXPROCS=%d compute=%s, want 1, hold", r.res.GOMAXPROCS, r.res.Compute)
	}
	// The stair is checked by the run's own checks (checkTrace): the
	// computes one at a time. Usually on one lane; in one process with the
	// server, whose system calls let the runtime hand the one P to another
	// OS thread, now and then on two.
	if len(r.lanes) != 1 {
		t.Logf("%d thread lanes: the one P moved between OS threads", len(r.lanes))
	}
	checkReady(t, r, 12*unit)
}

func TestMultiThread(t *testing.T) {
	r := runScenario(t, Config{Scenario: scenario.MultiThread, Procs: 3})
	checkTrace(t, r)
	checkReady(t, r, 0)
}

// os-threads: one lane per task, each holding only that task's stages.
func TestOSThreads(t *testing.T) {
	r := runScenario(t, Config{Scenario: scenario.OSThreads})
	checkTrace(t, r)
	if len(r.lanes) != r.res.Tasks {
		t.Errorf("%d thread lanes for %d tasks, want one each", len(r.lanes), r.res.Tasks)
	}
}

// Under GOMAXPROCS=1, hold keeps the only P (computes serialise, the
// replies wait 12u in all); syscall gives it up and sleep parks (nothing
// waits).
func TestComputeModesOneP(t *testing.T) {
	for _, m := range []scenario.Compute{scenario.Syscall, scenario.Sleep} {
		r := runScenario(t, Config{Scenario: scenario.SingleThread, Compute: m, Procs: 1})
		checkTrace(t, r)
		if got, over := readyTotal(r), 3*scenario.SysmonRetake; got > 3*unit/10+over {
			t.Errorf("%s: ready spans add up to %v, want about 0 (+ up to %v for sysmon to hand over the P)", m, got, over)
		}
	}
}

// CPU work under GOMAXPROCS=1 is time-sliced: the computes interleave
// instead of forming a stair. (How long they take depends on the machine's
// other load, through the calibration: no timing is asserted.)
func TestComputeCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("spins a CPU for 12 units")
	}
	r := runScenario(t, Config{Scenario: scenario.SingleThread, Compute: scenario.CPU, Procs: 1})
	var latestStart, earliestEnd time.Time
	for i, st := range r.stages {
		c := st[tracing.SpanCompute]
		if i == 0 || c.StartTime().After(latestStart) {
			latestStart = c.StartTime()
		}
		if i == 0 || c.EndTime().Before(earliestEnd) {
			earliestEnd = c.EndTime()
		}
	}
	if !latestStart.Before(earliestEnd) {
		t.Errorf("cpu computes do not all overlap: the last starts %v after the first ends", latestStart.Sub(earliestEnd))
	}
}

func TestServerUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	rec, tp := spantest.New(t)
	res, err := Run(context.Background(), Config{Addr: addr, Scenario: scenario.MultiThread, Unit: 5 * time.Millisecond, TracerProvider: tp})
	if err == nil {
		t.Fatal("Run against a closed port: no error")
	}
	if len(res.Errors) != res.Tasks {
		t.Fatalf("errors %q, want one per task", res.Errors)
	}
	for i, e := range res.Errors {
		if want := scenario.TaskLabel(i+1) + ": connect: "; !strings.HasPrefix(e, want) || !strings.Contains(e, "refused") || strings.Contains(e, "\n") {
			t.Errorf("error %q, want one line starting %q, saying refused", e, want)
		}
	}
	id, _ := trace.TraceIDFromHex(res.TraceID)
	for _, s := range rec.Trace(id) {
		switch s.Name() {
		case tracing.SpanCompute, tracing.SpanResponse, tracing.SpanReady:
			t.Errorf("a %s span after a failed connect", s.Name())
		case tracing.SpanConnect, "task1", "task2", "task3":
			if s.Status().Code != codes.Error {
				t.Errorf("%s status %v, want error", s.Name(), s.Status())
			}
		}
	}
}

func TestRunCancelled(t *testing.T) {
	srv := echotest.Start(t, server.Config{Delay: scenario.ServerDelay(unit)})
	ctx, cancel := context.WithTimeout(context.Background(), 3*unit)
	defer cancel()
	res, err := Run(ctx, Config{Addr: srv.Addr, Scenario: scenario.MultiThread, Unit: unit})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled Run = %v, want DeadlineExceeded", err)
	}
	if res.Makespan > res.Expected {
		t.Errorf("cancelled run took %v, longer than a full one (%v)", res.Makespan, res.Expected)
	}
}

// Run sets GOMAXPROCS for its run: a second Run at the same time is
// refused, not run with the first one's setting.
func TestRunRefusesConcurrentRun(t *testing.T) {
	srv := echotest.Start(t, server.Config{Delay: scenario.ServerDelay(unit)})
	rec, tp := spantest.New(t)
	first := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), Config{Addr: srv.Addr, Scenario: scenario.MultiThread, Unit: unit, TracerProvider: tp})
		first <- err
	}()
	rec.WaitStarted(t, tracing.SpanConnect) // the first run is under way
	if _, err := Run(context.Background(), Config{Addr: srv.Addr, Scenario: scenario.SingleThread, Unit: unit}); !errors.Is(err, ErrBusy) {
		t.Errorf("second Run during the first = %v, want ErrBusy", err)
	}
	if err := <-first; err != nil {
		t.Errorf("first Run = %v", err)
	}
}

// A server whose unit is not the client's: the run says so, in the
// result and as an event on the root span.
func TestUnitMismatch(t *testing.T) {
	rec, tp := spantest.New(t)
	srv := echotest.Start(t, server.Config{Delay: scenario.ServerDelay(2 * unit)})
	res, err := Run(context.Background(), Config{Addr: srv.Addr, Scenario: scenario.MultiThread, Procs: 3, Unit: unit, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	// The server's unit is measured (80ms, or a little more on a loaded
	// machine); the fix is exact.
	if want := "start the server with -unit " + unit.String(); !strings.Contains(res.UnitMismatch, want) || !strings.Contains(res.UnitMismatch, "runs with -unit 8") {
		t.Errorf("UnitMismatch = %q, want it to name -unit 80ms or so, and say %q", res.UnitMismatch, want)
	}
	var b strings.Builder
	res.WriteSummary(&b, "")
	if !strings.Contains(b.String(), "warning: the server held requests") {
		t.Errorf("summary does not warn:\n%s", b.String())
	}
	id, _ := trace.TraceIDFromHex(res.TraceID)
	found := false
	for _, s := range rec.Trace(id) {
		if !s.Parent().IsValid() {
			found = slices.ContainsFunc(s.Events(), func(e sdktrace.Event) bool { return e.Name == tracing.EventUnitMismatch })
		}
	}
	if !found {
		t.Error("no unit mismatch event on the root span")
	}
}

// A run of 1,000 tasks, cancelled while they wait for the server: Run
// returns within 2s, every task's error says why, and no goroutine is
// left (goleak, at the end of the tests).
func TestRunCancelledAtScale(t *testing.T) {
	const n, u = 1000, 100 * time.Millisecond
	srv := echotest.Start(t, server.Config{Delay: scenario.ServerDelay(u)})
	rec, tp := spantest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	var res Result
	var err error
	go func() {
		defer close(done)
		res, err = Run(ctx, Config{Addr: srv.Addr, Scenario: scenario.MultiThread, Tasks: n, Compute: scenario.Sleep, Unit: u, TracerProvider: tp})
	}()
	// Cancel once every task waits for its echo.
	rec.WaitEnded(t, "every connect span", func(spans []sdktrace.ReadOnlySpan) bool {
		c := 0
		for _, s := range spans {
			if s.Name() == tracing.SpanConnect {
				c++
			}
		}
		return c == n
	})
	t0 := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run still running 10s after its context was cancelled")
	}
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("Run returned %v after cancellation, want within 2s", took)
	}
	if !errors.Is(err, context.Canceled) || len(res.Errors) != n {
		t.Errorf("cancelled Run: %d errors, %v; want %d, context canceled", len(res.Errors), err, n)
	}
}
