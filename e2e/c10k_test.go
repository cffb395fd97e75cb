package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"asynctrace/scenario"
	"asynctrace/tracing"
)

// C10k: the compose file's multi-thread client with 10,000 tasks that
// mostly wait (-compute sleep), against the real server and a Jaeger of
// its own: every task succeeds, and Jaeger holds every span, counted by
// name. Before it, the five scenarios and a 48-task run: after them all,
// the service has few operation names (span names of low cardinality).
func TestE2EC10k(t *testing.T) {
	needJaeger(t)
	if testing.Short() {
		t.Skip("10,000 tasks")
	}
	j, err := startJaeger(jaegerBin, "")
	if err != nil {
		t.Fatal(err)
	}
	defer j.stop()
	otlp := j.otlpPorts()
	small, _ := startServerWith(t, otlp, nil)
	for _, sc := range scenario.All {
		runClient(t, "client-"+string(sc), small, otlp)
	}
	args, env := composeCommand(t, "client-os-threads", map[string]string{"addr": small, "unit": unit.String(), "tasks": "48"}, otlp)
	if p := runToEnd(t, clientBin, append(args, "-json"), env); len(clientResult(t, p).Errors) > 0 {
		t.Fatalf("os-threads -tasks 48: %s", p.stderr.String())
	}

	const n, u = 10000, 200 * time.Millisecond
	addr, _ := startServerWith(t, otlp, map[string]string{"unit": u.String()})
	args, env = composeCommand(t, "client-multi-thread", map[string]string{"addr": addr, "unit": u.String(), "tasks": fmt.Sprint(n), "compute": "sleep"}, otlp)
	p, err := start(clientBin, append(args, "-json"), env)
	if err != nil {
		t.Fatal(err)
	}
	if !p.wait(2 * time.Minute) {
		p.stop(time.Second)
		t.Fatal("10,000 tasks did not finish in 2 minutes")
	}
	if p.err != nil {
		t.Fatalf("client: %v\n%.2000s", p.err, p.stderr.String())
	}
	res := clientResult(t, p)
	if res.SpansDropped != 0 {
		t.Errorf("the client says %d spans were not exported", res.SpansDropped)
	}
	tr := j.awaitTrace(t, res.TraceID, scenarioSpans(scenario.MultiThread, n))
	tasks := 0
	for _, s := range tr.Spans {
		if s.OperationName == tracing.TaskSpanName(1, n) {
			tasks++
		}
	}
	if tasks != n {
		t.Errorf("%d task spans in Jaeger, want %d", tasks, n)
	}
	// How long the real UI takes to draw a trace this size.
	if uiAssets() != "" {
		ctx := browser(t, 1400, 1000)
		start := time.Now()
		if err := chromedp.Do(ctx, chromedp.Navigate(j.client().BaseURL+"/trace/"+res.TraceID)); err != nil {
			t.Fatal(err)
		}
		drawn := poll(2*time.Minute, 200*time.Millisecond, nil, func() bool {
			n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.span-row').length`))
			return err == nil && n > 0
		})
		if !drawn {
			t.Errorf("the Jaeger UI drew no row of the %d-span trace in 2 minutes", len(tr.Spans))
		}
		t.Logf("the Jaeger UI drew the %d-span trace's first rows %v after opening it", len(tr.Spans), time.Since(start).Round(100*time.Millisecond))
	}
	// What Jaeger's search form lists for the service.
	for svc, most := range map[string]int{tracing.ClientService: 200, tracing.ServerService: 3} {
		ops, err := j.client().Operations(t.Context(), svc)
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) > most {
			t.Errorf("%s has %d operation names in Jaeger, want at most %d: %v", svc, len(ops), most, ops)
		}
		t.Logf("%s: %d operation names after the five scenarios, 48 tasks and %d: %v", svc, len(ops), n, ops)
	}
	exp, _ := scenario.Params{Scenario: scenario.MultiThread, Compute: scenario.Sleep, N: n, Procs: res.GOMAXPROCS, CPUs: res.NumCPU, Unit: u}.Expected()
	t.Logf("C10k: %d tasks, makespan %v (formula %v, %.2f×), %d OS threads, %d goroutines, peak RSS %d MiB (%d KiB a task), spawned in %v, %d spans in Jaeger",
		n, res.Makespan.Round(time.Millisecond), exp, float64(res.Makespan)/float64(exp), res.PeakOSThreads, res.PeakGoroutines,
		res.PeakRSS>>20, res.RSSPerTask>>10, res.Spawn.Round(time.Millisecond), len(tr.Spans))
}
