package clientcmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"asynctrace/client"
	"asynctrace/cmd/internal/cli"
	"asynctrace/diagram"
	"asynctrace/internal/echotest"
	"asynctrace/jaeger"
	"asynctrace/scenario"
	"asynctrace/server"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		give    string
		want    []scenario.Scenario
		wantErr bool
	}{
		{give: "", want: scenario.All},
		{give: "-scenario all", want: scenario.All},
		{give: "-scenario single-thread -tasks 5 -unit 10ms -compute syscall -procs 2", want: []scenario.Scenario{scenario.SingleThread}},
		{give: "-scenario nope", wantErr: true},
		{give: "-compute nope", wantErr: true},
		{give: "-tasks 0", wantErr: true},
		{give: "-unit -1s", wantErr: true},
		{give: "-procs -1", wantErr: true},
		{give: "-bogus", wantErr: true},
		{give: "extra", wantErr: true},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		c, err := parseFlags(strings.Fields(tt.give), &stderr)
		if tt.wantErr {
			var u cli.UsageError
			if !errors.As(err, &u) || !strings.Contains(stderr.String(), "Usage") {
				t.Errorf("parseFlags(%q) = %v, stderr %q; want a usage error", tt.give, err, stderr.String())
			}
			continue
		}
		if err != nil {
			t.Errorf("parseFlags(%q) = %v", tt.give, err)
			continue
		}
		if !equal(c.scenarios, tt.want) {
			t.Errorf("parseFlags(%q) scenarios = %v, want %v", tt.give, c.scenarios, tt.want)
		}
	}
	c, _ := parseFlags(strings.Fields("-scenario single-thread -tasks 5 -unit 10ms -compute syscall -procs 2"), io.Discard)
	if want := (client.Config{Addr: "127.0.0.1:6142", Tasks: 5, Unit: 10 * time.Millisecond, Compute: scenario.Syscall, Procs: 2, Runtime: scenario.Go}); !reflect.DeepEqual(c.run, want) {
		t.Errorf("config = %+v, want %+v", c.run, want)
	}
	// -runtime tokio finds the article's programs; a mode they do not
	// have is a usage error.
	t.Setenv("ASYNCTRACE_TOKIO_PEER", "/nowhere")
	if c, err := parseFlags(strings.Fields("-runtime tokio -scenario multi-thread"), io.Discard); err != nil || c.run.Runtime != scenario.Tokio || c.run.PeerDir != "/nowhere" {
		t.Errorf("-runtime tokio: %v, runtime %q, programs in %q", err, c.run.Runtime, c.run.PeerDir)
	}
	var stderr strings.Builder
	if _, err := parseFlags(strings.Fields("-runtime tokio -scenario single-thread -compute syscall"), &stderr); err == nil || !strings.Contains(stderr.String(), "no Tokio program") {
		t.Errorf("-runtime tokio -compute syscall: %v, stderr %q; want a usage error saying there is no Tokio program", err, stderr.String())
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h = %v, want flag.ErrHelp", err)
	}
}

func equal(a, b []scenario.Scenario) bool {
	return scenario.Names(a) == scenario.Names(b)
}

func newLocalServer(t *testing.T, unit time.Duration) string {
	return echotest.Start(t, server.Config{Delay: scenario.ServerDelay(unit)}).Addr
}

// The -json output: one object per scenario, with the fields the README
// and the end-to-end tests read.
func TestRunJSON(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	const unit = 10 * time.Millisecond
	addr := newLocalServer(t, unit)

	var stdout, stderr bytes.Buffer
	args := []string{"-addr", addr, "-unit", unit.String(), "-scenario", "all", "-procs", "3", "-json"}
	if err := Command(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(&stdout)
	var i int
	for ; sc.Scan(); i++ {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, sc.Text())
		}
		for _, k := range []string{"scenario", "tasks", "gomaxprocs", "compute", "unit_ms", "makespan_ms", "expected_ms", "ready_ms", "thread_lanes", "trace_id", "peak_os_threads", "peak_goroutines"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d has no %q: %s", i+1, k, sc.Text())
			}
		}
		if i < len(scenario.All) && m["scenario"] != string(scenario.All[i]) {
			t.Errorf("line %d is scenario %v, want %s", i+1, m["scenario"], scenario.All[i])
		}
		if id, _ := m["trace_id"].(string); len(id) != 32 || id == strings.Repeat("0", 32) {
			t.Errorf("line %d trace_id %q", i+1, id)
		}
	}
	if i != len(scenario.All) {
		t.Errorf("%d JSON lines, want %d", i, len(scenario.All))
	}
}

// Human output: the article's lines, then the summary; with nothing
// exported, no link to the trace.
func TestRunHuman(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	t.Setenv(jaeger.URLEnv, "http://jaeger.example:16686/")
	const unit = 5 * time.Millisecond
	addr := newLocalServer(t, unit)

	var stdout bytes.Buffer
	svgDir := t.TempDir()
	args := []string{"-addr", addr, "-unit", unit.String(), "-scenario", "sync", "-diagram", "-svg", svgDir}
	if err := Command(context.Background(), args, &stdout, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
	out := stdout.String()
	for _, want := range []string{
		" - task1 started: ", " - task3 finished: ", "makespan ", "expected 210ms (n(c+w+p))", "\n  trace ",
		"time runs down", "# working", "ready (reply there, waiting for a thread) ", "1 OS thread lane(s)", "diagram " + filepath.Join(svgDir, "sync.svg"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "/trace/") {
		t.Errorf("OTEL_TRACES_EXPORTER=none, yet the output links to a trace:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(svgDir, "sync.svg")); err != nil || !bytes.Contains(b, []byte(`data-stage="compute"`)) {
		t.Errorf("sync.svg: %v, %.80q", err, b)
	}
	if !strings.HasPrefix(strings.SplitN(out, "\n", 3)[1], "OS thread ") {
		t.Errorf("second line %q, want the article's line format", strings.SplitN(out, "\n", 3)[1])
	}
}

// closedAddr is an address on which nothing listens: connections to it
// are refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A server that is not there: every task failed, and the summary says
// that first, with the cause and the first error, and none of the
// figures the run did not measure (makespan, spans lost, a trace link);
// stderr groups the failures by cause, a non-zero exit.
func TestRunUnreachable(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	addr := closedAddr(t)
	var stdout, stderr bytes.Buffer
	err := Command(context.Background(), []string{"-addr", addr, "-unit", "1ms", "-scenario", "multi-thread"}, &stdout, &stderr)
	if err == nil {
		t.Fatal("run against a closed port: nil error")
	}
	out := stdout.String()
	if want := "multi-thread: all 3 tasks failed (GOMAXPROCS="; !strings.Contains(out, "\n"+want) ||
		!strings.Contains(out, "3 connect: refused (ECONNREFUSED") || !strings.Contains(out, "the first: task1: connect: dial tcp "+addr) {
		t.Errorf("summary:\n%s\nwant a line beginning %q, with the cause and the first error", out, want)
	}
	for _, noise := range []string{"makespan", "expected", "not exported", "trace ", "peak"} {
		if strings.Contains(out, noise) {
			t.Errorf("summary of a run in which every task failed says %q:\n%s", noise, out)
		}
	}
	if want := "client: multi-thread: 3 of 3 tasks failed:\nclient:   3 connect: refused"; !strings.HasPrefix(stderr.String(), want) ||
		!strings.Contains(stderr.String(), "client:     task3: connect: dial tcp "+addr) {
		t.Errorf("stderr:\n%s\nwant the failures grouped by cause, each task's error under it", stderr.String())
	}
}

// 10,000 refused tasks print a few lines on stderr, not one a task: the
// cause, counted, and its first errors.
func TestRunUnreachableBounded(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	const n = 10000
	if _, err := client.Preflight(client.Config{Scenario: scenario.MultiThread, Tasks: n}, client.ReadLimits()); err != nil {
		t.Skipf("this machine cannot run %d tasks at once: %v", n, err)
	}
	addr := closedAddr(t)
	var stdout, stderr bytes.Buffer
	err := Command(context.Background(), []string{"-addr", addr, "-unit", "1ms", "-scenario", "multi-thread", "-tasks", fmt.Sprint(n), "-progress-every", "1h"}, &stdout, &stderr)
	if err == nil {
		t.Fatal("run against a closed port: nil error")
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	// The progress line (twice: at the start and the end), the header,
	// and per cause its line and client.FailureExamples errors; refused
	// is the cause here, but a loaded machine may run out of something.
	if len(lines) > 2+1+3*(1+client.FailureExamples) {
		t.Errorf("%d lines on stderr for %d refused tasks, want a few:\n%.2000s", len(lines), n, stderr.String())
	}
	if want := fmt.Sprintf("client: multi-thread: %d of %d tasks failed:", n, n); !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr:\n%.2000s\nwant %q", stderr.String(), want)
	}
	if want := fmt.Sprintf("all %d tasks failed", n); !strings.Contains(stdout.String(), want) {
		t.Errorf("summary:\n%s\nwant %q", stdout.String(), want)
	}
}

// With no collector listening, the one export warning carries the
// exporter's own error (connection refused) and the endpoint, not prose
// in their place.
func TestRunNoCollector(t *testing.T) {
	collector := closedAddr(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+collector)
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
	const unit = 2 * time.Millisecond
	addr := newLocalServer(t, unit)
	var stdout, stderr bytes.Buffer
	if err := Command(context.Background(), []string{"-addr", addr, "-unit", unit.String(), "-scenario", "multi-thread"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	warn := stderr.String()
	if strings.Count(warn, "warning:") != 1 || !strings.Contains(warn, collector) || !strings.Contains(warn, "connection refused") {
		t.Errorf("stderr:\n%s\nwant one warning naming %s and saying connection refused", warn, collector)
	}
}

// os-threads past Go's thread limit refuses before starting: one message
// naming the limit and the flag, a usage error (exit 2), no thread made.
func TestRunRefusesPastThreadLimit(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	var stdout, stderr bytes.Buffer
	err := Command(context.Background(), []string{"-addr", "127.0.0.1:1", "-scenario", "os-threads", "-tasks", "10000"}, &stdout, &stderr)
	var u cli.UsageError
	if !errors.As(err, &u) || !errors.Is(err, client.ErrLimit) {
		t.Fatalf("run = %v, want a usage error for a limit", err)
	}
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "past 10000 threads: add -max-threads 10064") {
		t.Errorf("stderr %q, want one line naming -max-threads", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("the run started: %q", stdout.String())
	}
}

// Above client.LineTasks tasks a run prints a progress line instead of
// four lines a task; -v prints them all; with -json both go to stderr.
func TestRunProgressLine(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	const unit = 5 * time.Millisecond
	addr := newLocalServer(t, unit)
	n := client.LineTasks + 2
	base := []string{"-addr", addr, "-unit", unit.String(), "-scenario", "multi-thread", "-tasks", fmt.Sprint(n)}

	var stdout bytes.Buffer
	if err := Command(context.Background(), base, &stdout, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
	out := stdout.String()
	if strings.Contains(out, " started: ") {
		t.Errorf("%d tasks: the article's lines were printed:\n%.500s", n, out)
	}
	final := fmt.Sprintf("%d tasks, %d started, %d sent, %d read, %d done", n, n, n, n, n)
	if !strings.Contains(out, final) {
		t.Errorf("%d tasks: no final progress line %q in\n%.500s", n, final, out)
	}

	stdout.Reset()
	if err := Command(context.Background(), append(base, "-v"), &stdout, io.Discard); err != nil {
		t.Fatalf("run -v: %v", err)
	}
	if got := strings.Count(stdout.String(), " started: "); got != n {
		t.Errorf("-v: %d started lines, want %d", got, n)
	}

	stdout.Reset()
	if err := Command(context.Background(), append(base, "-progress-every", "10ms"), &stdout, io.Discard); err != nil {
		t.Fatalf("run -progress-every: %v", err)
	}
	if got := strings.Count(stdout.String(), " expected: "); got < 3 {
		t.Errorf("-progress-every 10ms in a run of 70ms: %d progress lines, want several:\n%s", got, stdout.String())
	}

	var stderr bytes.Buffer
	stdout.Reset()
	if err := Command(context.Background(), append(base, "-json"), &stdout, &stderr); err != nil {
		t.Fatalf("run -json: %v", err)
	}
	if !strings.Contains(stderr.String(), final) || strings.Contains(stdout.String(), " done") {
		t.Errorf("-json: progress on stderr %q, stdout %q; want it on stderr only", stderr.String(), stdout.String())
	}
}

// -exectrace writes the run's execution trace: a region per stage, and
// the spans agree with it.
func TestRunExecTrace(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	const unit = 10 * time.Millisecond
	addr := newLocalServer(t, unit)
	file := filepath.Join(t.TempDir(), "run.trace")
	var stdout bytes.Buffer
	if err := Command(context.Background(), []string{"-addr", addr, "-unit", unit.String(), "-scenario", "multi-thread", "-procs", "3", "-exectrace", file, "-json"}, &stdout, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, err := diagram.ReadExecTrace(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"connect", "response", "compute"} {
		if n := x.Regions(stage); n != 3 {
			t.Errorf("%d %s regions, want 3", n, stage)
		}
	}
	if n := x.Tasks("task1"); n != 1 {
		t.Errorf("%d task1 tasks, want 1", n)
	}

	// Where the file cannot be written, the run does not start.
	err = Command(context.Background(), []string{"-addr", addr, "-unit", unit.String(), "-scenario", "sync", "-exectrace", filepath.Join(t.TempDir(), "no", "such", "dir", "x.trace")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "execution trace") {
		t.Errorf("unwritable -exectrace: %v", err)
	}
}

// The summary: a wait's line under the ready time, the unit mismatch with
// the flag that fixes it, the failures counted by cause; a run in which
// every task failed, none of the figures.
func TestWriteSummary(t *testing.T) {
	r := client.Result{Scenario: scenario.SingleThread, Tasks: 3, GOMAXPROCS: 1, Compute: scenario.Hold, Unit: time.Second,
		Makespan: 22 * time.Second, Expected: 22 * time.Second, TraceID: "abc",
		Waits:        []client.Wait{{Task: 3, Line: "task3 waited 8s for task1's and task2's computes"}},
		UnitMismatch: "the server held requests 8s, not 8u = 8s: its unit is 1s, the client's 1s",
		Errors:       []string{"task2: connect: refused"}, Failures: map[string]int{"connect: refused": 1},
	}
	var b strings.Builder
	writeSummary(&b, r, "http://jaeger/trace/abc")
	for _, want := range []string{"\n    task3 waited 8s for task1's and task2's computes\n", "; start the server with -unit 1s\n",
		"1 of 3 tasks failed: 1 connect: refused; the first: task2: connect: refused", "trace abc  http://jaeger/trace/abc"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary:\n%s\nwant %q", b.String(), want)
		}
	}
	r.Errors, r.Failures = []string{"task1: x", "task2: x", "task3: x"}, map[string]int{"task: other": 3}
	r.SpansDropped = 8
	b.Reset()
	writeSummary(&b, r, "http://jaeger/trace/abc")
	if got := b.String(); !strings.HasPrefix(got, "single-thread: all 3 tasks failed (GOMAXPROCS=1, compute=hold, unit=1s): 3 task: other\n") ||
		strings.Contains(got, "trace") || strings.Contains(got, "makespan") || strings.Contains(got, "not exported") {
		t.Errorf("summary of a run that all failed, its spans not exported:\n%s", got)
	}
}

// docs/design.md gives the flush's bound in figures: they are
// flushTimeout's.
func TestFlushTimeoutDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(b)), " ")
	per := (flushTimeout(1001) - flushTimeout(1)) / 1000
	want := fmt.Sprintf("at most %d ms plus %d µs a task (`clientcmd.flushTimeout`: %.1f s for the article's three tasks, %.1f s at 10,000)",
		(flushTimeout(0) / time.Millisecond), per/time.Microsecond, flushTimeout(3).Seconds(), flushTimeout(10000).Seconds())
	if !strings.Contains(doc, want) {
		t.Errorf("docs/design.md does not say %q", want)
	}
}
