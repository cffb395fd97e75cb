package e2e

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"asynctrace/client"
	"asynctrace/jaeger"
	"asynctrace/scenario"
	"asynctrace/tracing"
)

// runDiagram runs the diagram command and returns its output and whether
// it exited 0.
func runDiagram(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	p, err := start(diagramBin, args, os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	if !p.wait(time.Minute) {
		p.stop(time.Second)
		t.Fatalf("diagram %s: still running after a minute", strings.Join(args, " "))
	}
	return p.stdout.String() + p.stderr.String(), p.err == nil
}

// checkDiagramCommands draws and verifies one scenario's trace from Jaeger,
// and checks that verify fails on a trace that breaks the timeline.
func checkDiagramCommands(t *testing.T, sc scenario.Scenario, res client.Result) {
	t.Helper()
	traceID := res.TraceID
	base := jaegerd.client().BaseURL

	out, ok := runDiagram(t, "-jaeger", base, "-trace", traceID, "-verify")
	if !ok || strings.Contains(out, "FAIL") || !strings.Contains(out, "ok   makespan") {
		t.Errorf("diagram -verify of %s's trace: exit ok %v:\n%s", sc, ok, out)
	}

	out, ok = runDiagram(t, "-jaeger", base, "-trace", traceID, "-color", "never")
	if !ok || !strings.Contains(out, string(sc)+": ") || !strings.Contains(out, "# working") {
		t.Errorf("diagram (terminal) of %s: exit ok %v:\n%s", sc, ok, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 100 {
			t.Errorf("terminal diagram line of %d columns, want at most 100: %q", len(line), line)
		}
	}

	dir := t.TempDir()
	if out := os.Getenv("ASYNCTRACE_DIAGRAMS_OUT"); out != "" {
		dir = out // scripts/diagrams: keep them
		saveTrace(t, filepath.Join(dir, string(sc)+".json"), traceID)
	}
	if out, ok := runDiagram(t, "-jaeger", base, "-trace", traceID, "-svg", dir); !ok {
		t.Fatalf("diagram -svg: %s", out)
	}
	fromJaeger := checkSVGFile(t, filepath.Join(dir, string(sc)+".svg"), sc)
	// The client drew the same run from its own spans, without the
	// server's: the same ready time.
	own := checkSVGFile(t, filepath.Join(clientSVGs, string(sc)+".svg"), sc)
	if d := own - fromJaeger; d.Abs() > max(fromJaeger/100, 10*time.Microsecond) {
		t.Errorf("%s: the client's own SVG shows %v ready, the one drawn from Jaeger %v: more than 1%% apart", sc, own, fromJaeger)
	}

	// A single-thread run is not a multi-thread one.
	if sc == scenario.SingleThread {
		out, ok := runDiagram(t, "-jaeger", base, "-trace", traceID, "-verify", "-expect", "multi-thread", "-procs", "3")
		if ok || !strings.Contains(out, "FAIL makespan") {
			t.Errorf("single-thread checked as multi-thread -procs 3 passed:\n%s", out)
		}
	}
	// The trace as stored, with its computes moved to start together.
	if sc == scenario.SingleThread || sc == scenario.Sync {
		path := filepath.Join(t.TempDir(), "broken.json")
		overlapComputes(t, traceID, path)
		out, ok := runDiagram(t, "-file", path, "-verify")
		if ok || !strings.Contains(out, "FAIL") {
			t.Errorf("%s trace with overlapping computes passed verify:\n%s", sc, out)
		}
	}
}

// checkComposeVerify runs the compose file's verify command, pointed at
// this Jaeger and at one runtime's client service: it must pass on the
// five runs just made. (Compose's, both services at once, is
// compose-check's.)
func checkComposeVerify(t *testing.T, service string) {
	t.Helper()
	s, ok := project.Services["verify"]
	if !ok {
		t.Fatal("docker-compose.yml has no verify service")
	}
	args := replaceFlags(s.Command[1:], map[string]string{"jaeger": jaegerd.client().BaseURL, "service": service})
	out, ok := runDiagram(t, args...)
	if !ok || strings.Count(out, "checked as") != len(scenario.All) {
		t.Errorf("compose's verify command (%s): exit ok %v:\n%s", strings.Join(args, " "), ok, out)
	}
}

// saveTrace writes the trace as Jaeger's API returns it.
func saveTrace(t *testing.T, path, traceID string) {
	t.Helper()
	resp, err := http.Get(jaegerd.client().BaseURL + "/api/traces/" + traceID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// overlapComputes stores a copy of the trace whose compute spans all start
// when the first one does.
func overlapComputes(t *testing.T, traceID, path string) {
	t.Helper()
	tr, err := jaegerd.client().Trace(context.Background(), traceID)
	if err != nil {
		t.Fatal(err)
	}
	first := int64(-1)
	for _, s := range tr.Spans {
		if s.OperationName == tracing.SpanCompute && (first < 0 || s.StartTime < first) {
			first = s.StartTime
		}
	}
	for i, s := range tr.Spans {
		if s.OperationName == tracing.SpanCompute {
			tr.Spans[i].StartTime = first
		}
	}
	b, err := json.Marshal(map[string][]jaeger.Trace{"data": {*tr}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkSVGFile: the SVG parses, and has a segment for every stage of
// every task; it returns the ready time it draws, in all.
func checkSVGFile(t *testing.T, path string, sc scenario.Scenario) (ready time.Duration) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	stages := map[string]int{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "rect" {
			var lane, stage string
			var start, end int64
			for _, a := range el.Attr {
				switch a.Name.Local {
				case "data-lane":
					lane = a.Value
				case "data-stage":
					stage = a.Value
				case "data-start-us":
					start, _ = strconv.ParseInt(a.Value, 10, 64)
				case "data-end-us":
					end, _ = strconv.ParseInt(a.Value, 10, 64)
				}
			}
			if lane == "task" {
				stages[stage]++
				if stage == tracing.SpanReady {
					ready += time.Duration(end-start) * time.Microsecond
				}
			}
		}
	}
	for _, st := range scenario.Stages {
		if stages[string(st)] != 3 {
			t.Errorf("%s: %s has %d %s segments on task lanes, want 3", sc, path, stages[string(st)], st)
		}
	}
	return ready
}
