package e2e

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"asynctrace/client"
	"asynctrace/jaeger"
	"asynctrace/scenario"
	"asynctrace/tracing"
)

func dur(s jaeger.Span) time.Duration { return time.Duration(s.Duration) * time.Microsecond }

// unit: small enough for a quick suite, large enough that one compute
// (4u = 200ms) stands far out of a busy 2-core machine's noise.
// scripts/diagrams runs the suite at u = 1s to draw the README's figures.
var unit = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("ASYNCTRACE_E2E_UNIT")); err == nil && d > 0 {
		return d
	}
	return 50 * time.Millisecond
}()

// The article's makespans in units: 42s, 42s, 22s, 14s, 14s.
var articleUnits = map[scenario.Scenario]int{
	scenario.Sync: 42, scenario.Sequential: 42, scenario.SingleThread: 22, scenario.MultiThread: 14, scenario.OSThreads: 14,
}

// startServer runs the compose file's echo-server command on a free
// loopback port, exporting to this Jaeger.
func startServer(t *testing.T, otlp map[uint32]int) (addr string, p *proc) {
	t.Helper()
	return startServerWith(t, otlp, nil)
}

// startServerWith is startServer with more flags set (or replaced).
func startServerWith(t *testing.T, otlp map[uint32]int, flags map[string]string) (addr string, p *proc) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr = "127.0.0.1:" + strconv.Itoa(port)
	set := map[string]string{"addr": addr, "unit": unit.String()}
	for k, v := range flags {
		set[k] = v
	}
	args, env := composeCommand(t, "echo-server", set, otlp)
	return addr, startUntil(t, "server", serverBin, args, env, "Server running on "+addr)
}

// startUntil starts a long-running command and waits until it prints
// ready; it is stopped with SIGTERM when the test ends.
func startUntil(t *testing.T, name, bin string, args, env []string, ready string) *proc {
	t.Helper()
	p, err := start(bin, args, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.stop(10 * time.Second) {
			t.Errorf("%s did not stop within 10s of SIGTERM", name)
		}
	})
	if !p.stdout.Await(ready, 1, 10*time.Second) {
		t.Fatalf("%s did not start: %s%s", name, p.stdout.String(), p.stderr.String())
	}
	return p
}

// clientSVGs is where the clients draw their own runs (-svg).
var clientSVGs string

// runClient runs a compose client service's command against addr and
// returns its -json result; it draws its run into clientSVGs too.
func runClient(t *testing.T, service, addr string, otlp map[uint32]int) client.Result {
	t.Helper()
	args, env := composeCommand(t, service, map[string]string{"addr": addr, "unit": unit.String()}, otlp)
	args = append(args, "-json", "-svg", clientSVGs)
	p, err := start(clientBin, args, env)
	if err != nil {
		t.Fatal(err)
	}
	if !p.wait(2 * time.Minute) {
		p.stop(time.Second)
		t.Fatalf("%s did not finish in 2 minutes", service)
	}
	if p.err != nil {
		t.Fatalf("%s %s: %v\n%s", clientBin, strings.Join(args, " "), p.err, p.stderr.String())
	}
	if strings.Contains(p.stderr.String(), "warning") {
		t.Errorf("%s warned: %s", service, p.stderr.String())
	}
	var res client.Result
	if err := json.Unmarshal([]byte(p.stdout.String()), &res); err != nil {
		t.Fatalf("%s -json output %q: %v", service, p.stdout.String(), err)
	}
	return res
}

// TestE2EScenarios runs the compose topology as processes on loopback and
// checks every scenario's trace as Jaeger returns it.
func TestE2EScenarios(t *testing.T) {
	needJaeger(t)
	otlp := jaegerd.otlpPorts()
	addr, _ := startServer(t, otlp)
	clientSVGs = t.TempDir()

	makespans := map[scenario.Scenario]time.Duration{}
	for _, sc := range scenario.All {
		t.Run(string(sc), func(t *testing.T) {
			res := runClient(t, "client-"+string(sc), addr, otlp)
			n := res.Tasks
			want := map[string][]string{
				tracing.ClientService: {tracing.ScenarioSpanName(sc)},
				tracing.ServerService: {},
			}
			for i := 1; i <= n; i++ {
				want[tracing.ClientService] = append(want[tracing.ClientService], tracing.TaskSpanName(i))
				for _, st := range scenario.Stages {
					want[tracing.ClientService] = append(want[tracing.ClientService], string(st))
				}
				want[tracing.ServerService] = append(want[tracing.ServerService], tracing.SpanEcho, tracing.SpanDelay, tracing.SpanWrite)
			}
			tr := jaegerd.awaitTrace(t, res.TraceID, want)
			v := checkJaegerTrace(t, tr, sc, n)
			makespans[sc] = dur(v.root)

			// The article's makespan, in units: never below it, and within
			// a tolerance a busy 2-core machine keeps.
			exp := time.Duration(articleUnits[sc]) * unit
			if got := dur(v.root); got < exp-2*time.Millisecond || got > exp+exp/10+50*time.Millisecond {
				t.Errorf("%s: Jaeger's root span lasts %v = %.2fu, want the article's %du (%v)", sc, got, float64(got)/float64(unit), articleUnits[sc], exp)
			}
			if d := dur(v.root) - res.Makespan; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("%s: Jaeger says %v, the client printed %v", sc, dur(v.root), res.Makespan)
			}
			checkScenarioLanes(t, sc, v, res)
			checkDiagramCommands(t, sc, res)
			t.Logf("%s: makespan %v (%.2fu; article %du), ready %v (%.2fu) in all, %d thread lane(s), %d spans from %s, %d from %s",
				sc, dur(v.root), float64(dur(v.root))/float64(unit), articleUnits[sc], v.ready, float64(v.ready)/float64(unit), len(v.lanes),
				v.count[tracing.ClientService], tracing.ClientService, v.count[tracing.ServerService], tracing.ServerService)
		})
	}
	if !t.Failed() && len(makespans) == len(scenario.All) {
		checkComposeVerify(t) // it reads the latest five traces
	}
	if len(makespans) == len(scenario.All) {
		var parts []string
		for _, sc := range scenario.All {
			parts = append(parts, fmt.Sprintf("%.2f", float64(makespans[sc])/float64(unit)))
		}
		t.Logf("makespans in units (article 42 : 42 : 22 : 14 : 14): %s", strings.Join(parts, " : "))
	}
}

// view is a checked trace.
type view struct {
	root   jaeger.Span
	byID   map[string]jaeger.Span
	tasks  []jaeger.Span
	stages []map[string]jaeger.Span
	lanes  []jaeger.Span
	ready  time.Duration  // all tasks' ready spans
	count  map[string]int // spans per service
}

// checkJaegerTrace asserts the trace contract on a trace as Jaeger has it.
func checkJaegerTrace(t *testing.T, tr *jaeger.Trace, sc scenario.Scenario, n int) view {
	t.Helper()
	v := view{count: map[string]int{}, byID: map[string]jaeger.Span{}, tasks: make([]jaeger.Span, n), stages: make([]map[string]jaeger.Span, n)}
	svc := tr.Service
	for _, s := range tr.Spans {
		v.byID[s.SpanID] = s
		v.count[svc(s)]++
		if len(s.Warnings) > 0 {
			t.Errorf("Jaeger warns about %s/%s: %q", svc(s), s.OperationName, s.Warnings)
		}
	}
	for _, s := range tr.Spans {
		if s.OperationName == tracing.ScenarioSpanName(sc) {
			v.root = s
		}
	}
	if v.root.SpanID == "" || v.root.Parent() != "" {
		t.Fatalf("no root span %q", tracing.ScenarioSpanName(sc))
	}
	for _, k := range []string{
		string(tracing.KeyScenario), string(tracing.KeyTasks), string(tracing.KeyGOMAXPROCS), string(tracing.KeyCompute),
		string(tracing.KeyUnitMS), string(tracing.KeyExpectedMS), string(tracing.KeyReadyMS), string(tracing.KeyThreadLanes),
		string(tracing.KeyPeakOSThreads), string(tracing.KeyPeakGoroutines),
	} {
		if _, ok := v.root.Tag(k); !ok {
			t.Errorf("root span has no tag %s", k)
		}
	}

	// No child span starts before its parent or ends after it (1ms slack).
	for _, s := range tr.Spans {
		p, ok := v.byID[s.Parent()]
		if !ok {
			continue
		}
		if s.StartTime < p.StartTime-1000 || s.StartTime+s.Duration > p.StartTime+p.Duration+1000 {
			t.Errorf("%s/%s [%d, %d]µs is not within its parent %s [%d, %d]µs", svc(s), s.OperationName,
				s.StartTime-v.root.StartTime, s.StartTime+s.Duration-v.root.StartTime,
				p.OperationName, p.StartTime-v.root.StartTime, p.StartTime+p.Duration-v.root.StartTime)
		}
	}

	for i := range n {
		v.stages[i] = map[string]jaeger.Span{}
	}
	for _, s := range tr.Spans {
		if s.Parent() != v.root.SpanID {
			continue
		}
		if strings.HasPrefix(s.OperationName, tracing.ThreadLaneSpanPrefix) {
			v.lanes = append(v.lanes, s)
			continue
		}
		i, err := scenario.ParseTaskLabel(s.OperationName)
		if err != nil || i > n {
			t.Errorf("unexpected child of the root: %s", s.OperationName)
			continue
		}
		v.tasks[i-1] = s
	}
	lanes := 0
	for _, l := range v.lanes {
		for _, s := range tr.Spans {
			if s.Parent() == l.SpanID {
				lanes++
			}
		}
	}
	if got, want := v.count[tracing.ClientService], 1+n+len(scenario.Stages)*n+len(v.lanes)+lanes; got != want {
		t.Errorf("%d spans from %s, want %d (1 root + %d tasks + %d stages + %d lanes holding %d stages)", got, tracing.ClientService, want, n, len(scenario.Stages)*n, len(v.lanes), lanes)
	}
	if got, want := v.count[tracing.ServerService], 3*n; got != want {
		t.Errorf("%d spans from %s, want %d", got, tracing.ServerService, want)
	}

	for i, task := range v.tasks {
		label := scenario.TaskLabel(i + 1)
		if task.SpanID == "" {
			t.Fatalf("no %s span under the root", label)
		}
		if i > 0 && task.StartTime < v.tasks[i-1].StartTime {
			t.Errorf("%s starts before %s: Jaeger lists it first", label, v.tasks[i-1].OperationName)
		}
		if tag, _ := task.Tag(string(tracing.KeyTask)); tag.Value != label {
			t.Errorf("%s: %s = %v", label, tracing.KeyTask, tag.Value)
		}
		if tag, ok := task.Tag(string(tracing.KeyLockedThread)); !ok || tag.Type != "bool" {
			t.Errorf("%s: no boolean %s", label, tracing.KeyLockedThread)
		}
		checkThreadTags(t, label, task)
		for _, s := range tr.Spans {
			if s.Parent() == task.SpanID {
				v.stages[i][s.OperationName] = s
			}
		}
		var prev jaeger.Span
		for _, st := range scenario.Stages {
			s, ok := v.stages[i][string(st)]
			if !ok {
				t.Errorf("%s has no %s span", label, st)
				continue
			}
			checkThreadTags(t, label+"/"+string(st), s)
			if prev.SpanID != "" && s.StartTime < prev.StartTime+prev.Duration-1 {
				t.Errorf("%s: %s starts before %s ends", label, st, prev.OperationName)
			}
			prev = s
		}
		v.ready += dur(v.stages[i][tracing.SpanReady])
		checkEcho(t, tr, label, v.stages[i][tracing.SpanResponse])
	}
	checkLaneSpans(t, tr, v)
	return v
}

// checkEcho: across the services, the server's echo is the response's
// child, and both last about 8u.
func checkEcho(t *testing.T, tr *jaeger.Trace, label string, resp jaeger.Span) {
	t.Helper()
	var echo jaeger.Span
	for _, s := range tr.Spans {
		if s.OperationName == tracing.SpanEcho && s.Parent() == resp.SpanID {
			echo = s
		}
	}
	if echo.SpanID == "" || tr.Service(echo) != tracing.ServerService {
		t.Errorf("%s: no %s span of %s whose parent is the response span", label, tracing.SpanEcho, tracing.ServerService)
		return
	}
	checkThreadTags(t, label+"/echo", echo)
	for _, k := range []string{string(tracing.KeyPeerAddress), string(tracing.KeyPeerPort), string(tracing.KeyEchoBytes)} {
		if _, ok := echo.Tag(k); !ok {
			t.Errorf("%s/echo has no tag %s", label, k)
		}
	}
	var kids []string
	for _, s := range tr.Spans {
		if s.Parent() == echo.SpanID {
			kids = append(kids, s.OperationName)
			checkThreadTags(t, label+"/echo/"+s.OperationName, s)
		}
	}
	slices.Sort(kids)
	if !slices.Equal(kids, []string{tracing.SpanDelay, tracing.SpanWrite}) {
		t.Errorf("%s/echo children %v, want delay and write", label, kids)
	}
	for _, s := range []jaeger.Span{echo, resp} {
		if d := dur(s); d < 8*unit || d > 8*unit+unit/2+20*time.Millisecond {
			t.Errorf("%s/%s lasts %v, want about 8u = %v", label, s.OperationName, d, 8*unit)
		}
	}
}

// checkLaneSpans: every lane child links to a stage span of the same task
// and stage, lies inside it, and holds its lane's thread by the lane rule.
func checkLaneSpans(t *testing.T, tr *jaeger.Trace, v view) {
	t.Helper()
	for _, l := range v.lanes {
		tid, _ := l.Int(string(tracing.KeyOSThreadID))
		if l.OperationName != tracing.ThreadLaneSpanName(tid) {
			t.Errorf("lane %q has %s %d", l.OperationName, tracing.KeyOSThreadID, tid)
		}
		for _, s := range tr.Spans {
			if s.Parent() != l.SpanID {
				continue
			}
			links := s.Links()
			if len(links) != 1 {
				t.Errorf("%s/%s has %d links, want 1", l.OperationName, s.OperationName, len(links))
				continue
			}
			target := v.byID[links[0]]
			task := v.byID[target.Parent()]
			i, err := scenario.ParseTaskLabel(task.OperationName)
			if err != nil || s.OperationName != tracing.LaneStageSpanName(i, scenario.Stage(target.OperationName)) {
				t.Errorf("%s/%s links to %s/%s", l.OperationName, s.OperationName, task.OperationName, target.OperationName)
			}
			if s.StartTime < target.StartTime || s.StartTime+s.Duration > target.StartTime+target.Duration {
				t.Errorf("%s/%s is not within the %s/%s span it mirrors", l.OperationName, s.OperationName, task.OperationName, target.OperationName)
			}
			locked, _ := task.Tag(string(tracing.KeyLockedThread))
			compute, _ := v.root.Tag(string(tracing.KeyCompute))
			if th, _ := target.Int(string(tracing.KeyOSThreadID)); th != tid || !scenario.HoldsThread(scenario.Stage(target.OperationName), locked.Value == true, scenario.Compute(fmt.Sprint(compute.Value))) {
				t.Errorf("%s holds %s/%s (on OS thread %d, locked %v)", l.OperationName, task.OperationName, target.OperationName, th, locked.Value)
			}
		}
	}
}

// checkScenarioLanes: what the figure must show per scenario.
func checkScenarioLanes(t *testing.T, sc scenario.Scenario, v view, res client.Result) {
	t.Helper()
	n := res.Tasks
	switch sc {
	case scenario.SingleThread:
		// The three computes in series on the one P's thread; ready adds
		// up to (0+1+2)·p = 12u. The P may move to another OS thread when
		// a goroutine blocks in a system call: then more than one lane,
		// the stair all the same (scenario's "one thread at a time").
		if len(v.lanes) != 1 {
			t.Logf("single-thread: %d thread lanes: the one P moved between OS threads", len(v.lanes))
		}
		onLane := map[string]bool{}
		for _, l := range v.lanes {
			onLane[l.SpanID] = true
		}
		var computes []jaeger.Span
		for _, s := range v.byID {
			if onLane[s.Parent()] {
				computes = append(computes, s)
			}
		}
		slices.SortFunc(computes, func(a, b jaeger.Span) int { return cmp.Compare(a.StartTime, b.StartTime) })
		if len(computes) != n {
			t.Errorf("single-thread lane holds %d stages, want the %d computes", len(computes), n)
		}
		for i, c := range computes {
			if !strings.HasSuffix(c.OperationName, " "+tracing.SpanCompute) {
				t.Errorf("single-thread lane holds %s", c.OperationName)
			}
			if i > 0 && c.StartTime < computes[i-1].StartTime+computes[i-1].Duration {
				t.Errorf("single-thread: %s starts before %s ends: no stair", c.OperationName, computes[i-1].OperationName)
			}
		}
		checkReady(t, sc, v, res, 12*unit)
	default:
		checkReady(t, sc, v, res, 0)
		for i, st := range v.stages {
			if d := dur(st[tracing.SpanReady]); d > unit/10+scenario.ReadyNoise {
				t.Errorf("%s: task%d ready %v, want under 0.1u (+%v for a loaded machine)", sc, i+1, d, scenario.ReadyNoise)
			}
		}
	}
	switch sc {
	case scenario.OSThreads:
		if len(v.lanes) != n {
			t.Errorf("os-threads: %d thread lanes, want one per task (%d)", len(v.lanes), n)
		}
		for _, l := range v.lanes {
			tasks := map[string]bool{}
			for _, s := range v.byID {
				if s.Parent() == l.SpanID {
					tag, _ := s.Tag(string(tracing.KeyTask))
					tasks[fmt.Sprint(tag.Value)] = true
				}
			}
			if len(tasks) != 1 {
				t.Errorf("os-threads: %s holds stages of %d tasks, want 1", l.OperationName, len(tasks))
			}
		}
	case scenario.Sync:
		if len(v.lanes) != 1 {
			t.Errorf("sync: %d thread lanes, want 1", len(v.lanes))
		}
	case scenario.MultiThread:
		if res.GOMAXPROCS < n {
			t.Errorf("multi-thread ran with GOMAXPROCS=%d < %d tasks: the compose file should pass -procs", res.GOMAXPROCS, n)
		}
	}
}

// checkReady: the ready spans add up to want, the formula's figure for
// replies that all arrive at c+w; where the machine delayed one, to what
// the model predicts for the arrivals measured (and the test says so).
func checkReady(t *testing.T, sc scenario.Scenario, v view, res client.Result, want time.Duration) {
	t.Helper()
	var arrivals []time.Duration
	for i, st := range v.stages {
		resp := st[tracing.SpanResponse]
		arrivals = append(arrivals, time.Duration(resp.StartTime+resp.Duration-v.root.StartTime)*time.Microsecond)
		if how, _ := resp.Tag(string(tracing.KeyArrival)); how.Value != tracing.TimeKernel {
			t.Errorf("%s: task%d response %s = %v, want %s", sc, i+1, tracing.KeyArrival, how.Value, tracing.TimeKernel)
		}
	}
	p := scenario.Params{Scenario: sc, Compute: res.Compute, N: res.Tasks, Procs: res.GOMAXPROCS, CPUs: res.NumCPU, Unit: unit}
	given, _ := p.ReadyGiven(arrivals)
	if (given - want).Abs() > unit/2 {
		t.Logf("%s: replies arrived at %v, not all at c+w: %v of ready expected instead of %v", sc, arrivals, given, want)
		want = given
	}
	if slack := time.Duration(res.Tasks) * (unit/10 + scenario.ReadyNoise); (v.ready - want).Abs() > slack {
		t.Errorf("%s: ready adds up to %v = %.2fu, want about %v (± %v)", sc, v.ready, float64(v.ready)/float64(unit), want, slack)
	}
}

// checkThreadTags: the thread attributes of the contract, as integers.
func checkThreadTags(t *testing.T, what string, s jaeger.Span) {
	t.Helper()
	g, ok1 := s.Int(string(tracing.KeyThreadID))
	tid, ok2 := s.Int(string(tracing.KeyOSThreadID))
	name, _ := s.Tag(string(tracing.KeyThreadName))
	if !ok1 || !ok2 || g <= 0 || tid <= 0 || name.Value != fmt.Sprintf("goroutine %d", g) {
		t.Errorf("%s: thread.id=%v os_thread.id=%v thread.name=%v, want positive integers and \"goroutine <id>\"", what, g, tid, name.Value)
	}
	if end, ok := s.Tag(string(tracing.KeyOSThreadIDEnd)); ok && end.Type != "int64" {
		t.Errorf("%s: %s is %s, want int64", what, tracing.KeyOSThreadIDEnd, end.Type)
	}
}
