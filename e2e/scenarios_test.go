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
	"asynctrace/diagram"
	"asynctrace/internal/tracetest"
	"asynctrace/jaeger"
	"asynctrace/scenario"
	"asynctrace/tracing"
)

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
	p := runToEnd(t, clientBin, append(args, "-json", "-svg", clientSVGs), env)
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
			tr := jaegerd.awaitTrace(t, res.TraceID, scenarioSpans(sc, res.Tasks))
			v := checkJaegerTrace(t, tr, res)
			makespans[sc] = v.Makespan()

			// The article's makespan, in units: never below it, and within
			// a tolerance a busy 2-core machine keeps.
			exp := time.Duration(articleUnits[sc]) * unit
			if got := v.Makespan(); got < exp-2*time.Millisecond || got > exp+exp/10+50*time.Millisecond {
				t.Errorf("%s: Jaeger's root span lasts %v = %.2fu, want the article's %du (%v)", sc, got, float64(got)/float64(unit), articleUnits[sc], exp)
			}
			if d := v.Makespan() - res.Makespan; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("%s: Jaeger says %v, the client printed %v", sc, v.Makespan(), res.Makespan)
			}
			checkScenarioLanes(t, sc, v, res)
			checkDiagramCommands(t, sc, res)
			t.Logf("%s: makespan %v (%.2fu; article %du), ready %v (%.2fu) in all, %d thread lane(s), %d spans from %s, %d from %s",
				sc, v.Makespan(), float64(v.Makespan())/float64(unit), articleUnits[sc], v.Ready(), float64(v.Ready())/float64(unit), len(v.Lanes),
				v.Count[tracing.ClientService], tracing.ClientService, v.Count[tracing.ServerService], tracing.ServerService)
		})
	}
	if !t.Failed() && len(makespans) == len(scenario.All) {
		checkComposeVerify(t, tracing.ClientService) // it reads the latest five traces
	}
	if len(makespans) == len(scenario.All) {
		var parts []string
		for _, sc := range scenario.All {
			parts = append(parts, fmt.Sprintf("%.2f", float64(makespans[sc])/float64(unit)))
		}
		t.Logf("makespans in units (article 42 : 42 : 22 : 14 : 14): %s", strings.Join(parts, " : "))
	}
}

// checkJaegerTrace asserts the trace contract on a trace as Jaeger has it,
// with the checker the unit tests run on the SDK's spans, and that Jaeger
// warns about no span.
func checkJaegerTrace(t *testing.T, tr *jaeger.Trace, res client.Result) *tracetest.Trace {
	t.Helper()
	for _, s := range tr.Spans {
		if len(s.Warnings) > 0 {
			t.Errorf("Jaeger warns about %s/%s: %q", tr.Service(s), s.OperationName, s.Warnings)
		}
	}
	// Jaeger keeps microseconds: 1 ms of slack for the nesting.
	return tracetest.Check(t, diagram.FromJaeger(tr), tracetest.Want{
		Scenario: res.Scenario, Tasks: res.Tasks, Compute: res.Compute, Unit: unit,
		Slack: time.Millisecond, EchoOver: unit/2 + 20*time.Millisecond,
	})
}

// checkScenarioLanes: what the figure must show per scenario.
func checkScenarioLanes(t *testing.T, sc scenario.Scenario, v *tracetest.Trace, res client.Result) {
	t.Helper()
	n := res.Tasks
	switch sc {
	case scenario.SingleThread:
		// The three computes in series on the one P's thread; ready adds
		// up to (0+1+2)·p = 12u. The P may move to another OS thread when
		// a goroutine blocks in a system call: then more than one lane,
		// the stair all the same (scenario's "one thread at a time").
		if len(v.Lanes) != 1 {
			t.Logf("single-thread: %d thread lanes: the one P moved between OS threads", len(v.Lanes))
		}
		var computes []*diagram.Span
		for _, l := range v.Lanes {
			computes = append(computes, v.Held[l.ID]...)
		}
		slices.SortFunc(computes, func(a, b *diagram.Span) int { return a.Start.Compare(b.Start) })
		if len(computes) != n {
			t.Errorf("single-thread lane holds %d stages, want the %d computes", len(computes), n)
		}
		for i, c := range computes {
			if !strings.HasSuffix(c.Name, " "+tracing.SpanCompute) {
				t.Errorf("single-thread lane holds %s", c.Name)
			}
			if i > 0 && c.Start.Before(computes[i-1].End) {
				t.Errorf("single-thread: %s starts before %s ends: no stair", c.Name, computes[i-1].Name)
			}
		}
		checkReady(t, sc, v, res, 12*unit)
	default:
		checkReady(t, sc, v, res, 0)
		for i, st := range v.Stages {
			if r := st[scenario.StageReady]; r != nil && r.End.Sub(r.Start) > unit/10+scenario.ReadyNoise {
				t.Errorf("%s: task%d ready %v, want under 0.1u (+%v for a loaded machine)", sc, i+1, r.End.Sub(r.Start), scenario.ReadyNoise)
			}
		}
	}
	switch sc {
	case scenario.OSThreads:
		if len(v.Lanes) != n {
			t.Errorf("os-threads: %d thread lanes, want one per task (%d)", len(v.Lanes), n)
		}
		for _, l := range v.Lanes {
			if n := v.TasksHeld(l); n != 1 {
				t.Errorf("os-threads: %s holds stages of %d tasks, want 1", l.Name, n)
			}
		}
	case scenario.Sync:
		if len(v.Lanes) != 1 {
			t.Errorf("sync: %d thread lanes, want 1", len(v.Lanes))
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
func checkReady(t *testing.T, sc scenario.Scenario, v *tracetest.Trace, res client.Result, want time.Duration) {
	t.Helper()
	p := scenario.Params{Runtime: res.Runtime, Scenario: sc, Compute: res.Compute, N: res.Tasks, Procs: res.GOMAXPROCS, CPUs: res.NumCPU, Unit: unit}
	arrivals := v.Arrivals()
	given, _ := p.ReadyGiven(arrivals)
	if (given - want).Abs() > unit/2 {
		t.Logf("%s: replies arrived at %v, not all at c+w: %v of ready expected instead of %v", sc, arrivals, given, want)
		want = given
	}
	if slack := time.Duration(res.Tasks) * (unit/10 + scenario.ReadyNoise); (v.Ready() - want).Abs() > slack {
		t.Errorf("%s: ready adds up to %v = %.2fu, want about %v (± %v)", sc, v.Ready(), float64(v.Ready())/float64(unit), want, slack)
	}
}
