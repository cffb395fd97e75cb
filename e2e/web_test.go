package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"asynctrace/scenario"
	"asynctrace/tracing"
)

// startWeb runs the compose file's web command on a free loopback port,
// exporting to the OTLP ports given, its links to this Jaeger's UI.
func startWeb(t *testing.T, otlp map[uint32]int) (base string, p *proc) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ui := "http://127.0.0.1:1" // no Jaeger: links are not made anyway
	if jaegerd != nil {
		ui = jaegerd.client().BaseURL
	}
	args, env := composeCommand(t, "web", map[string]string{"addr": addr, "jaeger-ui": ui, "jaeger-api": ui}, otlp)
	if dir := os.Getenv(peerEnv); dir != "" {
		env = append(env, peerEnv+"="+dir) // the Tokio programs, for -runtime tokio
	}
	p = startUntil(t, "web", webBin, args, env, "open http://"+addr)
	return "http://" + addr, p
}

// until waits, up to d, for a JavaScript expression to be true on the
// page.
func until(t *testing.T, ctx context.Context, js string, d time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(d))); err != nil {
		t.Fatalf("waiting %v for %s: %v", d, js, err)
	}
}

// children are the ids of the processes whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // ended meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			id, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			out = append(out, id)
		}
	}
	return out
}

// exceptions records the page's uncaught exceptions and unhandled
// promise rejections, as DevTools reports them, until ctx ends.
func exceptions(ctx context.Context) func() []string {
	var mu sync.Mutex
	var seen []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() {
				mu.Lock()
				seen = append(seen, m.Text)
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// browser is a headless Debian chromium, driven over the DevTools
// protocol, at the page's design size.
func browser(t *testing.T, w, h int) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); name != "" && err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no chromium (Debian's package, which .ci/run installs, or $CHROMIUM)")
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Headless,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(w, h),
		chromedp.Flag("hide-scrollbars", true), chromedp.Flag("force-device-scale-factor", "1"))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel3)
	return ctx
}

// shot takes a screenshot (of the whole page, or of the element the
// selector names), saved as name in $ASYNCTRACE_SCREENSHOTS if set
// (scripts/screenshots: those of docs/running.md), and if name is not
// empty.
func shot(t *testing.T, ctx context.Context, name string, element chromedp.ID) image.Image {
	t.Helper()
	action := chromedp.FullScreenshot(100)
	if element != "" {
		action = chromedp.Screenshot(element)
	}
	b, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("ASYNCTRACE_SCREENSHOTS"); dir != "" && name != "" {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot %q: %v", name, err)
	}
	return img
}

type segment struct {
	Label, Task string
	Start, End  float64 // µs
	X, Y        float64 // the centre, in the page
	InX, InY    float64 // a point inside, clear of the stroke and of the centred labels
}

// computesOnThreads reads the figure's compute segments on the OS thread
// lanes from the page's DOM.
func computesOnThreads(t *testing.T, ctx context.Context, sel string) []segment {
	t.Helper()
	js := fmt.Sprintf(`[...document.querySelectorAll(%q)].map(r => { const b = r.getBoundingClientRect(); return {
		Label: r.dataset.label, Task: r.dataset.task, Start: +r.dataset.startUs, End: +r.dataset.endUs,
		X: b.x + scrollX + b.width / 2, Y: b.y + scrollY + b.height / 2,
		InX: b.x + scrollX + Math.min(5, b.width / 4), InY: b.y + scrollY + Math.min(5, b.height / 4) } })`, sel+` rect.segment[data-lane="thread"][data-stage="compute"]`)
	segs, err := chromedp.Run(ctx, chromedp.Evaluate[[]segment](js))
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// run runs one browser action and returns its value, failing the test on
// an error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func near(c interface{ RGBA() (r, g, b, a uint32) }, hex string) bool {
	var want [3]uint32
	fmt.Sscanf(hex, "#%02x%02x%02x", &want[0], &want[1], &want[2])
	r, g, b, _ := c.RGBA()
	got := [3]uint32{r >> 8, g >> 8, b >> 8}
	for i := range got {
		if d := int(got[i]) - int(want[i]); d < -12 || d > 12 {
			return false
		}
	}
	return true
}

// The page in a real browser, as a person uses it: choose single-thread,
// 3 tasks, u = 50ms, Run; the lines stream in while it runs; the figure
// has the three computes in series on one OS thread lane; the makespan
// shown is about 22u; the trace link names a trace the real Jaeger holds
// with every span. Then Compare: five figures.
func TestE2EWebPage(t *testing.T) {
	needJaeger(t)
	ctx := browser(t, 1280, 800)
	base, _ := startWeb(t, jaegerd.otlpPorts())
	thrown := exceptions(ctx)
	const u = 50 * time.Millisecond

	// Record what the lines box held each time it changed, and the run's
	// state then: lines must come while it runs, not all at the end.
	watch := `window.seen = []; new MutationObserver(() => seen.push([document.getElementById("lines").textContent.split("\n").length - 1,
		document.getElementById("run-state").textContent])).observe(document.getElementById("lines"), {childList: true, characterData: true, subtree: true}); true`
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("run")),
		chromedp.SetValue(chromedp.ID("scenario"), "single-thread"),
		chromedp.SetValue(chromedp.ID("tasks"), "3"),
		chromedp.SetValue(chromedp.ID("unit"), u.String()),
		chromedp.SetValue(chromedp.ID("procs"), "0"),
		chromedp.Evaluate[chromedp.Void](watch),
		chromedp.Click(chromedp.ID("run")),
		chromedp.WaitVisible(chromedp.CSS("#figure svg")),
		chromedp.WaitVisible(chromedp.CSS("#checks li")),
	)
	if err != nil {
		t.Fatal(err)
	}
	seen := run(t, ctx, chromedp.Evaluate[[][]any](`seen`))
	lines := run(t, ctx, chromedp.Text(chromedp.ID("lines")))
	makespan := run(t, ctx, chromedp.Text(chromedp.ID("makespan")))
	state := run(t, ctx, chromedp.Text(chromedp.ID("run-state")))
	location := run(t, ctx, chromedp.Location())
	if !strings.EqualFold(state, "done") {
		t.Fatalf("run state %q", state)
	}
	streamed := false
	for _, s := range seen {
		if n, _ := s[0].(float64); n >= 1 && s[1] == "running" { // textContent: as written, not as styled
			streamed = true
		}
	}
	if !streamed {
		t.Errorf("no line shown while the run was running: %v", seen)
	}
	for _, want := range []string{"task1 started", "task2 written", "task3 read", "task1 finished"} {
		if !strings.Contains(lines, want) {
			t.Errorf("lines have no %q:\n%s", want, lines)
		}
	}
	if !strings.Contains(location, "scenario=single-thread") || !strings.Contains(location, "unit=50ms") || !strings.Contains(location, "id=") {
		t.Errorf("the page's URL %q does not carry the knobs and the run", location)
	}

	// The figure: three computes, one after another, on one OS thread lane.
	segs := computesOnThreads(t, ctx, "#figure")
	if len(segs) != 3 {
		t.Fatalf("%d computes on thread lanes, want 3: %+v", len(segs), segs)
	}
	slices.SortFunc(segs, func(a, b segment) int { return int(a.Start - b.Start) })
	for i, s := range segs {
		if s.Label != segs[0].Label {
			t.Errorf("compute of %s on lane %s, %s's on %s: want one lane", s.Task, s.Label, segs[0].Task, segs[0].Label)
		}
		if i > 0 && s.Start < segs[i-1].End-50 {
			t.Errorf("%s's compute starts %.0fµs before %s's ends: want them in series", s.Task, segs[i-1].End-s.Start, segs[i-1].Task)
		}
	}
	m := regexp.MustCompile(`= ([0-9.]+)u`).FindStringSubmatch(makespan)
	if m == nil {
		t.Fatalf("makespan shown %q", makespan)
	}
	if units, _ := strconv.ParseFloat(m[1], 64); units < 22 || units > 22*(1+scenario.DefaultTolerance) {
		t.Errorf("makespan shown %q, want about 22u", makespan)
	}
	// Who made the two tasks that waited wait, as the summary says it, and
	// what a waiting task's stack takes.
	facts := run(t, ctx, chromedp.Text(chromedp.ID("summary")))
	if n := len(regexp.MustCompile(`who made it wait\s*task\d waited [48]\.\du: task\d's compute`).FindAllString(facts, -1)); n != 2 {
		t.Errorf("the page explains %d waits, want the 4u and the 8u ones:\n%s", n, facts)
	}
	if !regexp.MustCompile(`a task's stack\s*[0-9.]+ KiB: its goroutine's`).MatchString(facts) {
		t.Errorf("the page does not say what a task's stack takes:\n%s", facts)
	}

	// The trace link names a trace the real Jaeger holds, every span of it.
	href := run(t, ctx, chromedp.AttributeValue(chromedp.ID("trace-link"), "href")).Value
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("trace-note").textContent.match(/In Jaeger: \d+ spans\./) !== null`,
		chromedp.WithPollingTimeout(45*time.Second))); err != nil {
		t.Fatalf("trace link %q: no span count: %v", href, err)
	}
	note := run(t, ctx, chromedp.Text(chromedp.ID("trace-note")))
	id := href[strings.LastIndex(href, "/")+1:]
	if !strings.HasPrefix(href, jaegerd.client().BaseURL+"/trace/") || len(id) != 32 {
		t.Fatalf("trace link %q", href)
	}
	tr := jaegerd.awaitTrace(t, id, scenarioSpans(scenario.SingleThread, 3))
	if !strings.Contains(note, fmt.Sprintf("%d spans", len(tr.Spans))) {
		t.Errorf("the page says %q; Jaeger holds %d spans", note, len(tr.Spans))
	}

	// The screenshot: the article's colours where the DOM says the
	// computes and a connect are.
	img := shot(t, ctx, "web-run.png", "")
	// Not the centre: a white label may cover it.
	if c := img.At(int(segs[0].InX), int(segs[0].InY)); !near(c, "#c87137") {
		t.Errorf("pixel inside the first compute (%.0f, %.0f) is %v, want the compute orange", segs[0].InX, segs[0].InY, c)
	}
	connect := run(t, ctx, chromedp.Evaluate[segment](`(() => { const b = document.querySelector('#figure rect.segment[data-stage="connect"]').getBoundingClientRect(); return {InX: b.x + scrollX + Math.min(5, b.width/4), InY: b.y + scrollY + Math.min(5, b.height/4)} })()`))
	if c := img.At(int(connect.InX), int(connect.InY)); !near(c, "#37abc8") {
		t.Errorf("pixel at a connect is %v, want the connect blue", c)
	}

	// Compare: the five scenarios, five figures on one scale.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("compare"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll("#figures figure svg").length === 5 && !document.getElementById("compare-status").textContent.includes("running")`,
		chromedp.WithPollingTimeout(2*time.Minute))); err != nil {
		t.Fatalf("Compare: %v", err)
	}
	figs := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#figures figure")].map(f => f.dataset.scenario)`))
	if !slices.Equal(figs, []string{"sync", "sequential", "single-thread", "multi-thread", "os-threads"}) {
		t.Errorf("Compare drew %v, want the five scenarios in order", figs)
	}
	// One time axis: every figure's plot starts at the same height, and
	// the same time is the same height in each (sync is 42u, the single
	// thread 22u: their plots' heights keep that ratio).
	heights := run(t, ctx, chromedp.Evaluate[map[string]float64](`Object.fromEntries([...document.querySelectorAll("#figures figure")].map(f => {
		const lanes = f.querySelectorAll('rect.lane'); const b = lanes[0].getBoundingClientRect(); return [f.dataset.scenario, b.height] }))`))
	if r := heights["sync"] / heights["single-thread"]; r < 42.0/22*0.95 || r > 42.0/22*1.05 {
		t.Errorf("sync's plot %.0f px, single-thread's %.0f px: ratio %.2f, want about 42/22", heights["sync"], heights["single-thread"], r)
	}
	if ex := thrown(); len(ex) > 0 {
		t.Errorf("the page threw: %q", ex)
	}
}

// Without Jaeger the same run works, and the page says there is no trace
// link, and why.
func TestE2EWebPageNoJaeger(t *testing.T) {
	port, err := freePort() // nothing listens there once freePort returns
	if err != nil {
		t.Fatal(err)
	}
	ctx := browser(t, 800, 844)
	// A phone's width: Chromium's window is at least 500 px wide, its
	// viewport can be less.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	base, _ := startWeb(t, map[uint32]int{4317: port, 4318: port})
	thrown := exceptions(ctx)
	// A link with run=1 fills the knobs and asks; the run starts on the
	// click.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/?scenario=single-thread&tasks=3&unit=20ms&run=1"),
		chromedp.WaitVisible(chromedp.ID("confirm-run")),
	); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, `document.getElementById("expect").textContent !== ""`, 10*time.Second)
	ask := run(t, ctx, chromedp.Text(chromedp.ID("confirm-text")))
	if !strings.Contains(ask, "single-thread, 3 tasks, u = 20ms") {
		t.Errorf("the confirmation says %q, want the knobs", ask)
	}
	if runs := run(t, ctx, chromedp.Evaluate[[]any](`fetch("/api/runs").then(r => r.json())`, chromedp.EvalAwaitPromise)); len(runs) != 0 {
		t.Errorf("%d runs before the click on a run=1 link, want none", len(runs))
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("confirm-run")),
		chromedp.WaitVisible(chromedp.CSS("#figure svg")),
	); err != nil {
		t.Fatal(err)
	}
	state := run(t, ctx, chromedp.Text(chromedp.ID("run-state")))
	note := run(t, ctx, chromedp.Text(chromedp.ID("trace-note")))
	if !strings.EqualFold(state, "done") {
		t.Errorf("run state %q", state)
	}
	if !strings.Contains(note, "No trace link") || !strings.Contains(note, fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Errorf("trace note %q, want why there is no link, naming the OTLP address", note)
	}
	links := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#trace-link").length`))
	if links != 0 {
		t.Errorf("%d trace links without Jaeger", links)
	}
	// Nothing wider than the phone's screen but the figure's own box.
	wide := run(t, ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`))
	if wide > 390 {
		over := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > 391).slice(0, 8).map(e => e.tagName + "#" + e.id + "." + e.className.baseVal + e.className + " " + Math.round(e.getBoundingClientRect().right))`))
		t.Errorf("the page is %.0f px wide on a 390 px screen: %v", wide, over)
	}
	shot(t, ctx, "web-phone.png", "")
	if ex := thrown(); len(ex) > 0 {
		t.Errorf("the page threw: %q", ex)
	}
}

// A run whose process dies (the OOM killer, say) fails: the page says so
// and why, shows no trace link, and stops looking; and every error the
// page meets it says, without an unhandled rejection.
func TestE2EWebPageFailedRun(t *testing.T) {
	port, err := freePort() // no Jaeger
	if err != nil {
		t.Fatal(err)
	}
	ctx := browser(t, 1280, 800)
	base, web := startWeb(t, map[uint32]int{4317: port, 4318: port})
	thrown := exceptions(ctx)
	// A link with run=1, as another page could make: it asks first.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/?scenario=sync&tasks=3&unit=1s&run=1"), // 42 s
		chromedp.WaitEnabled(chromedp.ID("confirm-run")),
	); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "web-confirm.png", "knobs")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("confirm-run"))); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, `document.getElementById("run-state").textContent === "running" && document.getElementById("lines").textContent.includes("task1 started")`, 30*time.Second)
	kids := children(t, web.cmd.Process.Pid)
	if len(kids) != 1 {
		t.Fatalf("cmd/web has %d children, want the run's one: %v", len(kids), kids)
	}
	if err := syscall.Kill(kids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, `!document.getElementById("run-failed").hidden && document.getElementById("trace").dataset.polling === "no"`, 30*time.Second)
	state := run(t, ctx, chromedp.Text(chromedp.ID("run-state")))
	why := run(t, ctx, chromedp.Text(chromedp.ID("run-failed")))
	if !strings.EqualFold(state, "failed") || !strings.Contains(why, "The run failed") || !strings.Contains(why, "signal (killed)") {
		t.Errorf("state %q, %q; want failed, saying the process was killed", state, why)
	}
	trace := run(t, ctx, chromedp.Evaluate[map[string]string](`({state: document.getElementById("trace").dataset.state, links: String(document.querySelectorAll("#trace-link").length), note: document.getElementById("trace-note").textContent})`))
	if trace["state"] != "none" || trace["links"] != "0" || trace["note"] == "" {
		t.Errorf("trace %v; want none, no link, a note saying why", trace)
	}
	shot(t, ctx, "web-failed.png", "")

	// An error the server answers is said on the page: cancelling the
	// ended run.
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("cancel").hidden = false; true`),
		chromedp.Click(chromedp.ID("cancel")),
	); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, `!document.getElementById("page-error").hidden`, 10*time.Second)
	if msg := run(t, ctx, chromedp.Text(chromedp.ID("page-error"))); !strings.Contains(msg, "ended") {
		t.Errorf("page error %q, want the server's: the run has ended", msg)
	}
	if ex := thrown(); len(ex) > 0 {
		t.Errorf("the page threw: %q", ex)
	}
}

// A Tokio run through the page, as a person makes it: choose the runtime
// Tokio, single-thread, Run; the page says the runtime, shows the
// article's program's lines, its figure (the three computes in a row on
// the one worker) and its trace in Jaeger (service tokio-client). Then a
// Compare of Go and Tokio: the five scenarios in each, drawn on one time
// axis, Go's and Tokio's of each scenario side by side, labelled; and on
// a phone's width, nothing wider than the screen.
func TestE2EWebPageTokio(t *testing.T) {
	needPeer(t)
	needJaeger(t)
	ctx := browser(t, 1280, 800)
	base, _ := startWeb(t, jaegerd.otlpPorts())
	thrown := exceptions(ctx)
	const u = 20 * time.Millisecond

	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("run")),
	); err != nil {
		t.Fatal(err)
	}
	// The list comes from /api/info, and the programs are there.
	opts := run(t, ctx, chromedp.Evaluate[[]string](`[...document.getElementById("runtime").options].map(o => o.value + ":" + o.textContent)`))
	if !slices.Equal(opts, []string{"go:Go", "tokio:Tokio"}) {
		t.Errorf("runtime options %q, want Go and Tokio, Tokio built", opts)
	}
	// Choose as a person does: the form follows (the threads knob, the
	// expected makespan), and the URL carries the runtime.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("runtime"), "tokio"),
		chromedp.SetValue(chromedp.ID("scenario"), "single-thread"),
		chromedp.SetValue(chromedp.ID("tasks"), "3"),
		chromedp.SetValue(chromedp.ID("unit"), u.String()),
		chromedp.SetValue(chromedp.ID("procs"), "0"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("runtime").dispatchEvent(new Event("input")); true`),
	); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, `document.getElementById("expect").textContent.includes("Tokio")`, 10*time.Second)
	if lbl := run(t, ctx, chromedp.Text(chromedp.ID("procs-label"))); lbl != "Threads" {
		t.Errorf("the procs knob is labelled %q for Tokio, want Threads", lbl)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("run")),
		chromedp.WaitVisible(chromedp.CSS("#figure svg")),
		chromedp.WaitVisible(chromedp.CSS("#checks li")),
	); err != nil {
		t.Fatal(err)
	}
	title := run(t, ctx, chromedp.Text(chromedp.ID("run-title")))
	command := run(t, ctx, chromedp.Text(chromedp.ID("run-command")))
	shown := run(t, ctx, chromedp.Text(chromedp.ID("runtime-shown")))
	state := run(t, ctx, chromedp.Text(chromedp.ID("run-state")))
	lines := run(t, ctx, chromedp.Text(chromedp.ID("lines")))
	location := run(t, ctx, chromedp.Location())
	if !strings.EqualFold(state, "done") {
		t.Fatalf("Tokio run: state %q: %s", state, run(t, ctx, chromedp.Text(chromedp.ID("run-failed"))))
	}
	if !strings.Contains(title, "Tokio, single-thread") || !strings.Contains(command, "-runtime tokio -scenario single-thread") ||
		!regexp.MustCompile(`^Tokio 1\.\d+`).MatchString(shown) || !strings.Contains(location, "runtime=tokio") {
		t.Errorf("the page says %q, %q, runtime %q, URL %q; want Tokio throughout", title, command, shown, location)
	}
	for _, want := range []string{"task1 started", "task3 read", "task2 finished"} {
		if !strings.Contains(lines, want) {
			t.Errorf("lines have no %q:\n%s", want, lines)
		}
	}
	segs := computesOnThreads(t, ctx, "#figure")
	if len(segs) != 3 {
		t.Fatalf("%d computes on thread lanes, want 3: %+v", len(segs), segs)
	}
	for _, s := range segs {
		if s.Label != segs[0].Label {
			t.Errorf("computes on lanes %s and %s: want Tokio's one worker", segs[0].Label, s.Label)
		}
	}
	href := run(t, ctx, chromedp.AttributeValue(chromedp.ID("trace-link"), "href")).Value
	until(t, ctx, `document.getElementById("trace-note").textContent.match(/In Jaeger: \d+ spans\./) !== null`, 45*time.Second)
	jaegerd.awaitTrace(t, href[strings.LastIndex(href, "/")+1:], scenarioSpansOf(tracing.TokioClientService, scenario.SingleThread, 3))
	shot(t, ctx, "", "") // not in docs: the run's page, as web-run.png, with Tokio

	// Compare Go and Tokio at the same knobs: ten runs.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("compare-runtimes"))); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, `document.querySelectorAll("#figures figure svg").length === 10 && document.getElementById("compare-status").textContent.includes("all 10 ended")`, 3*time.Minute)
	type fig struct {
		Scenario, Runtime, Group, Caption string
		Failed                            bool
		PxPerMS, Y0, Left, Top            float64
	}
	// Each figure's time scale and where its time 0 is: from its segments'
	// times (data-*-us) and where the page draws them.
	figs := run(t, ctx, chromedp.Evaluate[[]fig](`[...document.querySelectorAll("#figures figure")].map(f => {
		const segs = [...f.querySelectorAll("rect.segment")];
		const top = Math.min(...segs.map(r => r.getBoundingClientRect().top)), bottom = Math.max(...segs.map(r => r.getBoundingClientRect().bottom));
		const t0 = Math.min(...segs.map(r => +r.dataset.startUs)), t1 = Math.max(...segs.map(r => +r.dataset.endUs));
		const k = (bottom - top) / ((t1 - t0) / 1000);
		const b = f.getBoundingClientRect();
		return {Scenario: f.dataset.scenario, Runtime: f.dataset.runtime, Group: f.closest(".scenario-group").querySelector("h3").textContent,
			Caption: f.querySelector("figcaption").textContent, Failed: !!f.querySelector(".failure"),
			PxPerMS: k, Y0: top + scrollY - t0 / 1000 * k, Left: b.left, Top: b.top + scrollY} })`))
	var order []string
	for _, f := range figs {
		order = append(order, f.Scenario+"/"+f.Runtime)
		if f.Failed || f.Group != f.Scenario || !strings.HasPrefix(f.Caption, map[string]string{"go": "Go ", "tokio": "Tokio "}[f.Runtime]) {
			t.Errorf("%s on %s: in the group %q, captioned %q, failed %v; want its scenario's group, labelled with its runtime", f.Scenario, f.Runtime, f.Group, f.Caption, f.Failed)
		}
	}
	var want []string
	for _, sc := range scenario.All {
		want = append(want, string(sc)+"/go", string(sc)+"/tokio")
	}
	if !slices.Equal(order, want) {
		t.Errorf("Compare drew %v, want Go and Tokio of each scenario side by side, in the scenarios' order", order)
	}
	// One time axis: the same time scale in every figure; in each row of
	// figures, time 0 at the same height.
	for _, f := range figs {
		if r := f.PxPerMS / figs[0].PxPerMS; r < 0.97 || r > 1.03 {
			t.Errorf("%s on %s: %.3f px/ms, %s on %s %.3f: want one time scale", f.Scenario, f.Runtime, f.PxPerMS, figs[0].Scenario, figs[0].Runtime, figs[0].PxPerMS)
		}
		for _, g := range figs {
			if g.Top == f.Top && (g.Y0-f.Y0 > 2 || f.Y0-g.Y0 > 2) {
				t.Errorf("%s on %s starts its time at y = %.0f, %s on %s, in the same row, at %.0f: want one time axis", f.Scenario, f.Runtime, f.Y0, g.Scenario, g.Runtime, g.Y0)
			}
		}
	}
	if rows := run(t, ctx, chromedp.Evaluate[int](`new Set([...document.querySelectorAll("#figures figure")].map(f => Math.round(f.getBoundingClientRect().top))).size`)); rows != 1 {
		widths := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#figures svg")].map(s => s.dataset.w + "→" + s.getAttribute("width"))`))
		t.Errorf("the ten figures take %d rows at 1280 px, want one: widths %v", rows, widths)
	}
	shot(t, ctx, "web-compare.png", "comparison")

	// A phone's width: the Compare wraps, at one scale, and nothing is
	// wider than the screen.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, `document.documentElement.clientWidth <= 390`, 10*time.Second)
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event("resize")); true`)); err != nil {
		t.Fatal(err)
	}
	if wide := run(t, ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`)); wide > 390 {
		over := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > 391).slice(0, 8).map(e => e.tagName + "#" + e.id + "." + e.className.baseVal + e.className + " " + Math.round(e.getBoundingClientRect().right))`))
		t.Errorf("the page is %.0f px wide on a 390 px screen: %v", wide, over)
	}
	shot(t, ctx, "", "comparison") // not in docs: a tall column of the five
	if ex := thrown(); len(ex) > 0 {
		t.Errorf("the page threw: %q", ex)
	}
}
