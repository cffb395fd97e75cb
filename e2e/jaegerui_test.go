package e2e

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"asynctrace/diagram"
	"asynctrace/internal/tracetest"
	"asynctrace/scenario"
	"asynctrace/tracing"
)

// needUI skips a test without the real Jaeger UI's build, naming where it
// was looked for; in CI ($ASYNCTRACE_JAEGER_UI_ASSETS set) it fails.
func needUI(t *testing.T) {
	t.Helper()
	needJaeger(t)
	if uiAssets() != "" {
		return
	}
	msg := fmt.Sprintf("no build of the real Jaeger UI: set $%s, or put it at %s", uiAssetsEnv,
		filepath.Join(moduleRoot(), "..", "shared", "jaeger-ui", "build"))
	if os.Getenv(uiAssetsEnv) != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// uiRow is a row of Jaeger's trace timeline, as the page draws it.
type uiRow struct {
	Service   string    `json:"svc"`
	Operation string    `json:"op"`
	Error     bool      `json:"error"`    // the row's error icon
	Critical  []float64 `json:"critical"` // the critical path's marks on the row: [left, width] in % of the bar area
}

func (r uiRow) String() string { return r.Service + " " + r.Operation }

// The real Jaeger UI draws each scenario's trace as the article does: the
// root, then the tasks, task1…taskN, each followed by its stages (connect,
// response with the server's echo inside, ready, compute), then the
// threads in the order they first served a task, with the stages they
// held; no row with an error icon. Screenshots of the five timelines go
// to .bin/screenshots (or $ASYNCTRACE_SCREENSHOTS).
func TestE2EJaegerUI(t *testing.T) {
	needUI(t)
	otlp := jaegerd.otlpPorts()
	addr, _ := startServer(t, otlp)
	ctx := browser(t, 1400, 2400) // tall: the UI draws only the rows in the window
	shots := os.Getenv("ASYNCTRACE_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(moduleRoot(), ".bin", "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenario.All {
		res := runClient(t, "client-"+string(sc), addr, otlp)
		tr := jaegerd.awaitTrace(t, res.TraceID, scenarioSpans(sc, res.Tasks))
		v := checkJaegerTrace(t, tr, res)
		want := expectedRows(v)

		start := time.Now()
		rows := checkUIRows(t, ctx, string(sc), res.TraceID, want)
		drawn := time.Since(start)
		var critical []string
		for _, r := range rows {
			if len(r.Critical) > 0 {
				critical = append(critical, r.String())
			}
		}
		checkCriticalPath(t, sc, v, rows)
		png := run(t, ctx, chromedp.Screenshot(chromedp.CSS(".TraceTimelineViewer")))
		path := filepath.Join(shots, "jaeger-ui-"+string(sc)+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d rows drawn in %v; the critical path marks %s; %s", sc, len(rows), drawn.Round(time.Millisecond), strings.Join(critical, ", "), path)
		if sc == scenario.SingleThread {
			checkReadyReferences(t, ctx, v, rows, shots)
		}
	}
}

// checkReadyReferences opens, in the real UI, the details of the ready
// span that waited longest and its References: one for each compute that
// held the thread (its span links), named as Jaeger names them; a
// screenshot of it goes beside the others.
func checkReadyReferences(t *testing.T, ctx context.Context, v *tracetest.Trace, rows []uiRow, shots string) {
	t.Helper()
	length := func(i int) time.Duration { r := v.Stages[i][scenario.StageReady]; return r.End.Sub(r.Start) }
	longest := 0
	for i := range v.Stages {
		if length(i) > length(longest) {
			longest = i
		}
	}
	ready := v.Stages[longest][scenario.StageReady]
	if len(ready.Links) == 0 {
		t.Errorf("task%d's ready span (%v) links to nothing", longest+1, length(longest))
		return
	}
	// The rows of the tasks come in task order, one ready row each.
	k, seen := -1, 0
	for i, r := range rows {
		if r.Operation == tracing.SpanReady {
			if seen == longest {
				k = i
				break
			}
			seen++
		}
	}
	open := fmt.Sprintf(`document.querySelectorAll('.span-row')[%d].querySelector('.span-name').click()`, k)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](open)); err != nil {
		t.Fatal(err)
	}
	var refs string
	if !poll(10*time.Second, 100*time.Millisecond, nil, func() bool {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => { const h = document.querySelector('.AccordianReferences--header'); if (h && !document.querySelector('.ReferencesList')) h.click(); return document.querySelectorAll('.ReferencesList--Item').length; })()`))
		if err != nil || n < len(ready.Links) {
			return false
		}
		refs, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.AccordianReferences').innerText`))
		return err == nil
	}) {
		t.Fatalf("the UI shows no References for task%d's ready span (%d links)", longest+1, len(ready.Links))
	}
	for _, id := range ready.Links {
		target := v.ByID[id]
		if !strings.Contains(refs, tracing.SpanCompute) || !strings.Contains(refs, id[:7]) {
			t.Errorf("the References of task%d's ready span read %q, want the compute %s (%s)", longest+1, refs, id, target.Name)
		}
	}
	png := run(t, ctx, chromedp.Screenshot(chromedp.CSS(".TraceTimelineViewer")))
	path := filepath.Join(shots, "jaeger-ui-ready-references.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("task%d's ready span: References %q; %s", longest+1, strings.Join(strings.Fields(refs), " "), path)
}

// checkUIRows opens a trace in the real UI and waits (up to 60s) for its
// rows: they must be want, in that order, and none with an error icon.
func checkUIRows(t *testing.T, ctx context.Context, what, traceID string, want []string) []uiRow {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(jaegerd.client().BaseURL+"/trace/"+traceID)); err != nil {
		t.Fatal(err)
	}
	var rows []uiRow
	if !poll(60*time.Second, 100*time.Millisecond, nil, func() bool {
		var err error
		rows, err = chromedp.Run(ctx, chromedp.Evaluate[[]uiRow](rowsJS))
		return err == nil && len(rows) >= len(want)
	}) {
		t.Fatalf("%s: %d rows drawn in 60s, want %d", what, len(rows), len(want))
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.String())
		if r.Error {
			t.Errorf("%s: %s has an error icon", what, r)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: rows as drawn:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	return rows
}

// rowsJS reads the timeline's rows: the service and operation of each, its
// error icon, and the critical path's marks on its bar.
const rowsJS = `[...document.querySelectorAll('.span-row')].map(r => {
  const svc = r.querySelector('.span-svc-name');
  const op = r.querySelector('.endpoint-name');
  return {
    svc: svc ? svc.textContent.trim() : '',
    op: op ? op.textContent.trim() : '',
    error: !!r.querySelector('.SpanBarRow--errorIcon'),
    critical: [...r.querySelectorAll('.SpanBar--criticalPath')].flatMap(c => [parseFloat(c.style.left), parseFloat(c.style.width)]),
  };
})`

// expectedRows is the order the article's figure needs: the root; the
// tasks, each followed by its stages in order and the server's spans
// inside its response; then the threads, each followed by what it held.
func expectedRows(v *tracetest.Trace) []string {
	row := func(s *diagram.Span) string { return s.Service + " " + s.Name }
	// Siblings by start; tasks created within one microsecond (Jaeger's
	// precision; Tokio's programs create theirs at once) in task order,
	// as the UI draws them.
	task := func(s *diagram.Span) int {
		label, _ := s.Attrs[string(tracing.KeyTask)].(string)
		i, _ := scenario.ParseTaskLabel(label)
		return i
	}
	byStart := func(spans []*diagram.Span) []*diagram.Span {
		spans = slices.Clone(spans)
		slices.SortStableFunc(spans, func(a, b *diagram.Span) int { return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(task(a), task(b))) })
		return spans
	}
	var out []string
	var walk func(s *diagram.Span)
	walk = func(s *diagram.Span) {
		out = append(out, row(s))
		for _, c := range byStart(v.Children(s.ID)) {
			walk(c)
		}
	}
	walk(v.Root)
	return out
}

// scenarioSpans is every span a scenario's trace of n tasks must have in
// Jaeger, by service, before it is read.
func scenarioSpans(sc scenario.Scenario, n int) map[string][]string {
	return scenarioSpansOf(tracing.ClientService, sc, n)
}

// scenarioSpansOf is scenarioSpans for the client service named.
func scenarioSpansOf(clientService string, sc scenario.Scenario, n int) map[string][]string {
	want := map[string][]string{
		clientService:         {tracing.ScenarioSpanName(sc), tracing.SpanTasks},
		tracing.ServerService: {},
	}
	for i := 1; i <= n; i++ {
		want[clientService] = append(want[clientService], tracing.TaskSpanName(i, n))
		for _, st := range scenario.Stages {
			want[clientService] = append(want[clientService], string(st))
		}
		want[tracing.ServerService] = append(want[tracing.ServerService], tracing.SpanEcho, tracing.SpanDelay, tracing.SpanWrite)
	}
	return want
}

// checkCriticalPath checks the black line against what docs/trace.md
// says it means. Jaeger's critical path goes back from the span that ends
// last, through the child that finished last, then to the child that
// finished before that one began: strictly before, to the microsecond.
// So it runs through the task that ended last: its compute, its ready
// time (the wait for a thread, where a compute on another row held it),
// and then, where its response ended a microsecond or more before its
// ready began, through the server's echo and delay; where the two meet on
// the same microsecond (the echo's arrival ends the one and begins the
// other), along the task's own row. It never marks the thread rows: it
// follows parents and children, and they are neither.
func checkCriticalPath(t *testing.T, sc scenario.Scenario, v *tracetest.Trace, rows []uiRow) {
	t.Helper()
	want := expectedRows(v)
	if len(rows) != len(want) {
		return // reported already
	}
	last := 0
	for i, task := range v.Tasks {
		if task.End.After(v.Tasks[last].End) {
			last = i
		}
	}
	// The rows of the last task: its own, then its stages in order.
	at := slices.Index(want, "async-client "+v.Tasks[last].Name)
	if v.Tasks[last].Name == "task" || at < 0 {
		t.Fatalf("%s: no row for %s", sc, v.Tasks[last].Name)
	}
	block := rows[at : at+9] // task, connect, response, echo, delay, write, ready, compute
	on := func(op string) bool {
		for _, r := range block {
			if r.Operation == op {
				return len(r.Critical) > 0
			}
		}
		return false
	}
	st := v.Stages[last]
	apart := st[scenario.StageReady].Start.Sub(st[scenario.StageResponse].End) >= time.Microsecond
	for _, c := range []struct {
		op   string
		want bool
	}{
		{tracing.SpanCompute, true},
		{tracing.SpanReady, true},
		{tracing.SpanDelay, apart},
		{tracing.SpanResponse, apart},
	} {
		if on(c.op) != c.want {
			t.Errorf("%s: %s's %s on the critical path: %v, want %v (response and ready a microsecond apart: %v)",
				sc, v.Tasks[last].Name, c.op, on(c.op), c.want, apart)
		}
	}
	threads := slices.Index(want, "async-client "+tracing.SpanThreads)
	for _, r := range rows[max(threads, 0):] {
		if threads >= 0 && len(r.Critical) > 0 {
			t.Errorf("%s: %s, a thread row, on the critical path", sc, r)
		}
	}
}
