package e2e

import (
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
var articleUnits = map[client.Scenario]int{
	client.Sync: 42, client.Sequential: 42, client.SingleThread: 22, client.MultiThread: 14, client.OSThreads: 14,
}

// startServer runs the compose file's echo-server command on a free
// loopback port, exporting to this Jaeger.
func startServer(t *testing.T, otlp map[uint32]int) (addr string, p *proc) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr = "127.0.0.1:" + strconv.Itoa(port)
	args, env := composeCommand(t, "echo-server", map[string]string{"addr": addr, "unit": unit.String()}, otlp)
	p, err = start(serverBin, args, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.stop(10 * time.Second) {
			t.Errorf("server did not stop within 10s of SIGTERM")
		}
	})
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.stdout.String(), "Server running on "+addr); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) || p.wait(0) {
			t.Fatalf("server did not start: %s%s", p.stdout.String(), p.stderr.String())
		}
	}
	return addr, p
}

// runClient runs a compose client service's command against addr and
// returns its -json result.
func runClient(t *testing.T, service, addr string, otlp map[uint32]int) client.Result {
	t.Helper()
	args, env := composeCommand(t, service, map[string]string{"addr": addr, "unit": unit.String()}, otlp)
	args = append(args, "-json")
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

	makespans := map[client.Scenario]time.Duration{}
	for _, sc := range client.Scenarios {
		t.Run(string(sc), func(t *testing.T) {
			res := runClient(t, "client-"+string(sc), addr, otlp)
			n := res.Tasks
			want := map[string][]string{
				tracing.ClientService: {tracing.ScenarioSpanName(string(sc))},
				tracing.ServerService: {},
			}
			for i := 1; i <= n; i++ {
				want[tracing.ClientService] = append(want[tracing.ClientService], tracing.TaskLabel(i), tracing.SpanConnect, tracing.SpanResponse, tracing.SpanCompute)
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

			switch sc {
			case client.SingleThread:
				checkStair(t, v)
			case client.OSThreads:
				ids := map[int64]bool{}
				for _, task := range v.tasks {
					id, _ := task.Int(string(tracing.KeyOSThreadID))
					ids[id] = true
				}
				if len(ids) != n {
					t.Errorf("os-threads: %d distinct OS threads for %d tasks: %v", len(ids), n, ids)
				}
			case client.MultiThread:
				if res.GOMAXPROCS < n {
					t.Errorf("multi-thread ran with GOMAXPROCS=%d < %d tasks: the compose file should pass -procs", res.GOMAXPROCS, n)
				}
			}
			checkDiagramCommands(t, sc, res.TraceID)
			t.Logf("%s: makespan %v (%.2fu; article %du), %d spans from %s, %d from %s",
				sc, dur(v.root), float64(dur(v.root))/float64(unit), articleUnits[sc],
				v.count[tracing.ClientService], tracing.ClientService, v.count[tracing.ServerService], tracing.ServerService)
		})
	}
	if !t.Failed() {
		checkComposeVerify(t)
	}
	if len(makespans) == len(client.Scenarios) {
		var parts []string
		for _, sc := range client.Scenarios {
			parts = append(parts, fmt.Sprintf("%.2f", float64(makespans[sc])/float64(unit)))
		}
		t.Logf("makespans in units (article 42 : 42 : 22 : 14 : 14): %s", strings.Join(parts, " : "))
	}
}

// view is a checked trace.
type view struct {
	root   jaeger.Span
	tasks  []jaeger.Span
	stages []map[string]jaeger.Span
	count  map[string]int // spans per service
}

// checkJaegerTrace asserts the trace contract on a trace as Jaeger has it.
func checkJaegerTrace(t *testing.T, tr *jaeger.Trace, sc client.Scenario, n int) view {
	t.Helper()
	v := view{count: map[string]int{}, tasks: make([]jaeger.Span, n), stages: make([]map[string]jaeger.Span, n)}
	byID := map[string]jaeger.Span{}
	svc := tr.Service
	for _, s := range tr.Spans {
		byID[s.SpanID] = s
		v.count[svc(s)]++
	}
	if got, want := v.count[tracing.ClientService], 1+n+3*n; got != want {
		t.Errorf("%d spans from %s, want %d (1 root + %d tasks + %d stages)", got, tracing.ClientService, want, n, 3*n)
	}
	if got, want := v.count[tracing.ServerService], 3*n; got != want {
		t.Errorf("%d spans from %s, want %d", got, tracing.ServerService, want)
	}
	for _, s := range tr.Spans {
		if s.OperationName == tracing.ScenarioSpanName(string(sc)) {
			v.root = s
		}
	}
	if v.root.SpanID == "" || v.root.Parent() != "" {
		t.Fatalf("no root span %q", tracing.ScenarioSpanName(string(sc)))
	}
	for _, k := range []string{
		string(tracing.KeyScenario), string(tracing.KeyTasks), string(tracing.KeyGOMAXPROCS), string(tracing.KeyCompute),
		string(tracing.KeyUnitMS), string(tracing.KeyExpectedMS), string(tracing.KeyPeakOSThreads), string(tracing.KeyPeakGoroutines),
	} {
		if _, ok := v.root.Tag(k); !ok {
			t.Errorf("root span has no tag %s", k)
		}
	}
	for i := range n {
		v.stages[i] = map[string]jaeger.Span{}
	}
	for _, s := range tr.Spans {
		p := s.Parent()
		switch {
		case p == v.root.SpanID && svc(s) == tracing.ClientService:
			i, err := strconv.Atoi(strings.TrimPrefix(s.OperationName, "task"))
			if err != nil || i < 1 || i > n {
				t.Errorf("unexpected child of the root: %s", s.OperationName)
				continue
			}
			v.tasks[i-1] = s
		}
	}
	for i, task := range v.tasks {
		label := tracing.TaskLabel(i + 1)
		if task.SpanID == "" {
			t.Fatalf("no %s span under the root", label)
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
		for _, name := range []string{tracing.SpanConnect, tracing.SpanResponse, tracing.SpanCompute} {
			s, ok := v.stages[i][name]
			if !ok {
				t.Errorf("%s has no %s span", label, name)
				continue
			}
			checkThreadTags(t, label+"/"+name, s)
			if prev.SpanID != "" && s.StartTime < prev.StartTime+prev.Duration-1 {
				t.Errorf("%s: %s starts before %s ends", label, name, prev.OperationName)
			}
			prev = s
		}

		// Across the services: the server's echo is the response's child.
		resp := v.stages[i][tracing.SpanResponse]
		var echo jaeger.Span
		for _, s := range tr.Spans {
			if s.OperationName == tracing.SpanEcho && s.Parent() == resp.SpanID {
				echo = s
			}
		}
		if echo.SpanID == "" || svc(echo) != tracing.ServerService {
			t.Errorf("%s: no %s span of %s whose parent is the response span", label, tracing.SpanEcho, tracing.ServerService)
			continue
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
	}
	return v
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

// checkStair: single-thread's computes run one after another on one OS
// thread, the article's stair.
func checkStair(t *testing.T, v view) {
	t.Helper()
	var computes []jaeger.Span
	for _, st := range v.stages {
		computes = append(computes, st[tracing.SpanCompute])
	}
	slices.SortFunc(computes, func(a, b jaeger.Span) int { return int(a.StartTime - b.StartTime) })
	first, _ := computes[0].Int(string(tracing.KeyOSThreadID))
	for i, c := range computes {
		if id, _ := c.Int(string(tracing.KeyOSThreadID)); id != first {
			t.Errorf("single-thread: compute %d on OS thread %d, the first on %d", i+1, id, first)
		}
		if _, moved := c.Tag(string(tracing.KeyOSThreadIDEnd)); moved {
			t.Errorf("single-thread: compute %d changed OS thread", i+1)
		}
		if dur(c) < 4*unit {
			t.Errorf("single-thread: compute %d lasts %v, less than 4u", i+1, dur(c))
		}
		if i > 0 && c.StartTime < computes[i-1].StartTime+computes[i-1].Duration-1 {
			t.Errorf("single-thread: compute %d starts before compute %d ends: no stair", i+1, i)
		}
	}
}
