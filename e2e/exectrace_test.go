package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"asynctrace/diagram"
	"asynctrace/scenario"
	"asynctrace/tracing"
)

// The Go scheduler's own record against the spans, for single-thread (one
// P, computes that hold it) and multi-thread with three Ps, from the real
// binaries: the client's -exectrace file and its trace in Jaeger agree on
// every stage's length, who ran when, and how long each ready goroutine
// waited; cmd/diagram -exectrace says so too. The server's execution trace
// has a task per request and a region per span.
func TestE2EExecTrace(t *testing.T) {
	needJaeger(t)
	otlp := jaegerd.otlpPorts()
	const u = 50 * time.Millisecond
	dir := t.TempDir()
	serverTrace := filepath.Join(dir, "server.trace")
	addr, srv := startServerWith(t, otlp, map[string]string{"unit": u.String(), "exectrace": serverTrace})
	for _, sc := range []scenario.Scenario{scenario.SingleThread, scenario.MultiThread} {
		file := filepath.Join(dir, string(sc)+".trace")
		args, env := composeCommand(t, "client-"+string(sc), map[string]string{"addr": addr, "unit": u.String(), "exectrace": file}, otlp)
		p, err := start(clientBin, append(args, "-json"), env)
		if err != nil {
			t.Fatal(err)
		}
		if !p.wait(time.Minute) || p.err != nil {
			t.Fatalf("%s: %v\n%s", sc, p.err, p.stderr.String())
		}
		res := clientResult(t, p)
		want := map[string][]string{tracing.ClientService: {tracing.ScenarioSpanName(sc)}}
		for range res.Tasks {
			for _, st := range scenario.Stages {
				want[tracing.ClientService] = append(want[tracing.ClientService], string(st))
			}
		}
		tr := jaegerd.awaitTrace(t, res.TraceID, want)
		d, err := diagram.Build(tr.TraceID, diagram.FromJaeger(tr))
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		x, err := diagram.ReadExecTrace(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		c := d.CheckExecTrace(x)
		for _, ch := range c.Checks {
			if !ch.OK {
				t.Errorf("%s: %s", sc, ch)
			}
		}
		t.Logf("%s (P=%d): %s; ready-runnable difference %v", sc, res.GOMAXPROCS, c.Checks[1].Detail, c.ReadyDiff)

		out, ok := runDiagram(t, "-jaeger", jaegerd.client().BaseURL, "-trace", res.TraceID, "-exectrace", file)
		if !ok || !strings.Contains(out, "ok   exec regions") || strings.Contains(out, "FAIL") {
			t.Errorf("diagram -exectrace on %s: ok %v\n%s", sc, ok, out)
		}
	}

	if !srv.stop(10 * time.Second) {
		t.Fatal("server did not stop")
	}
	f, err := os.Open(serverTrace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, err := diagram.ReadExecTrace(f)
	if err != nil {
		t.Fatalf("the server's execution trace: %v", err)
	}
	if n := x.Tasks(tracing.SpanEcho); n != 6 {
		t.Errorf("server execution trace: %d %q tasks, want 6 (two runs of 3 requests)", n, tracing.SpanEcho)
	}
	for _, r := range []string{tracing.SpanEcho, tracing.SpanDelay, tracing.SpanWrite} {
		if n := x.Regions(r); n != 6 {
			t.Errorf("server execution trace: %d %q regions, want 6", n, r)
		}
	}
}
