package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"asynctrace/client"
	"asynctrace/scenario"
)

// TestBenchC10kSpans is scripts/bench's tracer against plain
// OpenTelemetry (`scripts/bench spans` runs it alone): at 1,000 and
// 10,000 tasks, for multi-thread, single-thread and os-threads, three
// rounds, each with a Jaeger and an asynctrace server of its own, each
// running in turn (the order rotated a round):
//
//   - asynctrace's client, every span exported;
//   - asynctrace's client exporting nothing (OTEL_TRACES_EXPORTER=none:
//     the spans are still recorded);
//   - the untraced floor (e2e/baseline against its own plain server);
//   - the plain-spans floor (e2e/baseline -spans: a span per stage,
//     exported through tracing.Setup to the round's Jaeger, against the
//     round's asynctrace server, so that the server's tracing is the same
//     as asynctrace's run has).
//
// The floors run at GOMAXPROCS 1 beside single-thread, with a locked
// thread per task beside os-threads. For each: makespan, peak RSS (the
// process's own VmHWM), CPU seconds (user and system, the child's rusage
// from wait4) and the runtime's stacks a task; the medians and their
// ratios (the ratio of the medians, and the spread of the rounds' own
// ratios), into docs/results.md between its spans markers.
func TestBenchC10kSpans(t *testing.T) {
	out := os.Getenv("ASYNCTRACE_BENCH_OUT")
	if out == "" {
		t.Skip("scripts/bench runs this, with ASYNCTRACE_BENCH_OUT set")
	}
	needJaeger(t)
	const u = 200 * time.Millisecond
	baseline, floorAddr := startFloor(t, u)

	type row struct {
		sc        scenario.Scenario
		n         int
		extra     map[string]string // asynctrace's flags
		floorArgs []string
		floorEnv  []string
	}
	var rows []row
	for _, n := range []int{1000, 10000} {
		rows = append(rows,
			row{scenario.MultiThread, n, nil, nil, nil},
			row{scenario.SingleThread, n, nil, nil, []string{"GOMAXPROCS=1"}},
			row{scenario.OSThreads, n, map[string]string{"max-threads": "12000"}, []string{"-locked"}, nil})
	}
	if s := os.Getenv("ASYNCTRACE_BENCH_TASKS"); s != "" { // a shorter run: one size
		n, _ := strconv.Atoi(s)
		rows = slices.DeleteFunc(rows, func(r row) bool { return r.n != n })
	}
	lines := []string{
		fmt.Sprintf("Measured by `scripts/bench spans` on %s: %d cores, %s, %s; u = 200 ms, `-compute sleep` (formula 2.8 s); each figure the median of three rounds that take the four runs of a row in turn, with a server and a Jaeger of their own; a ratio is the medians', its spread the rounds' own ratios. CPU: user and system seconds of the process, from its rusage. Stacks: the runtime's stack memory at the peak less before the tasks, a task.",
			time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), cpuModel(), runtime.Version()),
		"",
		"| run | program | makespan | × untraced | × plain spans | peak RSS | × untraced | × plain spans | CPU | × untraced | × plain spans | stacks a task |",
		"|---|---|---|---|---|---|---|---|---|---|---|---|",
	}
	const (
		ours = iota
		none
		floor
		spans
		kinds
	)
	for _, r := range rows {
		var s [kinds][]cost
		for round := range 3 {
			rnd := startRound(t, u)
			addr := rnd.addr
			args, env := rnd.client(t, r.sc, r.n, r.extra)
			args = append(args, "-json")
			// The plain-spans floor exports where the client does.
			otlp := slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return !strings.HasPrefix(kv, "OTEL_EXPORTER_OTLP_") })
			fargs := append([]string{"-unit", u.String(), "-tasks", strconv.Itoa(r.n)}, r.floorArgs...)
			for k := range kinds {
				switch kind := (k + round) % kinds; kind {
				case ours, none:
					e := env
					if kind == none {
						e = append(slices.Clone(env), "OTEL_TRACES_EXPORTER=none")
					}
					p, res := runClientRetry(t, args, e)
					s[kind] = append(s[kind], cost{sample{res.Makespan, res.PeakRSS}, cpuOf(p), res.StacksPerTask})
				case floor:
					p := runToEnd(t, baseline, append([]string{"-addr", floorAddr}, fargs...), append(os.Environ(), r.floorEnv...))
					s[kind] = append(s[kind], cost{jsonSample(t, p), cpuOf(p), jsonStacks(t, p)})
				case spans:
					env := append(append([]string{"PATH=" + os.Getenv("PATH")}, otlp...), r.floorEnv...)
					p := runToEnd(t, baseline, append([]string{"-addr", addr, "-spans"}, fargs...), env)
					s[kind] = append(s[kind], cost{jsonSample(t, p), cpuOf(p), jsonStacks(t, p)})
				}
			}
			rnd.stop()
		}
		what := fmt.Sprintf("`%s -tasks %d`%s", r.sc, r.n, flagsNote(r.extra))
		floorName := "plain Go"
		switch {
		case r.sc.Locked():
			floorName += ", a locked thread per task"
		case r.sc == scenario.SingleThread:
			floorName += ", GOMAXPROCS 1"
		}
		first := len(lines)
		lines = append(lines,
			costRow(what, "asynctrace, every span exported", s[ours], s[floor], s[spans]),
			costRow(what, floorName+", a span per stage exported (`e2e/baseline -spans`)", s[spans], s[floor], nil),
			costRow(what, "asynctrace exporting nothing (`OTEL_TRACES_EXPORTER=none`)", s[none], s[floor], nil),
			costRow(what, floorName+", untraced (`e2e/baseline`)", s[floor], nil, nil))
		for _, l := range lines[first:] {
			t.Log(l)
		}
		// Row by row: a run the machine's load breaks later leaves these.
		writeBetween(t, out, "<!-- spans:begin -->", "<!-- spans:end -->", strings.Join(lines, "\n"))
	}
}

// runClientRetry runs asynctrace's client to its end. A run whose tasks failed
// (at 10,000 locked threads on a loaded machine a reply can miss its
// deadline, twice the expected makespan) is said and run once more.
func runClientRetry(t *testing.T, args, env []string) (*proc, client.Result) {
	t.Helper()
	for try := 1; ; try++ {
		p, err := start(clientBin, args, env)
		if err != nil {
			t.Fatal(err)
		}
		if !p.wait(5 * time.Minute) {
			p.stop(time.Second)
			t.Fatalf("%s did not finish", strings.Join(args, " "))
		}
		res := clientResult(t, p)
		if len(res.Errors) == 0 && p.err == nil {
			return p, res
		}
		if try == 2 {
			t.Fatalf("%s: %d tasks failed twice; the first: %s", strings.Join(args, " "), len(res.Errors), strings.Join(res.Errors[:min(1, len(res.Errors))], ""))
		}
		t.Logf("%s: %d tasks failed (%v), run again: %.300s", strings.Join(args, " "), len(res.Errors), p.err, strings.Join(res.Errors[:min(1, len(res.Errors))], ""))
	}
}

// cost is what one run took: its makespan and peak RSS, its CPU, and the
// runtime's stacks a task.
type cost struct {
	sample
	cpu    time.Duration
	stacks int64
}

// cpuOf is a finished process's user and system CPU time, from the
// rusage wait4 returned for it.
func cpuOf(p *proc) time.Duration {
	u, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// jsonStacks reads e2e/baseline's stacks a task from its JSON line.
func jsonStacks(t *testing.T, p *proc) int64 {
	t.Helper()
	var res struct {
		Stacks int64 `json:"stacks_per_task_bytes"`
	}
	if err := json.Unmarshal([]byte(p.stdout.String()), &res); err != nil {
		t.Fatalf("%q: %v", p.stdout.String(), err)
	}
	return res.Stacks
}

// costRow is a row of the spans table: the runs' medians, and their
// ratios to the untraced floor's and, if given, the plain-spans floor's.
func costRow(what, who string, runs, untraced, spans []cost) string {
	mk := func(c cost) float64 { return c.makespan.Seconds() }
	rss := func(c cost) float64 { return float64(c.rss) / (1 << 20) }
	cpu := func(c cost) float64 { return c.cpu.Seconds() }
	stacks := func(c cost) float64 { return float64(c.stacks) / (1 << 10) }
	return fmt.Sprintf("| %s | %s | %.3f s | %s | %s | %.0f MiB | %s | %s | %.2f s | %s | %s | %.1f KiB |", what, who,
		median(runs, mk), ratio(runs, untraced, mk), ratio(runs, spans, mk),
		median(runs, rss), ratio(runs, untraced, rss), ratio(runs, spans, rss),
		median(runs, cpu), ratio(runs, untraced, cpu), ratio(runs, spans, cpu),
		median(runs, stacks))
}
