package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"asynctrace/client"
	"asynctrace/scenario"
)

// fakeChildEnv, set in a test, makes the Runner's children this test
// binary acting as a client that fails (fakeChild): TestMain calls it when
// the variable and ChildEnv are both set; "args": it says its command
// line, and fails.
const fakeChildEnv = "ASYNCTRACE_WEB_TEST_CHILD"

const fakeTraceID = "0af7651916cd43dd8448eb211c80319c"

// fakeChild is a client whose 10,000 tasks are all refused: one line a
// task on stderr (one of them over 1 MiB), its -json result with 10,000
// errors on stdout, exit 1.
func fakeChild() int {
	if os.Getenv(fakeChildEnv) == "args" {
		// Its command line, as a line the run keeps.
		fmt.Fprintln(os.Stderr, "args:", strings.Join(os.Args[1:], " "))
		return 1
	}
	fmt.Fprintln(os.Stderr, "the first line")
	fmt.Fprintln(os.Stderr, "a long line: "+strings.Repeat("x", 2<<20))
	fmt.Fprintln(os.Stderr, "after the long line")
	res := client.Result{Scenario: scenario.MultiThread, Tasks: 10000, TraceID: fakeTraceID,
		Failures: map[string]int{"connect: connection refused": 10000}}
	for i := range 10000 {
		err := fmt.Sprintf("task%d: connect: dial tcp 127.0.0.1:1: connect: connection refused", i+1)
		res.Errors = append(res.Errors, err)
		fmt.Fprintln(os.Stderr, err)
	}
	fmt.Fprintln(os.Stderr, "client: 10000 of 10000 tasks failed: connect: connection refused")
	json.NewEncoder(os.Stdout).Encode(res)
	return 1
}

// A line over any buffer's size is cut, says so, and the lines after it
// are all there.
func TestReadLines(t *testing.T) {
	in := "one\r\n" + strings.Repeat("é", 100<<10) + "\n" + strings.Repeat("y", 16) + "\nlast, no newline"
	var got []string
	if err := readLines(strings.NewReader(in), 16, func(s string) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	want := []string{"one", "éééééééé … [line cut: 204784 more bytes; the page keeps a line's first 16]", strings.Repeat("y", 16), "last, no newline"}
	if len(got) != len(want) {
		t.Fatalf("readLines: %d lines %q, want %q", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %.80q, want %.80q", i, got[i], want[i])
		}
	}
}

// A failed run says that it failed and why; its lines are all there, the
// over-long one cut and marked; its views carry the count of failed
// tasks and a few of their errors, not 10,000; its trace is linked, and
// read from Jaeger until the count settles, then left alone.
func TestFailedRun(t *testing.T) {
	t.Setenv(fakeChildEnv, "fail")
	// A collector that answers (Before dials it), and a Jaeger that holds
	// the trace's 3 exported spans.
	otlp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer otlp.Close()
	go func() {
		for {
			c, err := otlp.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	jaegerAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/api/traces/"+fakeTraceID {
			http.NotFound(w, req)
			return
		}
		fmt.Fprintf(w, `{"data": [{"traceID": %q, "spans": [{"spanID": "1"}, {"spanID": "2"}, {"spanID": "3"}]}]}`, fakeTraceID)
	}))
	defer jaegerAPI.Close()
	p := newPage(t, RunnerConfig{Exe: os.Args[0], Traces: Traces{UI: jaegerAPI.URL, OTLP: otlp.Addr().String(), Exporting: true, AwaitFor: 20 * time.Second}})

	code, views, m := p.submit(t, "/api/runs", "scenario=multi-thread&tasks=3&unit=10ms")
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %v", code, m)
	}
	id := views[0].ID
	v := awaitState(t, p.runner, id, time.Minute, Done, Failed, Cancelled)
	if v.State != Failed || !strings.Contains(v.Error, "connection refused") {
		t.Errorf("run %s, error %q; want failed, saying why", v.State, v.Error)
	}
	if v.FailedTasks != 10000 || v.Result == nil || len(v.Result.Errors) != maxErrorExamples || v.Result.Failures["connect: connection refused"] != 10000 {
		t.Errorf("failed tasks %d, result %v; want 10000 and %d examples", v.FailedTasks, v.Result != nil, maxErrorExamples)
	}

	run, _ := p.runner.Get(id)
	lines, _, _ := run.Lines(0)
	if len(lines) != maxLines+1 || lines[0] != "the first line" || lines[2] != "after the long line" {
		t.Fatalf("%d lines kept, starting %.100q; want %d and a last one saying how many more", len(lines), lines[:min(3, len(lines))], maxLines)
	}
	if l := lines[1]; len(l) > maxLineBytes+200 || !strings.HasPrefix(l, "a long line: xxx") || !strings.Contains(l, "[line cut: ") {
		t.Errorf("the long line, %d bytes, ends %q; want it cut and marked", len(l), l[max(0, len(l)-100):])
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "and 8004 more lines, not kept") {
		t.Errorf("last line %q; want how many were not kept (10,004 lines in all)", last)
	}
	if v.Lines != 10004 {
		t.Errorf("view: %d lines, want 10004", v.Lines)
	}

	// The trace: linked, then read from Jaeger until its count settles.
	if v.Trace.URL != jaegerAPI.URL+"/trace/"+fakeTraceID {
		t.Errorf("trace %+v, want its link", v.Trace)
	}
	deadline := time.After(20 * time.Second)
	for v.Trace.State == TraceWaiting {
		_, _, changed := run.Lines(1 << 30)
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("trace still %s after 20s: %+v", v.Trace.State, v.Trace)
		}
		v = run.View()
	}
	if v.Trace.State != TraceReady || v.Trace.Spans != 3 {
		t.Errorf("trace %+v, want ready with 3 spans", v.Trace)
	}

	// Every view the page polls is small.
	for _, path := range []string{"/api/runs", fmt.Sprintf("/api/runs/%d", id)} {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) > 8<<10 {
			t.Errorf("GET %s: %d bytes", path, len(b))
		}
	}
}
