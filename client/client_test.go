package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"asynctrace/diagram"
	"asynctrace/internal/echotest"
	"asynctrace/internal/spantest"
	"asynctrace/internal/tracetest"
	"asynctrace/scenario"
	"asynctrace/server"
	"asynctrace/tracing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// unit is small enough for a quick suite, large enough that one compute
// (4u) stands out from the noise of a busy 2-core machine.
const unit = 40 * time.Millisecond

// run is one scenario's result and its trace, checked against the
// contract (internal/tracetest) as it was recorded.
type run struct {
	res Result
	*tracetest.Trace
}

// runScenario runs cfg against an in-process server, both recording into
// one recorder of the test's own, and checks the run's trace against the
// contract: the same checker the end-to-end tests run on Jaeger's copy.
func runScenario(t *testing.T, cfg Config) run {
	t.Helper()
	rec, _ := spantest.New(t)
	if cfg.Addr == "" {
		cfg.Addr = echotest.Start(t, server.Config{Delay: scenario.ServerDelay(unit), TracerProvider: rec.Provider(t, tracing.ServerService)}).Addr
	}
	service := tracing.ClientService
	if cfg.Runtime == scenario.Tokio {
		service = tracing.TokioClientService
	}
	cfg.Unit, cfg.TracerProvider = unit, rec.Provider(t, service)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run(%s): %v", cfg.Scenario, err)
	}
	id, _ := trace.TraceIDFromHex(res.TraceID)
	n := res.Tasks
	// Every server span has ended once the last reply left; wait for them
	// all the same, by trace.
	rec.WaitEnded(t, fmt.Sprintf("the server's %d echo spans in trace %s", n, res.TraceID), func(all []sdktrace.ReadOnlySpan) bool {
		echoes := 0
		for _, s := range all {
			if s.SpanContext().TraceID() == id && s.Name() == tracing.SpanEcho {
				echoes++
			}
		}
		return echoes == n
	})
	// In one process under one P, a compute that keeps the P also holds
	// up the server's goroutines, and a reply can leave up to 4u late:
	// only the echo's lower bound holds then (the end-to-end suite runs
	// the server as its own process).
	over := unit/2 + 20*time.Millisecond
	if res.GOMAXPROCS == 1 && (res.Compute == scenario.Hold || res.Compute == scenario.CPU) {
		over = 0
	}
	tr := tracetest.Check(t, diagram.FromSDK(rec.Trace(id)), tracetest.Want{
		Runtime: res.Runtime, Scenario: res.Scenario, Tasks: n, Compute: res.Compute, Unit: unit, EchoOver: over,
	})
	return run{res: res, Trace: tr}
}

// checkTrace asserts what the client's result says about its own trace:
// the root's figures are the result's, the makespan is near the formula,
// and the run's own timeline passes its checks.
func checkTrace(t *testing.T, r run) {
	t.Helper()
	res := r.res
	root := r.Root.Attrs
	for k, want := range map[string]any{
		string(tracing.KeyGOMAXPROCS):  int64(res.GOMAXPROCS),
		string(tracing.KeyCompute):     string(res.Compute),
		string(tracing.KeyUnitMS):      float64(unit.Milliseconds()),
		string(tracing.KeyExpectedMS):  scenario.MS(res.Expected),
		string(tracing.KeyReadyMS):     scenario.MS(res.Ready),
		string(tracing.KeyThreadLanes): int64(res.ThreadLanes),
	} {
		if root[k] != want {
			t.Errorf("root %s = %v, want %v", k, root[k], want)
		}
	}
	measured := []string{string(tracing.KeyMakespanMS)}
	if res.Runtime == scenario.Go {
		measured = append(measured, string(tracing.KeyPeakOSThreads), string(tracing.KeyPeakGoroutines))
	}
	for _, k := range measured {
		if v := root[k]; v == int64(0) || v == 0.0 {
			t.Errorf("root %s = %v, want a measurement", k, v)
		}
	}

	// Makespan near the formula: never below it (every wait is at least its
	// length), and within a tolerance that a busy 2-core machine keeps.
	tol := 50*time.Millisecond + res.Expected/10
	if res.Makespan < res.Expected-2*time.Millisecond || res.Makespan > res.Expected+tol {
		t.Errorf("%s makespan %v, want %v (%s) within -2ms/+%v", res.Scenario, res.Makespan, res.Expected, res.Formula, tol)
	}
	// The spans' times are read on the wall clock, the makespan on the
	// monotonic one: they may differ by a few hundred nanoseconds.
	if got := r.Makespan(); (got - res.Makespan).Abs() > 10*time.Microsecond {
		t.Errorf("root span lasts %v, makespan says %v", got, res.Makespan)
	}
	exp := res.Timeline.Expect()
	exp.Tolerance = float64(tol) / float64(res.Expected)
	if checks := res.Timeline.Verify(exp); !scenario.Passed(checks) {
		t.Errorf("the run's own timeline fails its checks: %v", checks)
	}
}

// osThread is the OS thread a span started on.
func osThread(s *diagram.Span) int64 {
	id, _ := s.Attrs[string(tracing.KeyOSThreadID)].(int64)
	return id
}

// checkReady: the ready spans add up to want, the formula's figure for
// replies that all arrive at c+w; where the machine delayed one, to what
// the model predicts for the arrivals measured. Each task's ready is at
// most 0.1u more than predicted, plus a loaded machine's wait for a CPU.
func checkReady(t *testing.T, r run, want time.Duration) {
	t.Helper()
	arrivals := r.Arrivals()
	given, _ := r.res.Timeline.ReadyGiven(arrivals)
	if (given - want).Abs() > unit/2 {
		t.Logf("replies arrived at %v, not all at c+w: %v of ready expected instead of %v", arrivals, given, want)
		want = given
	}
	slack := 3 * (unit/10 + scenario.ReadyNoise)
	if got := r.Ready(); (got - want).Abs() > slack {
		t.Errorf("ready spans add up to %v, want about %v (± %v)", got, want, slack)
	}
}

func TestSync(t *testing.T) {
	r := runScenario(t, Config{Scenario: scenario.Sync})
	checkTrace(t, r)
	// One goroutine, locked to one OS thread, runs every task: one lane.
	for i, s := range r.Tasks[1:] {
		if osThread(s) != osThread(r.Tasks[0]) || s.Attrs[string(tracing.KeyThreadID)] != r.Tasks[0].Attrs[string(tracing.KeyThreadID)] {
			t.Errorf("task%d not on task1's goroutine and OS thread", i+2)
		}
	}
	if len(r.Lanes) != 1 {
		t.Errorf("%d thread lanes, want 1", len(r.Lanes))
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
	// The stair, on the thread lanes: the three computes one at a time,
	// however many OS threads the one P ran on. Usually one lane; in one
	// process with the server, whose system calls let the runtime hand the
	// one P to another OS thread, now and then two; never more than a
	// lane a compute.
	if len(r.Lanes) < 1 || len(r.Lanes) > 3 {
		t.Errorf("%d thread lanes, want 1 to 3 (one P, three computes)", len(r.Lanes))
	} else if len(r.Lanes) > 1 {
		t.Logf("%d thread lanes: the one P moved between OS threads", len(r.Lanes))
	}
	var held []*diagram.Span
	for _, lane := range r.Lanes {
		held = append(held, r.Held[lane.ID]...)
	}
	slices.SortFunc(held, func(a, b *diagram.Span) int { return a.Start.Compare(b.Start) })
	if len(held) != 3 {
		t.Errorf("%d stages held a thread, want the 3 computes", len(held))
	}
	for i := 1; i < len(held); i++ {
		if held[i].Start.Before(held[i-1].End) {
			t.Errorf("%s starts %v before %s ends: two computes at once on one P", held[i].Name, held[i-1].End.Sub(held[i].Start), held[i-1].Name)
		}
	}
	checkReady(t, r, 12*unit)
}

// Who made each task wait (#26): under one P, the tasks that waited 4u
// and 8u name the computes that held the thread, their ready spans link
// to those computes, and the summary says it a line a task.
func TestWaitsSingleThread(t *testing.T) {
	r := runScenario(t, Config{Scenario: scenario.SingleThread})
	checkWaits(t, r, map[int]int{1: 1, 2: 2})
}

// At P = 2, three tasks: two compute at once, the third waits for one of
// them, and names the other as holding the other P.
func TestWaitsMultiThreadTwoP(t *testing.T) {
	r := runScenario(t, Config{Scenario: scenario.MultiThread, Procs: 2})
	checkWaits(t, r, map[int]int{1: 2})
}

// checkWaits: the result's waits of u/2 or more, shortest first, are as
// many as want has, the k-th's ready span with want[k] links (1-based),
// each with its line (the summary's, clientcmd's) and on its span,
// explained within 0.1u.
func checkWaits(t *testing.T, r run, want map[int]int) {
	t.Helper()
	long := slices.DeleteFunc(slices.Clone(r.res.Waits), func(w Wait) bool { return w.ReadyMS < float64(unit/2)/float64(time.Millisecond) })
	slices.SortFunc(long, func(a, b Wait) int { return cmp.Compare(a.ReadyMS, b.ReadyMS) })
	if len(long) != len(want) {
		t.Fatalf("%d waits of at least u/2: %+v; want %d", len(long), r.res.Waits, len(want))
	}
	for rank, w := range long {
		if w.Line == "" {
			t.Errorf("task%d's wait has no line for the summary", w.Task)
		}
		if w.UnexplainedMS > float64(unit/10)/float64(time.Millisecond)+scenario.MS(scenario.ReadyNoise) {
			t.Errorf("%s: %.1fms unexplained", w.Line, w.UnexplainedMS)
		}
		ready := r.Stages[w.Task-1][scenario.StageReady]
		if got := len(ready.Links); got != want[rank+1] {
			t.Errorf("task%d's ready span has %d links, want %d (%s)", w.Task, got, want[rank+1], w.Line)
		}
		if ready.Attrs[string(tracing.KeyWait)] != w.Line {
			t.Errorf("task%d's ready span says %v, the result %q", w.Task, ready.Attrs[string(tracing.KeyWait)], w.Line)
		}
	}
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
	if len(r.Lanes) != r.res.Tasks {
		t.Errorf("%d thread lanes for %d tasks, want one each", len(r.Lanes), r.res.Tasks)
	}
}

// Under GOMAXPROCS=1, hold keeps the only P (computes serialise, the
// replies wait 12u in all); syscall gives it up and sleep parks (nothing
// waits).
func TestComputeModesOneP(t *testing.T) {
	for _, m := range []scenario.Compute{scenario.Syscall, scenario.Sleep} {
		r := runScenario(t, Config{Scenario: scenario.SingleThread, Compute: m, Procs: 1})
		checkTrace(t, r)
		if got, over := r.Ready(), 3*scenario.SysmonRetake; got > 3*unit/10+over {
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
	for i, st := range r.Stages {
		c := st[scenario.StageCompute]
		if i == 0 || c.Start.After(latestStart) {
			latestStart = c.Start
		}
		if i == 0 || c.End.Before(earliestEnd) {
			earliestEnd = c.End
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

// A run cancelled at 3u, while its tasks wait for their echoes (due at
// c+w = 10u), ends then: before any echo could have come, every task
// failed as cancelled.
func TestRunCancelled(t *testing.T) {
	const u = 200 * time.Millisecond // 10u - 3u = 1.4 s for a busy machine
	srv := echotest.Start(t, server.Config{Delay: scenario.ServerDelay(u)})
	ctx, cancel := context.WithTimeout(context.Background(), 3*u)
	defer cancel()
	res, err := Run(ctx, Config{Addr: srv.Addr, Scenario: scenario.MultiThread, Unit: u})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled Run = %v, want DeadlineExceeded", err)
	}
	if echo := (scenario.ConnectUnits + scenario.DelayUnits) * u; res.Makespan >= echo {
		t.Errorf("cancelled at 3u, the run took %v: not before the echoes were due (%v)", res.Makespan, echo)
	}
	if len(res.Errors) != res.Tasks || res.Failures["response: cancelled"] != res.Tasks {
		t.Errorf("cancelled at 3u: errors %q, failures %v; want every task's response cancelled", res.Errors, res.Failures)
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
	if want := "the client's " + unit.String(); !strings.Contains(res.UnitMismatch, want) || !strings.Contains(res.UnitMismatch, "its unit is 8") {
		t.Errorf("UnitMismatch = %q, want it to name the server's unit, 80ms or so, and say %q", res.UnitMismatch, want)
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

// A run of 1,000 tasks, cancelled while they wait for a server that
// holds them a minute: Run returns long before the echoes were due (a
// loaded machine gets 20 s), every task's error says why, and no
// goroutine is left (goleak, at the end of the tests).
func TestRunCancelledAtScale(t *testing.T) {
	const n, u, hold = 1000, 100 * time.Millisecond, time.Minute
	srv := echotest.Start(t, server.Config{Delay: hold})
	defer func() { // cut the held connections short: the test's cleanup waits 5 s at most
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		srv.Shutdown(ctx)
	}()
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
	if took := time.Since(t0); took > 20*time.Second {
		t.Errorf("Run returned %v after cancellation, want long before its echoes were due (%v)", took, hold)
	}
	if !errors.Is(err, context.Canceled) || len(res.Errors) != n {
		t.Errorf("cancelled Run: %d errors, %v; want %d, context canceled", len(res.Errors), err, n)
	}
}

// needPeer is the directory of the article's Tokio programs
// (scripts/build-peer; $ASYNCTRACE_TOKIO_PEER), or the test skips, saying
// how to build them; where ASYNCTRACE_REQUIRE_PEER is set (CI), it fails.
func needPeer(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ASYNCTRACE_TOKIO_PEER")
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "client_single")); err == nil {
			return dir
		}
	}
	msg := "no Tokio programs: scripts/build-peer builds peers/tokio with cargo; set ASYNCTRACE_TOKIO_PEER to its output"
	if os.Getenv("ASYNCTRACE_REQUIRE_PEER") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// The article's single-thread program, recorded and traced: the
// contract's tree from service tokio-client, under the trace id it sent
// the in-process server (whose echoes nest in its responses), one lane,
// and the stair's 12u of ready, each wait explained by the computes on
// its one worker.
func TestTokioSingleThread(t *testing.T) {
	r := runScenario(t, Config{Scenario: scenario.SingleThread, Runtime: scenario.Tokio, PeerDir: needPeer(t)})
	checkTrace(t, r)
	if r.res.Runtime != scenario.Tokio || r.res.RuntimeVersion == "" || r.Root.Attrs[string(tracing.KeyRuntime)] != "tokio" {
		t.Errorf("runtime %q %q, root says %v; want tokio and its version", r.res.Runtime, r.res.RuntimeVersion, r.Root.Attrs[string(tracing.KeyRuntime)])
	}
	if len(r.Lanes) != 1 {
		t.Errorf("%d thread lanes, want Tokio's one worker", len(r.Lanes))
	}
	checkReady(t, r, 12*unit)
	checkWaits(t, r, map[int]int{1: 1, 2: 2})
}

// A Tokio run with no program where it looks says which, as an error the
// command can turn into what to do.
func TestTokioMissingProgram(t *testing.T) {
	_, err := Run(context.Background(), Config{Scenario: scenario.Sync, Runtime: scenario.Tokio, PeerDir: t.TempDir(), Addr: "127.0.0.1:1"})
	var missing *PeerMissingError
	if !errors.As(err, &missing) || !strings.HasSuffix(missing.Path, "client_sync") {
		t.Errorf("Run with an empty PeerDir: %v, want a PeerMissingError naming client_sync", err)
	}
}
