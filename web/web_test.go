package web

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"asynctrace/scenario"
)

// webExe is cmd/web, built once for the tests: the Runner's children are
// the real command, run as cmd/web runs them.
var webExe string

func TestMain(m *testing.M) {
	if os.Getenv(fakeChildEnv) != "" && os.Getenv(ChildEnv) == "client" {
		os.Exit(fakeChild())
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "asynctrace-web-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	webExe = filepath.Join(dir, "web")
	if out, err := exec.Command("go", "build", "-o", webExe, "asynctrace/cmd/web").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building cmd/web for the runs: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			return 1
		}
	}
	return code
}

type page struct {
	*httptest.Server
	runner  *Runner
	servers *Servers
}

// newPage serves the page on a loopback port with its own echo servers;
// no spans are exported.
func newPage(t *testing.T, cfg RunnerConfig, allowedHosts ...string) *page {
	t.Helper()
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	servers := &Servers{}
	cfg.Exe = cmp.Or(cfg.Exe, webExe)
	cfg.Servers = servers
	if cfg.Traces.OTLP == "" {
		cfg.Traces = Traces{UI: "http://127.0.0.1:1", OTLP: "127.0.0.1:1", Exporting: false}
	}
	r := NewRunner(cfg)
	p := &page{Server: httptest.NewServer(Handler(r, allowedHosts...)), runner: r, servers: servers}
	t.Cleanup(func() {
		p.Close()
		r.Close()
		servers.Close(context.Background())
	})
	return p
}

// submit POSTs a form and decodes the answer.
func (p *page) submit(t *testing.T, path, form string) (int, []View, map[string]any) {
	t.Helper()
	resp, err := http.Post(p.URL+path, "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusAccepted {
		var views []View
		if err := json.Unmarshal(b, &views); err != nil {
			t.Fatalf("%s: %v: %s", path, err, b)
		}
		return resp.StatusCode, views, nil
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, nil, m
}

// awaitState waits, on the run's own change notifications, until the run
// reaches one of the states.
func awaitState(t *testing.T, r *Runner, id int, d time.Duration, states ...State) View {
	t.Helper()
	run, ok := r.Get(id)
	if !ok {
		t.Fatalf("run %d not kept", id)
	}
	deadline := time.After(d)
	for {
		_, _, changed := run.Lines(1 << 30)
		v := run.View()
		for _, s := range states {
			if v.State == s {
				return v
			}
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("run %d still %s after %v, want %v", id, v.State, d, states)
		}
	}
}

// A run through the API, as the page makes it: queued, its lines
// streamed as server-sent events, then its result, checks and figures.
func TestRunThroughAPI(t *testing.T) {
	p := newPage(t, RunnerConfig{})
	code, views, _ := p.submit(t, "/api/runs", "scenario=single-thread&tasks=3&unit=20ms")
	if code != http.StatusAccepted || len(views) != 1 {
		t.Fatalf("POST /api/runs: %d %v", code, views)
	}
	id := views[0].ID

	// The stream ends with the run; a run that hangs ends it at the
	// deadline, and the test says so rather than wait for ever.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/runs/%d/events", p.URL, id), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("events Content-Type %q", ct)
	}
	var lines []string
	var last View
	sc := bufio.NewScanner(resp.Body)
	event := ""
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "event: "):
			event = strings.TrimPrefix(l, "event: ")
		case strings.HasPrefix(l, "data: ") && event == "line":
			lines = append(lines, strings.TrimPrefix(l, "data: "))
		case strings.HasPrefix(l, "data: ") && event == "state":
			json.Unmarshal([]byte(strings.TrimPrefix(l, "data: ")), &last)
		}
		if event == "end" {
			break
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the event stream did not end within 60s: %d lines, state %s", len(lines), last.State)
	}
	if last.State != Done {
		t.Fatalf("run ended %s: %s\nlines:\n%s", last.State, last.Error, strings.Join(lines, "\n"))
	}
	for _, want := range []string{"task1 started", "task3 written", "task2 read", "task3 finished"} {
		if !strings.Contains(strings.Join(lines, "\n"), want) {
			t.Errorf("no streamed line with %q in\n%s", want, strings.Join(lines, "\n"))
		}
	}
	res := last.Result
	if res == nil || res.Scenario != scenario.SingleThread || res.Tasks != 3 || res.GOMAXPROCS != 1 {
		t.Fatalf("result %+v", res)
	}
	if len(last.Checks) == 0 {
		t.Error("no checks in the run's view")
	}
	if last.Trace.URL != "" || !strings.Contains(last.Trace.Note, "No trace link") {
		t.Errorf("without Jaeger: trace %+v, want no link and why", last.Trace)
	}
	if last.Command != "go run ./cmd/client -scenario single-thread -tasks 3 -unit 20ms" {
		t.Errorf("command %q", last.Command)
	}
	for _, q := range []string{"", "?compact=1"} {
		resp, err := http.Get(fmt.Sprintf("%s/api/runs/%d/svg%s", p.URL, id, q))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(string(b), "<svg") {
			t.Errorf("svg%s: %d %q %.40q", q, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		if !strings.Contains(string(b), `data-stage="compute"`) {
			t.Errorf("svg%s has no compute segment", q)
		}
	}

	// A reconnecting EventSource resumes after the last line it had.
	req, _ = http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/runs/%d/events", p.URL, id), nil)
	req.Header.Set("Last-Event-ID", "5")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if !strings.HasPrefix(string(b), "id: 6\n") || strings.Contains(string(b), "id: 5\n") {
		t.Errorf("resume after id 5: %.100q", b)
	}
}

// One run at a time, in the order they came; the rest wait, shown queued.
func TestQueue(t *testing.T) {
	p := newPage(t, RunnerConfig{})
	var ids []int
	for _, sc := range []string{"multi-thread", "sync", "os-threads"} {
		code, views, m := p.submit(t, "/api/runs", "tasks=2&unit=10ms&scenario="+sc)
		if code != http.StatusAccepted {
			t.Fatalf("%s: %d %v", sc, code, m)
		}
		ids = append(ids, views[0].ID)
	}
	if v := awaitState(t, p.runner, ids[2], time.Second, Queued, Running); v.State != Queued {
		// The first two take 14u and 28u: the third cannot have started.
		t.Errorf("third run %s right after submitting, want queued", v.State)
	}
	var prevEnd time.Time
	for _, id := range ids {
		v := awaitState(t, p.runner, id, time.Minute, Done, Failed)
		if v.State != Done {
			t.Fatalf("run %d %s: %s", id, v.State, v.Error)
		}
		if v.Started.Before(prevEnd) {
			t.Errorf("run %d started %v before the previous ended", id, prevEnd.Sub(*v.Started))
		}
		prevEnd = *v.Ended
	}
}

// Cancel: a queued run at once, a running one through its child (SIGTERM),
// an ended one refused.
func TestCancel(t *testing.T) {
	p := newPage(t, RunnerConfig{})
	_, long, _ := p.submit(t, "/api/runs", "scenario=sync&tasks=3&unit=1s") // 42 s
	_, next, _ := p.submit(t, "/api/runs", "scenario=sync&tasks=1&unit=1ms")
	cancel := func(id int) int {
		resp, err := http.Post(fmt.Sprintf("%s/api/runs/%d/cancel", p.URL, id), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := cancel(next[0].ID); code != 200 {
		t.Errorf("cancel queued: %d", code)
	}
	if v := awaitState(t, p.runner, next[0].ID, time.Second, Cancelled); v.Started != nil {
		t.Errorf("the cancelled queued run started")
	}
	awaitState(t, p.runner, long[0].ID, 10*time.Second, Running)
	t0 := time.Now()
	if code := cancel(long[0].ID); code != 200 {
		t.Errorf("cancel running: %d", code)
	}
	v := awaitState(t, p.runner, long[0].ID, 10*time.Second, Cancelled, Failed, Done)
	if v.State != Cancelled || !strings.Contains(v.Error, "cancelled") {
		t.Errorf("cancelled run: %s %q", v.State, v.Error)
	}
	t.Logf("running run cancelled in %v", time.Since(t0).Round(time.Millisecond))
	if code := cancel(long[0].ID); code != http.StatusConflict {
		t.Errorf("cancel an ended run: %d, want 409", code)
	}
}

// The history keeps the last runs; older ones are gone, said so.
func TestHistory(t *testing.T) {
	p := newPage(t, RunnerConfig{History: 2})
	var last []View
	for range 3 {
		_, last, _ = p.submit(t, "/api/runs", "scenario=sync&tasks=1&unit=1ms")
		awaitState(t, p.runner, last[0].ID, 30*time.Second, Done)
	}
	resp, err := http.Get(p.URL + "/api/runs")
	if err != nil {
		t.Fatal(err)
	}
	var views []View
	json.NewDecoder(resp.Body).Decode(&views)
	resp.Body.Close()
	if len(views) != 2 || views[0].ID != 3 || views[1].ID != 2 {
		t.Errorf("history: %d runs, want runs 3 and 2, newest first", len(views))
	}
	for _, path := range []string{"/api/runs/1", "/api/runs/1/svg", "/api/runs/x", "/api/runs/99999999999999999999", "/api/groups/1"} {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// Compare queues the five scenarios under one group; single-thread keeps
// its one P, os-threads its P per task.
func TestCompare(t *testing.T) {
	p := newPage(t, RunnerConfig{})
	code, views, m := p.submit(t, "/api/compare", "tasks=2&unit=5ms&procs=3&scenario=sync")
	if code != http.StatusAccepted || len(views) != 5 {
		t.Fatalf("compare: %d %v", code, m)
	}
	for i, v := range views {
		if v.Knobs.Scenario != scenario.All[i] || v.Group == 0 || v.Group != views[0].Group {
			t.Errorf("run %d: %s group %d", i, v.Knobs.Scenario, v.Group)
		}
		wantP := 3
		if v.Knobs.Scenario == scenario.SingleThread || v.Knobs.Scenario == scenario.OSThreads {
			wantP = 0
		}
		if v.Knobs.Procs != wantP {
			t.Errorf("%s: procs %d, want %d", v.Knobs.Scenario, v.Knobs.Procs, wantP)
		}
	}
	for _, v := range views {
		if got := awaitState(t, p.runner, v.ID, time.Minute, Done, Failed); got.State != Done || !got.HasSVG {
			t.Errorf("%s: %s %s, svg %v", v.Knobs.Scenario, got.State, got.Error, got.HasSVG)
		}
	}
	resp, err := http.Get(fmt.Sprintf("%s/api/groups/%d", p.URL, views[0].Group))
	if err != nil {
		t.Fatal(err)
	}
	var group []View
	json.NewDecoder(resp.Body).Decode(&group)
	resp.Body.Close()
	if len(group) != 5 {
		t.Errorf("group: %d runs", len(group))
	}
}

// answer is a response's status, headers and JSON body.
type answer struct {
	code   int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request, with Host host if not empty, and reads the answer.
func (p *page) do(t *testing.T, method, path, host, contentType, body string, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, p.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, header: resp.Header, raw: string(b)}
	json.Unmarshal(b, &a.body)
	return a
}

// What a hostile page or client sends is refused, in JSON, saying what is
// refused, and nothing runs.
func TestHostileRequests(t *testing.T) {
	p := newPage(t, RunnerConfig{MaxQueue: 2}, "asynctrace.lan")
	port := p.Listener.Addr().(*net.TCPAddr).Port
	evil := fmt.Sprintf("evil.example:%d", port)
	const form = "application/x-www-form-urlencoded"
	for _, tt := range []struct {
		name, method, path, host, ctype, body string
		header                                map[string]string
		want                                  int
		says                                  string // in the JSON error
	}{
		{"a rebinding page's POST", "POST", "/api/runs", evil, form, "scenario=sync&tasks=1&unit=1ms", map[string]string{"Origin": "http://" + evil}, 403, "evil.example"},
		{"a rebinding page's Compare", "POST", "/api/compare", evil, form, "tasks=1&unit=1ms", nil, 403, "-allowed-hosts"},
		{"a rebinding page reading", "GET", "/api/runs", evil, "", "", nil, 403, "not one this page serves"},
		{"a rebinding page's page", "GET", "/", "EVIL.example.", "", "", nil, 403, "not one this page serves"},
		{"a name not given", "GET", "/api/info", "asynctrace.lan.evil.example", "", "", nil, 403, "not one this page serves"},
		{"no host", "GET", "/api/info", " ", "", "", nil, 403, "not one this page serves"},
		{"another site's page", "POST", "/api/runs", "", form, "scenario=sync", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "cross-site"},
		{"another origin", "POST", "/api/runs", "", form, "scenario=sync", map[string]string{"Origin": "http://evil.example"}, 403, "cross-site"},
		{"a misspelt knob", "POST", "/api/runs", "", form, "scenario=sync&task=5000", nil, 400, "task: not a knob"},
		{"a parameter in the URL", "POST", "/api/runs?tasks=5000", "", form, "scenario=sync", nil, 400, `"tasks"`},
		{"a JSON body", "POST", "/api/runs", "", "application/json", `{"scenario":"sync","tasks":5000}`, nil, 415, "application/json"},
		{"a text body", "POST", "/api/compare", "", "text/plain", "scenario=sync", nil, 415, "text/plain"},
		{"no type", "POST", "/api/runs", "", "", "scenario=sync", nil, 415, "none"},
		{"a huge body", "POST", "/api/runs", "", form, "scenario=sync&x=" + strings.Repeat("a", 20<<10), nil, 400, "form"},
		{"a flag in a value", "POST", "/api/runs", "", form, "scenario=sync&tasks=1+-max-threads+1", nil, 400, "tasks"},
		{"a huge number", "POST", "/api/runs", "", form, "tasks=1000000000000", nil, 400, "tasks"},
		{"hours of sync", "POST", "/api/runs", "", form, "scenario=sync&tasks=10000&unit=2s", nil, 400, "expected to take"},
		{"more than the queue holds", "POST", "/api/compare", "", form, "tasks=1&unit=1ms", nil, 429, "too many runs"}, // 5 runs > 2
		{"a method not taken", "PUT", "/api/runs", "", form, "scenario=sync", nil, 405, "PUT /api/runs"},
		{"GET of a POST path", "GET", "/api/runs/1/cancel", "", "", "", nil, 405, "POST"},
		{"no such API path", "GET", "/api/nothing", "", "", "", nil, 404, "/api/nothing"},
		{"no such file", "GET", "/static/nothing.js", "", "", "", nil, 404, "no such file"},
		{"the files' directory", "GET", "/static/", "", "", "", nil, 404, "no such file"},
		{"an unknown parameter", "GET", "/api/runs?all=1", "", "", "", nil, 400, `"all"`},
		{"an unknown check parameter", "GET", "/api/check?scenario=sync&task=5000", "", "", "", nil, 400, `"task"`},
	} {
		a := p.do(t, tt.method, tt.path, tt.host, tt.ctype, tt.body, tt.header)
		msg, _ := a.body["error"].(string)
		if a.code != tt.want || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") || !strings.Contains(msg, tt.says) {
			t.Errorf("%s: %d %s %q, want %d, JSON saying %q", tt.name, a.code, a.header.Get("Content-Type"), a.raw, tt.want, tt.says)
		}
		if tt.want == 405 && a.header.Get("Allow") == "" {
			t.Errorf("%s: 405 with no Allow", tt.name)
		}
	}
	if runs := p.runner.Runs(); len(runs) != 0 {
		t.Errorf("%d runs queued by refused requests", len(runs))
	}

	// The page's own names, any port.
	for _, host := range []string{"", "localhost", "localhost:8080", "LOCALHOST.", "127.0.0.1:1", "[::1]:8080", "10.1.2.3", "asynctrace.lan:8080", "AsyncTrace.LAN"} {
		if a := p.do(t, "GET", "/api/info", host, "", "", nil); a.code != 200 {
			t.Errorf("Host %q: %d %s", host, a.code, a.raw)
		}
	}

	a := p.do(t, "GET", "/api/check?"+url.Values{"scenario": {"sync"}, "tasks": {"abc"}}.Encode(), "", "", "", nil)
	if a.body["ok"] != false || a.body["fields"] == nil {
		t.Errorf("check of a bad knob: %v", a.body)
	}
}

// No response can be framed by another site, or read as another type.
func TestFramingHeaders(t *testing.T) {
	p := newPage(t, RunnerConfig{})
	_, views, _ := p.submit(t, "/api/runs", "scenario=sync&tasks=1&unit=1ms")
	awaitState(t, p.runner, views[0].ID, 30*time.Second, Done, Failed)
	for _, path := range []string{"/", "/?run=1", "/static/app.js", "/static/style.css", "/api/info", "/api/runs", "/api/runs/1", "/api/runs/1/svg",
		"/api/runs/1/events", "/api/nothing", "/nothing", "/static/nothing"} {
		for _, host := range []string{"", "evil.example"} {
			a := p.do(t, "GET", path, host, "", "", nil)
			csp := a.header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "frame-ancestors 'none'") || a.header.Get("X-Frame-Options") != "DENY" || a.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("GET %s (Host %q): %d, CSP %q, X-Frame-Options %q, X-Content-Type-Options %q", path, host, a.code,
					csp, a.header.Get("X-Frame-Options"), a.header.Get("X-Content-Type-Options"))
			}
		}
	}
	// A link with run=1 is a page like any other: the server starts nothing.
	if runs := p.runner.Runs(); len(runs) != 1 {
		t.Errorf("%d runs after GET /?run=1, want the one POSTed", len(runs))
	}
}

// The page and its files are served from the binary.
func TestStatic(t *testing.T) {
	p := newPage(t, RunnerConfig{})
	for path, want := range map[string]string{
		"/":                 `<form id="knobs"`,
		"/static/app.js":    "EventSource",
		"/static/style.css": "--compute: #c87137",
	} {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d, no %q", path, resp.StatusCode, want)
		}
	}
	resp, err := http.Get(p.URL + "/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET /nothing: %d", resp.StatusCode)
	}
}

// A queued run says how many runs are ahead of it; a Compare is cancelled
// as a whole.
func TestQueuePlaceAndGroupCancel(t *testing.T) {
	p := newPage(t, RunnerConfig{})
	_, long, _ := p.submit(t, "/api/runs", "scenario=sync&tasks=3&unit=1s") // 42 s
	awaitState(t, p.runner, long[0].ID, 10*time.Second, Running)
	code, views, m := p.submit(t, "/api/compare", "tasks=1&unit=1ms")
	if code != http.StatusAccepted {
		t.Fatalf("compare: %d %v", code, m)
	}
	for i, v := range views {
		if v.Ahead != i+1 {
			t.Errorf("%s: %d runs ahead, want %d", v.Knobs.Scenario, v.Ahead, i+1)
		}
	}
	for _, path := range []string{fmt.Sprintf("/api/groups/%d/cancel", views[0].Group), fmt.Sprintf("/api/runs/%d/cancel", long[0].ID)} {
		resp, err := http.Post(p.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("POST %s: %d", path, resp.StatusCode)
		}
	}
	for _, v := range append(views, long...) {
		if got := awaitState(t, p.runner, v.ID, 10*time.Second, Cancelled, Done, Failed); got.State != Cancelled {
			t.Errorf("run %d: %s (%s), want cancelled", v.ID, got.State, got.Error)
		}
	}
}

// peerEnv names the directory of the article's Tokio programs, as the
// client command reads it.
const peerEnv = "ASYNCTRACE_TOKIO_PEER"

// needPeer skips a test that runs the article's Tokio programs where
// they are not built (scripts/build-peer), and returns their directory.
func needPeer(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(peerEnv)
	if _, err := os.Stat(filepath.Join(dir, "client_single")); dir == "" || err != nil {
		t.Skipf("no Tokio programs: build them with scripts/build-peer and set %s to their directory", peerEnv)
	}
	return dir
}

// The runtime knob: the child's command line carries -runtime tokio from
// the parsed knob; what Tokio has no program for is refused, saying so;
// /api/info lists the runtimes and says whether Tokio's programs are
// there.
func TestRuntimeKnob(t *testing.T) {
	t.Setenv(fakeChildEnv, "args")
	p := newPage(t, RunnerConfig{Exe: os.Args[0], Peers: func() PeerStatus {
		return PeerStatus{Dir: "/nowhere", Note: "build them with scripts/build-peer"}
	}})
	code, views, m := p.submit(t, "/api/runs", "runtime=tokio&scenario=multi-thread&tasks=3&unit=10ms&procs=2")
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %v", code, m)
	}
	if want := "go run ./cmd/client -runtime tokio -scenario multi-thread -tasks 3 -unit 10ms -procs 2"; views[0].Command != want || views[0].Knobs.Runtime != scenario.Tokio {
		t.Errorf("command shown %q, runtime %q; want %q", views[0].Command, views[0].Knobs.Runtime, want)
	}
	awaitState(t, p.runner, views[0].ID, time.Minute, Failed)
	run, _ := p.runner.Get(views[0].ID)
	lines, _, _ := run.Lines(0)
	if len(lines) == 0 || !strings.Contains(lines[0], " -runtime tokio -scenario multi-thread -tasks 3 -unit 10ms -procs 2 -json ") {
		t.Errorf("the child's command line: %q, want -runtime tokio with the knobs", lines)
	}
	// Go's runs say nothing of the runtime: the client's default.
	_, views, _ = p.submit(t, "/api/runs", "runtime=go&scenario=sync&tasks=1&unit=10ms")
	awaitState(t, p.runner, views[0].ID, time.Minute, Failed)
	run, _ = p.runner.Get(views[0].ID)
	if lines, _, _ := run.Lines(0); len(lines) == 0 || strings.Contains(lines[0], "-runtime") || !strings.Contains(lines[0], "-scenario sync") {
		t.Errorf("Go's child's command line: %q, want no -runtime", lines)
	}

	for _, tt := range []struct{ path, form, field, says string }{
		{"/api/runs", "runtime=rust", "runtime", `"rust" is none of go, tokio`},
		{"/api/runs", "runtime=tokio&runtime=go", "runtime", "more than once"},
		{"/api/runs", "runtime=tokio&scenario=single-thread&compute=sleep", "compute", "single-thread with sleep has no Tokio program"},
		{"/api/runs", "runtime=tokio&scenario=multi-thread&compute=cpu", "compute", "has no Tokio program"},
		{"/api/runs", "runtimes=go,tokio", "runtimes", "not a knob"},
		{"/api/compare", "runtime=tokio&compute=syscall", "compute", "has no Tokio program"},
		{"/api/compare", "runtimes=go,tokio&compute=sleep", "compute", "on Tokio"},
		{"/api/compare", "runtimes=go,rust", "runtimes", `"rust" is none of`},
		{"/api/compare", "runtimes=tokio,tokio", "runtimes", "twice"},
		{"/api/compare", "runtimes=go&runtimes=tokio", "runtimes", "more than once"},
		{"/api/compare", "runtimes=go,tokio&runtime=go", "runtimes", "one or the other"},
		{"/api/compare", "runtimes=", "runtimes", "none of"},
	} {
		code, _, m := p.submit(t, tt.path, tt.form)
		fields, _ := m["fields"].(map[string]any)
		msg, _ := fields[tt.field].(string)
		if tt.path == "/api/compare" && tt.field == "compute" {
			msg, _ = m["error"].(string)
		}
		if code != http.StatusBadRequest || !strings.Contains(msg, tt.says) {
			t.Errorf("POST %s %s: %d %v; want 400 saying on %s %q", tt.path, tt.form, code, m, tt.field, tt.says)
		}
	}
	if n := len(p.runner.Runs()); n != 2 {
		t.Errorf("%d runs after the refused requests, want the 2 accepted", n)
	}

	a := p.do(t, "GET", "/api/check?runtime=tokio&scenario=sync&compute=cpu", "", "", "", nil)
	if fields, _ := a.body["fields"].(map[string]any); a.body["ok"] != false || fields["compute"] == nil {
		t.Errorf("check of Tokio with compute cpu: %v", a.body)
	}
	a = p.do(t, "GET", "/api/check?runtime=tokio&scenario=os-threads&procs=2&unit=1s", "", "", "", nil)
	if a.body["ok"] != true || a.body["expected_ms"] != 28000.0 || !strings.Contains(a.body["command"].(string), "-runtime tokio") {
		t.Errorf("check of Tokio's os-threads with rayon's 2 threads: %v; want 28u and the command", a.body)
	}
	a = p.do(t, "GET", "/api/info", "", "", "", nil)
	if rts, _ := a.body["runtimes"].([]any); len(rts) != 2 || rts[0] != "go" || rts[1] != "tokio" {
		t.Errorf("/api/info runtimes %v", a.body["runtimes"])
	}
	if tk, _ := a.body["tokio"].(map[string]any); tk == nil || tk["available"] != false || !strings.Contains(tk["note"].(string), "scripts/build-peer") {
		t.Errorf("/api/info tokio %v, want not available and how to build them", a.body["tokio"])
	}
	if d, _ := a.body["defaults"].(map[string]any); d["runtime"] != "go" {
		t.Errorf("/api/info defaults %v, want runtime go", a.body["defaults"])
	}
}

// A Tokio run through the API: the article's own program runs, and the
// run has its result, lines and figures as a Go run has. Where the
// programs are missing, the run fails with the client's message, which
// says how to build them.
func TestTokioRun(t *testing.T) {
	needPeer(t)
	p := newPage(t, RunnerConfig{})
	_, views, m := p.submit(t, "/api/runs", "runtime=tokio&scenario=single-thread&tasks=3&unit=20ms")
	if len(views) != 1 {
		t.Fatalf("POST: %v", m)
	}
	v := awaitState(t, p.runner, views[0].ID, time.Minute, Done, Failed)
	if v.State != Done || v.Result == nil || v.Result.Runtime != scenario.Tokio || v.Result.RuntimeVersion == "" || !v.HasSVG || len(v.Checks) == 0 {
		t.Fatalf("Tokio run: %s %q, result %+v, svg %v", v.State, v.Error, v.Result, v.HasSVG)
	}
	run, _ := p.runner.Get(v.ID)
	if lines, _, _ := run.Lines(0); !strings.Contains(strings.Join(lines, "\n"), "task3 finished") {
		t.Errorf("Tokio's lines: %q, want the article's", lines)
	}
	if svg := run.SVG(true); !strings.Contains(string(svg), `data-stage="compute"`) {
		t.Errorf("Tokio's compact figure has no compute: %.200q", svg)
	}

	t.Setenv(peerEnv, t.TempDir())
	_, views, _ = p.submit(t, "/api/runs", "runtime=tokio&scenario=single-thread&tasks=3&unit=20ms")
	v = awaitState(t, p.runner, views[0].ID, time.Minute, Done, Failed)
	if v.State != Failed || !strings.Contains(v.Error, "scripts/build-peer") || !strings.Contains(v.Error, "client_single") {
		t.Errorf("Tokio run without the programs: %s %q, want failed saying how to build them", v.State, v.Error)
	}
}

// Compare in Go and Tokio: the five scenarios in each, ten runs under one
// group, Go's and Tokio's of each scenario side by side; single-thread
// keeps its one thread, Go's os-threads its P per task, and the procs
// knob sets Tokio's workers and rayon's threads.
func TestCompareRuntimes(t *testing.T) {
	needPeer(t)
	p := newPage(t, RunnerConfig{})
	code, views, m := p.submit(t, "/api/compare", "runtimes=go,tokio&tasks=2&unit=5ms&procs=2")
	if code != http.StatusAccepted || len(views) != 10 {
		t.Fatalf("compare: %d %v", code, m)
	}
	for i, v := range views {
		sc, rt := scenario.All[i/2], scenario.Runtimes[i%2]
		if v.Knobs.Scenario != sc || v.Knobs.Runtime != rt || v.Group == 0 || v.Group != views[0].Group {
			t.Errorf("run %d: %s on %s, group %d; want %s on %s", i, v.Knobs.Scenario, v.Knobs.Runtime, v.Group, sc, rt)
		}
		wantP := 2
		if sc == scenario.SingleThread || sc == scenario.OSThreads && rt == scenario.Go {
			wantP = 0
		}
		if v.Knobs.Procs != wantP {
			t.Errorf("%s on %s: procs %d, want %d", sc, rt, v.Knobs.Procs, wantP)
		}
	}
	for _, v := range views {
		got := awaitState(t, p.runner, v.ID, 2*time.Minute, Done, Failed)
		if got.State != Done || !got.HasSVG || got.Result == nil || got.Result.Runtime != v.Knobs.Runtime {
			t.Errorf("%s on %s: %s %q, svg %v", v.Knobs.Scenario, v.Knobs.Runtime, got.State, got.Error, got.HasSVG)
		}
	}
	if group := p.runner.Group(views[0].Group); len(group) != 10 {
		t.Errorf("group: %d runs", len(group))
	}
}
