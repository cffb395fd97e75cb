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
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"asynctrace/server"
	"asynctrace/tracing"
)

var recorder = tracetest.NewSpanRecorder()

func TestMain(m *testing.M) {
	tracing.SetGlobal(tracing.NewTracerProvider(sdktrace.WithSpanProcessor(recorder)))
	goleak.VerifyTestMain(m)
}

// unit is small enough for a quick suite, large enough that one compute
// (4u) stands out from the noise of a busy 2-core machine.
const unit = 40 * time.Millisecond

// newLocalServer serves the echo server in-process on a free loopback port.
func newLocalServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{Delay: ServerDelay(unit)})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server Shutdown: %v", err)
		}
		<-served
	})
	return ln.Addr().String()
}

// run is one scenario's trace, as recorded.
type run struct {
	res    Result
	root   sdktrace.ReadOnlySpan
	tasks  []sdktrace.ReadOnlySpan                  // task1..taskN
	stages []map[string]sdktrace.ReadOnlySpan       // per task: connect, response, compute
	echoes map[trace.SpanID]sdktrace.ReadOnlySpan   // by parent (a response span)
	server map[trace.SpanID][]sdktrace.ReadOnlySpan // delay and write, by parent echo
}

// runScenario runs cfg against a fresh in-process server and collects its
// trace, client and server spans, from the in-memory recorder.
func runScenario(t *testing.T, cfg Config) run {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = newLocalServer(t)
	}
	cfg.Unit = unit
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run(%s): %v", cfg.Scenario, err)
	}
	r := run{res: res, echoes: map[trace.SpanID]sdktrace.ReadOnlySpan{}, server: map[trace.SpanID][]sdktrace.ReadOnlySpan{}}
	// The server ends its spans once the client has closed: wait for them.
	var spans []sdktrace.ReadOnlySpan
	want := 1 + 4*res.Tasks + 3*res.Tasks
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		spans = spans[:0]
		for _, s := range recorder.Ended() {
			if s.SpanContext().TraceID().String() == res.TraceID {
				spans = append(spans, s)
			}
		}
		if len(spans) >= want || time.Now().After(deadline) {
			break
		}
	}
	if len(spans) != want {
		t.Fatalf("trace %s has %d spans, want %d: %v", res.TraceID, len(spans), want, names(spans))
	}

	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
		if s.Name() == tracing.ScenarioSpanName(string(cfg.Scenario)) {
			r.root = s
		}
	}
	if r.root == nil || r.root.Parent().IsValid() {
		t.Fatalf("no root span %q in %v", tracing.ScenarioSpanName(string(cfg.Scenario)), names(spans))
	}
	r.tasks = make([]sdktrace.ReadOnlySpan, res.Tasks)
	r.stages = make([]map[string]sdktrace.ReadOnlySpan, res.Tasks)
	for i := range res.Tasks {
		r.stages[i] = map[string]sdktrace.ReadOnlySpan{}
	}
	for _, s := range spans {
		parent := byID[s.Parent().SpanID()]
		switch {
		case s == r.root:
		case strings.HasPrefix(s.Name(), "task") && parent == r.root:
			var i int
			fmt.Sscanf(s.Name(), "task%d", &i)
			if i < 1 || i > res.Tasks || r.tasks[i-1] != nil {
				t.Fatalf("unexpected task span %q", s.Name())
			}
			r.tasks[i-1] = s
		case s.Name() == tracing.SpanEcho:
			if _, dup := r.echoes[s.Parent().SpanID()]; dup {
				t.Errorf("two echo spans under span %v", s.Parent().SpanID())
			}
			r.echoes[s.Parent().SpanID()] = s
		case s.Name() == tracing.SpanDelay || s.Name() == tracing.SpanWrite:
			r.server[s.Parent().SpanID()] = append(r.server[s.Parent().SpanID()], s)
		}
	}
	for i, task := range r.tasks {
		if task == nil {
			t.Fatalf("no span task%d under the root", i+1)
		}
	}
	for _, s := range spans {
		for i, task := range r.tasks {
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

func attrs(s sdktrace.ReadOnlySpan) map[string]any {
	m := map[string]any{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}

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
		string(tracing.KeyScenario):   string(res.Scenario),
		string(tracing.KeyTasks):      int64(res.Tasks),
		string(tracing.KeyGOMAXPROCS): int64(res.GOMAXPROCS),
		string(tracing.KeyCompute):    string(res.Compute),
		string(tracing.KeyUnitMS):     float64(unit.Milliseconds()),
		string(tracing.KeyExpectedMS): ms(res.Expected),
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

	for i, task := range r.tasks {
		label := tracing.TaskLabel(i + 1)
		checkThreadAttrs(t, task)
		ta := attrs(task)
		if ta[string(tracing.KeyTask)] != label || ta[string(tracing.KeyLockedThread)] != res.Scenario.locked() {
			t.Errorf("%s attributes %v", label, ta)
		}
		var prev sdktrace.ReadOnlySpan
		for _, name := range []string{tracing.SpanConnect, tracing.SpanResponse, tracing.SpanCompute} {
			s := r.stages[i][name]
			if s == nil {
				t.Errorf("%s has no %s span", label, name)
				continue
			}
			checkThreadAttrs(t, s)
			if attrs(s)[string(tracing.KeyThreadID)] != ta[string(tracing.KeyThreadID)] {
				t.Errorf("%s/%s on another goroutine than its task", label, name)
			}
			if prev != nil && s.StartTime().Before(prev.EndTime()) {
				t.Errorf("%s: %s starts %v before %s ends", label, name, prev.EndTime().Sub(s.StartTime()), prev.Name())
			}
			if s.StartTime().Before(task.StartTime()) || s.EndTime().After(task.EndTime()) {
				t.Errorf("%s/%s is not within its task", label, name)
			}
			prev = s
		}
		for _, ev := range []string{tracing.EventStarted, tracing.EventWritten, tracing.EventRead, tracing.EventFinished} {
			if !slices.ContainsFunc(task.Events(), func(e sdktrace.Event) bool { return e.Name == ev }) {
				t.Errorf("%s has no event %q", label, ev)
			}
		}

		// The server's echo span continues the response span, in this trace.
		resp := r.stages[i][tracing.SpanResponse]
		if resp == nil {
			continue
		}
		if resp.SpanKind() != trace.SpanKindClient {
			t.Errorf("%s/response kind %v, want client", label, resp.SpanKind())
		}
		echo := r.echoes[resp.SpanContext().SpanID()]
		if echo == nil {
			t.Errorf("%s/response has no server echo span as child", label)
			continue
		}
		if ea := attrs(echo); ea[string(tracing.KeyPreamble)] != tracing.PreambleTraced || ea[string(tracing.KeyEchoBytes)] != int64(len(label)) {
			t.Errorf("%s echo attributes %v", label, ea)
		}
		if kids := names(r.server[echo.SpanContext().SpanID()]); !slices.Equal(kids, []string{tracing.SpanDelay, tracing.SpanWrite}) {
			t.Errorf("%s echo children %v, want delay and write", label, kids)
		}
		// The echo begins when the request arrives: after the response span
		// started, give or take the two processes' view of one moment.
		if echo.StartTime().Before(resp.StartTime().Add(-time.Millisecond)) || echo.StartTime().After(resp.EndTime()) {
			t.Errorf("%s echo starts at %v, response spans %v..%v", label,
				echo.StartTime().Sub(r.root.StartTime()), resp.StartTime().Sub(r.root.StartTime()), resp.EndTime().Sub(r.root.StartTime()))
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

type interval struct{ start, end time.Time }

func spanInterval(s sdktrace.ReadOnlySpan) interval { return interval{s.StartTime(), s.EndTime()} }

func overlap(a, b interval) bool { return a.start.Before(b.end) && b.start.Before(a.end) }

func stage(r run, name string) []interval {
	var out []interval
	for _, st := range r.stages {
		out = append(out, spanInterval(st[name]))
	}
	return out
}

func taskIntervals(r run) []interval {
	var out []interval
	for _, s := range r.tasks {
		out = append(out, spanInterval(s))
	}
	return out
}

func noneOverlap(t *testing.T, what string, iv []interval) {
	t.Helper()
	for i := range iv {
		for j := i + 1; j < len(iv); j++ {
			if overlap(iv[i], iv[j]) {
				t.Errorf("%s %d and %d overlap", what, i+1, j+1)
			}
		}
	}
}

// allOverlap: there is a moment when every interval is under way.
func allOverlap(t *testing.T, what string, iv []interval) {
	t.Helper()
	latestStart, earliestEnd := iv[0].start, iv[0].end
	for _, v := range iv[1:] {
		if v.start.After(latestStart) {
			latestStart = v.start
		}
		if v.end.Before(earliestEnd) {
			earliestEnd = v.end
		}
	}
	if !latestStart.Before(earliestEnd) {
		t.Errorf("%s do not all overlap: the last starts %v after the first ends", what, latestStart.Sub(earliestEnd))
	}
}

func TestSync(t *testing.T) {
	r := runScenario(t, Config{Scenario: Sync})
	checkTrace(t, r)
	noneOverlap(t, "tasks", taskIntervals(r))
	// One goroutine, locked to one OS thread, runs every task.
	for i, s := range r.tasks[1:] {
		if osThread(s) != osThread(r.tasks[0]) || attrs(s)[string(tracing.KeyThreadID)] != attrs(r.tasks[0])[string(tracing.KeyThreadID)] {
			t.Errorf("task%d not on task1's goroutine and OS thread", i+2)
		}
	}
}

func TestSequential(t *testing.T) {
	r := runScenario(t, Config{Scenario: Sequential})
	checkTrace(t, r)
	noneOverlap(t, "tasks", taskIntervals(r))
}

func TestSingleThread(t *testing.T) {
	r := runScenario(t, Config{Scenario: SingleThread})
	checkTrace(t, r)
	if r.res.GOMAXPROCS != 1 || r.res.Compute != Hold {
		t.Errorf("single-thread defaults: GOMAXPROCS=%d compute=%s, want 1, hold", r.res.GOMAXPROCS, r.res.Compute)
	}
	// The article's stair: computes one after another, on one OS thread.
	noneOverlap(t, "computes", stage(r, tracing.SpanCompute))
	first := osThread(r.stages[0][tracing.SpanCompute])
	for i, st := range r.stages {
		c := st[tracing.SpanCompute]
		if osThread(c) != first {
			t.Errorf("compute of task%d on OS thread %d, task1's on %d", i+1, osThread(c), first)
		}
		if end, ok := attrs(c)[string(tracing.KeyOSThreadIDEnd)]; ok {
			t.Errorf("compute of task%d moved to OS thread %v", i+1, end)
		}
	}
	// The connects, and the waits for the server, overlap.
	allOverlap(t, "connects", stage(r, tracing.SpanConnect))
}

func TestMultiThread(t *testing.T) {
	r := runScenario(t, Config{Scenario: MultiThread, Procs: 3})
	checkTrace(t, r)
	allOverlap(t, "computes", stage(r, tracing.SpanCompute))
}

func TestOSThreads(t *testing.T) {
	r := runScenario(t, Config{Scenario: OSThreads})
	checkTrace(t, r)
	threads := map[int64]bool{}
	for _, s := range r.tasks {
		threads[osThread(s)] = true
		for _, st := range r.stages {
			for name, s2 := range st {
				if _, moved := attrs(s2)[string(tracing.KeyOSThreadIDEnd)]; moved {
					t.Errorf("%s of a locked task moved OS thread", name)
				}
			}
		}
	}
	if len(threads) != r.res.Tasks {
		t.Errorf("%d distinct OS threads for %d tasks, want one each", len(threads), r.res.Tasks)
	}
	allOverlap(t, "computes", stage(r, tracing.SpanCompute))
}

// Under GOMAXPROCS=1, hold keeps the only P (computes serialise); syscall
// gives it up (computes overlap, new OS threads appear).
func TestComputeModesOneP(t *testing.T) {
	hold := runScenario(t, Config{Scenario: SingleThread, Compute: Hold, Procs: 1})
	checkTrace(t, hold)
	noneOverlap(t, "hold computes", stage(hold, tracing.SpanCompute))

	sys := runScenario(t, Config{Scenario: SingleThread, Compute: Syscall, Procs: 1})
	checkTrace(t, sys)
	allOverlap(t, "syscall computes", stage(sys, tracing.SpanCompute))

	sleep := runScenario(t, Config{Scenario: SingleThread, Compute: Sleep, Procs: 1})
	checkTrace(t, sleep)
	allOverlap(t, "sleep computes", stage(sleep, tracing.SpanCompute))
}

// CPU work under GOMAXPROCS=1 is time-sliced: the computes interleave
// instead of forming a stair. (How long they take depends on the machine's
// other load, through the calibration: no timing is asserted.)
func TestComputeCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("spins a CPU for 12 units")
	}
	r := runScenario(t, Config{Scenario: SingleThread, Compute: CPU, Procs: 1})
	allOverlap(t, "cpu computes", stage(r, tracing.SpanCompute))
}

func TestServerUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	res, err := Run(context.Background(), Config{Addr: addr, Scenario: MultiThread, Unit: 5 * time.Millisecond})
	if err == nil {
		t.Fatal("Run against a closed port: no error")
	}
	if len(res.Errors) != res.Tasks {
		t.Fatalf("errors %q, want one per task", res.Errors)
	}
	for i, e := range res.Errors {
		if want := tracing.TaskLabel(i+1) + ": connect: "; !strings.HasPrefix(e, want) || !strings.Contains(e, "refused") || strings.Contains(e, "\n") {
			t.Errorf("error %q, want one line starting %q, saying refused", e, want)
		}
	}
	for _, s := range recorder.Ended() {
		if s.SpanContext().TraceID().String() != res.TraceID {
			continue
		}
		switch s.Name() {
		case tracing.SpanCompute, tracing.SpanResponse:
			t.Errorf("a %s span after a failed connect", s.Name())
		case tracing.SpanConnect, "task1", "task2", "task3":
			if s.Status().Code != codes.Error {
				t.Errorf("%s status %v, want error", s.Name(), s.Status())
			}
		}
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*unit)
	defer cancel()
	res, err := Run(ctx, Config{Addr: newLocalServer(t), Scenario: MultiThread, Unit: unit})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled Run = %v, want DeadlineExceeded", err)
	}
	if res.Makespan > res.Expected {
		t.Errorf("cancelled run took %v, longer than a full one (%v)", res.Makespan, res.Expected)
	}
}
