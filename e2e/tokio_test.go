package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"asynctrace/client"
	"asynctrace/diagram"
	"asynctrace/internal/tracetest"
	"asynctrace/jaeger"
	"asynctrace/scenario"
	"asynctrace/tracing"
)

// runTokio runs a compose file's Tokio client service (client -runtime
// tokio: the article's own program as a child) against addr, and returns
// its -json result.
func runTokio(t *testing.T, service, dir, addr string, otlp map[uint32]int) client.Result {
	t.Helper()
	args, env := composeCommand(t, service, map[string]string{"addr": addr, "unit": unit.String()}, otlp)
	p := runToEnd(t, clientBin, append(args, "-json"), append(env, peerEnv+"="+dir))
	if strings.Contains(p.stderr.String(), "warning") {
		t.Errorf("%s warned: %s", service, p.stderr.String())
	}
	var res client.Result
	if err := json.Unmarshal([]byte(p.stdout.String()), &res); err != nil {
		t.Fatalf("%s -json output %q: %v\n%s", service, p.stdout.String(), err, p.stderr.String())
	}
	return res
}

// checkTokioTrace is checkJaegerTrace for a Tokio run.
func checkTokioTrace(t *testing.T, tr *jaeger.Trace, res client.Result) *tracetest.Trace {
	t.Helper()
	for _, s := range tr.Spans {
		if len(s.Warnings) > 0 {
			t.Errorf("Jaeger warns about %s/%s: %q", tr.Service(s), s.OperationName, s.Warnings)
		}
	}
	return tracetest.Check(t, diagram.FromJaeger(tr), tracetest.Want{
		Runtime: scenario.Tokio, Scenario: res.Scenario, Tasks: res.Tasks, Compute: res.Compute, Unit: unit,
		Slack: time.Millisecond, EchoOver: unit/2 + 20*time.Millisecond,
	})
}

// TestE2ETokio runs the compose file's five Tokio clients (the article's
// own programs, recorded and traced by asynctrace's client) against
// asynctrace's server, and reads each trace back from Jaeger: the
// contract's tree under service tokio-client, every echo inside its
// response, the thread lanes each scenario should have, and the model's
// checks with Tokio's formulas; single-thread ends its tasks at 14, 18
// and 22u, and waits 12u in all. The real Jaeger UI draws single-thread
// and multi-thread with the tasks above the threads and no error icon
// (screenshots beside TestE2EJaegerUI's).
func TestE2ETokio(t *testing.T) {
	dir := needPeer(t)
	needJaeger(t)
	otlp := jaegerd.otlpPorts()
	addr, _ := startServer(t, otlp)
	traces := map[scenario.Scenario]string{}
	for _, sc := range scenario.All {
		t.Run(string(sc), func(t *testing.T) {
			res := runTokio(t, "tokio-"+string(sc), dir, addr, otlp)
			if res.Runtime != scenario.Tokio || res.RuntimeVersion == "" {
				t.Errorf("runtime %q %q, want tokio and its version", res.Runtime, res.RuntimeVersion)
			}
			tr := jaegerd.awaitTrace(t, res.TraceID, scenarioSpansOf(tracing.TokioClientService, sc, res.Tasks))
			v := checkTokioTrace(t, tr, res)
			traces[sc] = res.TraceID
			// tokio::spawn now and then leaves the tasks woken after the
			// first behind its worker, blocked in its compute: the model
			// knows the stair, and says when the run was it
			// (docs/go-vs-tokio.md).
			stair := false
			for _, c := range res.Checks {
				switch {
				case !c.OK:
					t.Errorf("%s: check %s failed: %s", sc, c.Name, c.Detail)
				case c.Name == "Tokio's stair":
					stair = true
					t.Logf("%s: %s", sc, c.Detail)
				}
			}
			checkTokioLanes(t, sc, v, res, stair)
			t.Logf("%s: makespan %v (%.2fu; %s = %.0fu), ready %v (%.2fu), %d lane(s), P = %d, trace %s", sc, res.Makespan,
				float64(res.Makespan)/float64(unit), res.Formula, float64(res.Expected)/float64(unit), res.Ready, float64(res.Ready)/float64(unit),
				len(v.Lanes), res.GOMAXPROCS, res.TraceID)
		})
	}
	if t.Failed() {
		return
	}
	checkComposeVerify(t, tracing.TokioClientService)
	checkTokioUI(t, traces)
}

// checkTokioLanes: what each scenario's threads must show on Tokio.
func checkTokioLanes(t *testing.T, sc scenario.Scenario, v *tracetest.Trace, res client.Result, stair bool) {
	t.Helper()
	n := res.Tasks
	switch sc {
	case scenario.SingleThread:
		// One worker: one lane, the three computes in a row; the tasks end
		// at 14, 18 and 22u, each running on from its compute to its end,
		// and wait 0 + 4 + 8 = 12u in all, in Tokio's order.
		if len(v.Lanes) != 1 {
			t.Errorf("single-thread: %d lanes, want Tokio's one worker", len(v.Lanes))
		}
		var ends []time.Duration
		for _, task := range v.Tasks {
			ends = append(ends, task.End.Sub(v.Root.Start))
		}
		slices.Sort(ends)
		for k, want := range []time.Duration{14 * unit, 18 * unit, 22 * unit} {
			if k < len(ends) && (ends[k] < want-2*time.Millisecond || ends[k] > want+unit/2) {
				t.Errorf("single-thread: tasks end at %v, want 14, 18 and 22u (%v)", ends, want)
				break
			}
		}
		checkReady(t, sc, v, res, 12*unit)
	case scenario.MultiThread:
		if res.GOMAXPROCS != 3 {
			t.Errorf("multi-thread ran %d workers, want the compose file's 3", res.GOMAXPROCS)
		}
		if !stair && len(v.Lanes) != n {
			t.Errorf("multi-thread: %d lanes, want a worker per compute (%d)", len(v.Lanes), n)
		}
	case scenario.OSThreads, scenario.Sync:
		want := n
		if sc == scenario.Sync {
			want = 1
		}
		if len(v.Lanes) != want {
			t.Errorf("%s: %d lanes, want %d", sc, len(v.Lanes), want)
		}
		for _, l := range v.Lanes {
			if n := v.TasksHeld(l); sc == scenario.OSThreads && n != 1 {
				t.Errorf("os-threads: %s holds stages of %d tasks, want rayon's thread to hold one task's", l.Name, n)
			}
		}
	}
}

// checkTokioUI opens Tokio's single-thread and multi-thread traces in the
// real Jaeger UI: every row in the article's order (the tasks, then the
// threads), no error icon; screenshots for the README.
func checkTokioUI(t *testing.T, traces map[scenario.Scenario]string) {
	t.Helper()
	if uiAssets() == "" {
		t.Log("no Jaeger UI build: Tokio's traces not opened in it")
		return
	}
	ctx := browser(t, 1400, 2400)
	shots := os.Getenv("ASYNCTRACE_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(moduleRoot(), ".bin", "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sc := range []scenario.Scenario{scenario.SingleThread, scenario.MultiThread} {
		tr := jaegerd.awaitTrace(t, traces[sc], scenarioSpansOf(tracing.TokioClientService, sc, 3))
		v := tracetest.Check(t, diagram.FromJaeger(tr), tracetest.Want{Runtime: scenario.Tokio, Scenario: sc, Tasks: 3, Compute: scenario.Hold, Unit: unit, Slack: time.Millisecond})
		want := expectedRows(v)
		rows := checkUIRows(t, ctx, "tokio "+string(sc), traces[sc], want)
		png := run(t, ctx, chromedp.Screenshot(chromedp.CSS(".TraceTimelineViewer")))
		path := filepath.Join(shots, "jaeger-ui-tokio-"+string(sc)+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("tokio %s: %d rows as the article orders them; %s", sc, len(rows), path)
	}
}
