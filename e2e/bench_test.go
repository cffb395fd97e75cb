package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"asynctrace/scenario"
)

// TestBenchScale is scripts/bench: runs of 3 to 10,000 tasks that mostly
// wait (-compute sleep) at u = 200ms, against the real server and a
// Jaeger of their own, and the table of what they measured, written into
// the file $ASYNCTRACE_BENCH_OUT between its scale markers. Not a test of
// timings: it runs only when asked.
func TestBenchScale(t *testing.T) {
	out := os.Getenv("ASYNCTRACE_BENCH_OUT")
	if out == "" {
		t.Skip("scripts/bench runs this, with ASYNCTRACE_BENCH_OUT set")
	}
	needJaeger(t)
	j, err := startJaeger(jaegerBin, "")
	if err != nil {
		t.Fatal(err)
	}
	defer j.stop()
	const u = 200 * time.Millisecond
	runs := []struct {
		sc    scenario.Scenario
		tasks int
		extra map[string]string
	}{
		{scenario.MultiThread, 3, nil}, {scenario.MultiThread, 100, nil}, {scenario.MultiThread, 1000, nil}, {scenario.MultiThread, 10000, nil},
		{scenario.SingleThread, 10000, nil},
		{scenario.OSThreads, 3, nil}, {scenario.OSThreads, 100, nil}, {scenario.OSThreads, 1000, nil},
		{scenario.OSThreads, 10000, map[string]string{"max-threads": "12000"}},
	}
	var rows []string
	for _, r := range runs {
		// A server of its own each run: 10,000 connections and their
		// spans are not left to the next.
		addr, srv := startServerWith(t, j.otlpPorts(), map[string]string{"unit": u.String()})
		set := map[string]string{"addr": addr, "unit": u.String(), "tasks": fmt.Sprint(r.tasks), "compute": "sleep", "procs": "0"}
		for k, v := range r.extra {
			set[k] = v
		}
		args, env := composeCommand(t, "client-"+string(r.sc), set, j.otlpPorts())
		p, err := start(clientBin, append(args, "-json"), env)
		if err != nil {
			t.Fatal(err)
		}
		if !p.wait(5 * time.Minute) {
			p.stop(time.Second)
			t.Fatalf("%s -tasks %d did not finish", r.sc, r.tasks)
		}
		if p.err != nil {
			t.Fatalf("%s -tasks %d: %v\n%.2000s", r.sc, r.tasks, p.err, p.stderr.String())
		}
		res := clientResult(t, p)
		srv.stop(10 * time.Second)
		// Spans expected: the client's (root, the tasks group and its
		// tasks, 4 stages each; where there are lanes, the threads group,
		// the lanes and what they hold) and the server's 3 a task.
		lanes := res.ThreadLanes
		groups, held := 1, 0
		if lanes > 0 {
			groups++
		}
		if scenario.Scenario(res.Scenario).Locked() {
			held = 4 * r.tasks
		}
		want := 1 + groups + r.tasks + 4*r.tasks + lanes + held + 3*r.tasks
		got := 0
		// A trace of megabytes: polled once a second.
		poll(2*time.Minute, time.Second, nil, func() bool {
			if tr, err := j.client().Trace(t.Context(), res.TraceID); err == nil {
				got = len(tr.Spans)
			}
			return got >= want
		})
		exp := res.Expected
		rows = append(rows, fmt.Sprintf("| `%s -tasks %d`%s | %.3f s | %.3f s (%.2f×) | %d | %d | %.0f MiB | %.1f KiB | %.0f ms | %d of %d |",
			res.Scenario, r.tasks, flagsNote(r.extra), exp.Seconds(), res.Makespan.Seconds(), float64(res.Makespan)/float64(exp),
			res.PeakOSThreads, res.GOMAXPROCS, float64(res.PeakRSS)/(1<<20), float64(res.RSSPerTask)/(1<<10), float64(res.Spawn)/float64(time.Millisecond), got, want))
		t.Log(rows[len(rows)-1])
	}
	rows = append(rows, baselineRows(t, u, []baselineRun{{1000, false}, {10000, false}, {10000, true}})...)
	table := strings.Join(append([]string{
		fmt.Sprintf("Measured by `scripts/bench` on %s: %d cores, %s, %s; `-compute sleep`, u = 200 ms; server, client and Jaeger as separate processes.", time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), cpuModel(), runtime.Version()),
		"",
		"| run | formula | makespan | peak OS threads | GOMAXPROCS | peak RSS | RSS per task | spawn | spans in Jaeger |",
		"|---|---|---|---|---|---|---|---|---|",
	}, rows...), "\n")
	writeBetween(t, out, "<!-- scale:begin -->", "<!-- scale:end -->", table)
}

type baselineRun struct {
	tasks  int
	locked bool // an OS thread per task, as os-threads
}

// baselineRows runs e2e/baseline, the same pattern in plain Go with no
// tracing, as the machine's floor: the median of three runs each.
func baselineRows(t *testing.T, u time.Duration, runs []baselineRun) []string {
	t.Helper()
	bin := buildBaseline(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	startUntil(t, "baseline server", bin, []string{"-serve", addr, "-unit", u.String()}, nil, "Server running on "+addr)
	var rows []string
	for _, r := range runs {
		n := r.tasks
		args := []string{"-addr", addr, "-unit", u.String(), "-tasks", strconv.Itoa(n)}
		what := "plain Go, no tracing (`e2e/baseline`)"
		if r.locked {
			args = append(args, "-locked")
			what = "plain Go, a locked OS thread per task, no tracing (`e2e/baseline -locked`)"
		}
		var spans []time.Duration
		for range 3 {
			p, err := start(bin, args, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !p.wait(time.Minute) {
				p.stop(time.Second)
				t.Fatalf("baseline -tasks %d did not finish in a minute", n)
			}
			var res struct {
				Failed     int     `json:"failed"`
				MakespanMS float64 `json:"makespan_ms"`
			}
			if err := json.Unmarshal([]byte(p.stdout.String()), &res); err != nil || p.err != nil || res.Failed > 0 {
				t.Fatalf("baseline -tasks %d: %v %v, %d failed: %s", n, p.err, err, res.Failed, p.stderr.String())
			}
			spans = append(spans, time.Duration(res.MakespanMS*float64(time.Millisecond)))
		}
		slices.Sort(spans)
		exp := 14 * u
		rows = append(rows, fmt.Sprintf("| %s, %d tasks | %.3f s | %.3f s (%.2f×; of 3 runs, %.3f–%.3f s) | | | | | | none |",
			what, n, exp.Seconds(), spans[1].Seconds(), float64(spans[1])/float64(exp), spans[0].Seconds(), spans[2].Seconds()))
		t.Log(rows[len(rows)-1])
	}
	return rows
}

// buildBaseline builds e2e/baseline, the floor, for the test.
func buildBaseline(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "baseline")
	cmd := exec.Command("go", "build", "-o", bin, "./baseline")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build baseline: %v\n%s", err, out)
	}
	return bin
}

func flagsNote(extra map[string]string) string {
	var s []string
	for k, v := range extra {
		s = append(s, "-"+k+" "+v)
	}
	if len(s) == 0 {
		return ""
	}
	return " `" + strings.Join(s, " ") + "`"
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// writeBetween replaces what lies between the two markers of a file.
func writeBetween(t *testing.T, path, begin, end, text string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, k := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || k < i {
		t.Fatalf("%s has no %s … %s", path, begin, end)
	}
	s = s[:i+len(begin)] + "\n" + text + "\n" + s[k:]
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBenchExecTrace is scripts/bench's cost of -exectrace: each scenario
// at u = 50ms, five runs with the execution tracer and five without,
// alternating, against the real server (no exporter: the tracer's cost is
// what is measured); the medians, into docs/results.md between its
// exectrace markers.
func TestBenchExecTrace(t *testing.T) {
	out := os.Getenv("ASYNCTRACE_BENCH_OUT")
	if out == "" {
		t.Skip("scripts/bench runs this, with ASYNCTRACE_BENCH_OUT set")
	}
	const u, runs = 50 * time.Millisecond, 5
	nowhere := map[uint32]int{4317: 1, 4318: 1}
	addr, _ := startServerWith(t, nowhere, map[string]string{"unit": u.String()})
	dir := t.TempDir()
	rows := []string{
		fmt.Sprintf("Measured by `scripts/bench` on %s: %d cores, %s, %s; u = 50 ms, each scenario's compose command, no exporter; median of %d runs each, alternating.", time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), cpuModel(), runtime.Version(), runs),
		"",
		"| scenario | makespan without | with `-exectrace` | difference | trace file |",
		"|---|---|---|---|---|",
	}
	for _, sc := range scenario.All {
		var off, on []time.Duration
		var size int64
		for i := range 2 * runs {
			set := map[string]string{"addr": addr, "unit": u.String()}
			file := filepath.Join(dir, fmt.Sprintf("%s-%d.trace", sc, i))
			if i%2 == 1 {
				set["exectrace"] = file
			}
			args, env := composeCommand(t, "client-"+string(sc), set, nowhere)
			p, err := start(clientBin, append(args, "-json"), append(env, "OTEL_TRACES_EXPORTER=none"))
			if err != nil {
				t.Fatal(err)
			}
			if !p.wait(time.Minute) || p.err != nil {
				t.Fatalf("%s: %v\n%s", sc, p.err, p.stderr.String())
			}
			res := clientResult(t, p)
			if i%2 == 1 {
				on = append(on, res.Makespan)
				if fi, err := os.Stat(file); err == nil {
					size = fi.Size()
				}
			} else {
				off = append(off, res.Makespan)
			}
		}
		slices.Sort(off)
		slices.Sort(on)
		a, b := off[runs/2], on[runs/2]
		rows = append(rows, fmt.Sprintf("| `%s` | %.1f ms | %.1f ms | %+.2f %% | %.0f KiB |", sc, scenario.MS(a), scenario.MS(b), 100*(float64(b)/float64(a)-1), float64(size)/1024))
		t.Log(rows[len(rows)-1])
	}
	writeBetween(t, out, "<!-- exectrace:begin -->", "<!-- exectrace:end -->", strings.Join(rows, "\n"))
}
