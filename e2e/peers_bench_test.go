package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"asynctrace/client"
	"asynctrace/scenario"
)

// TestBenchArticle is scripts/bench's Go beside Tokio: the article's five
// scenarios at the article's unit, its own programs (peers/tokio, run by
// `client -runtime tokio`, which records and traces them) and
// asynctrace's Go client one after another against one asynctrace server,
// with the thread counts this machine defaults to and the article's three:
// each makespan and ready time; the table goes into the README between its
// tokio markers, and the single-thread and multi-thread figures of both
// into docs/diagrams. $ASYNCTRACE_BENCH_UNIT changes the unit (1s by
// default: the article's).
func TestBenchArticle(t *testing.T) {
	readme := os.Getenv("ASYNCTRACE_BENCH_README")
	if readme == "" {
		t.Skip("scripts/bench runs this, with ASYNCTRACE_BENCH_README set")
	}
	needPeer(t)
	u := time.Second
	if d, err := time.ParseDuration(os.Getenv("ASYNCTRACE_BENCH_UNIT")); err == nil && d > 0 {
		u = d
	}
	figures := filepath.Join(filepath.Dir(readme), "docs", "diagrams")
	addr, _ := startServerWith(t, nowhere(t), map[string]string{"unit": u.String()})
	cpus := runtime.NumCPU()

	type row struct {
		sc      scenario.Scenario
		article string // the article's makespan
		procs   []int  // -procs of both clients; 0: the scenario's default
	}
	// The thread counts this machine gives by default (a worker, a rayon
	// thread, a P per core), and the article's three.
	rows := []row{
		{scenario.Sync, "42.008 s", []int{0}},
		{scenario.Sequential, "42.009 s", []int{0}},
		{scenario.SingleThread, "22.004 s", []int{0}},
		{scenario.MultiThread, "14.004 s", []int{cpus, 3}},
		{scenario.OSThreads, "14.003 s", []int{cpus, 3}},
	}
	version := ""
	var out []string
	for _, r := range rows {
		var cells [2][]string
		for k, rt := range scenario.Runtimes {
			for _, procs := range r.procs {
				if rt == scenario.Go && r.sc == scenario.OSThreads && procs == cpus {
					continue // a P per task whatever the cores
				}
				res, svg := runRuntime(t, rt, r.sc, addr, u, procs)
				if rt == scenario.Tokio {
					version = res.RuntimeVersion
				}
				cells[k] = append(cells[k], fmt.Sprintf("%.3f s, ready %.3f s (%s)", res.Makespan.Seconds(), res.Ready.Seconds(), threadsOf(res)))
				if r.sc == scenario.SingleThread || r.sc == scenario.MultiThread && procs == 3 {
					if err := os.Rename(svg, filepath.Join(figures, string(rt)+"-"+string(r.sc)+".svg")); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		out = append(out, fmt.Sprintf("| `%s` | %s | %s | %s |", r.sc, r.article, strings.Join(cells[1], "; "), strings.Join(cells[0], "; ")))
		t.Log(out[len(out)-1])
	}
	lines := append([]string{
		fmt.Sprintf("Measured by `scripts/bench` on %s: %d cores, %s, %s, Tokio %s; u = %v; the article's programs (`peers/tokio`, recorded by `client -runtime tokio`) and asynctrace's client one after another against one asynctrace server. Ready: the time replies waited for a thread, in all.",
			time.Now().UTC().Format("2006-01-02"), cpus, cpuModel(), runtime.Version(), version, u),
		"",
		"| scenario | the article | Tokio here | Go here |",
		"|---|---|---|---|",
	}, out...)
	writeBetween(t, readme, "<!-- tokio:begin -->", "<!-- tokio:end -->", strings.Join(lines, "\n"))
}

// threadsOf names what a run's P was: Go's GOMAXPROCS, Tokio's workers,
// rayon's threads.
func threadsOf(res client.Result) string {
	threads := scenario.Threads(res.Runtime, res.Scenario, res.GOMAXPROCS)
	if res.Runtime == scenario.Go {
		return threads
	}
	program, _, _ := client.PeerProgram(res.Scenario, res.Compute)
	return "`" + program + "`, " + threads
}

// runRuntime runs the client, one scenario, on runtime rt against addr,
// drawing its figure; it returns the result and the figure's path.
func runRuntime(t *testing.T, rt scenario.Runtime, sc scenario.Scenario, addr string, u time.Duration, procs int) (client.Result, string) {
	t.Helper()
	svgs := t.TempDir()
	p := runToEnd(t, clientBin, []string{"-runtime", string(rt), "-addr", addr, "-unit", u.String(), "-scenario", string(sc), "-procs", strconv.Itoa(procs), "-json", "-svg", svgs},
		append(os.Environ(), "OTEL_TRACES_EXPORTER=none"))
	return clientResult(t, p), filepath.Join(svgs, string(sc)+".svg")
}

// TestBenchC10kPeers is scripts/bench's C10k against the machine's floor
// and against Tokio: for each row, three rounds, each running in turn
// asynctrace's client (-compute sleep, every span exported to a Jaeger),
// the same pattern in plain Go with no tracing (e2e/baseline: at
// GOMAXPROCS 1 beside single-thread, a locked thread per task beside
// os-threads) and, beside multi-thread, the Tokio peer's client_many
// (tokio::time::sleep, no tracing); the medians of makespan and peak RSS
// per task, their ratios to the floor's (the ratio of the medians, and the
// spread of the rounds' own ratios), into docs/results.md between its
// peers markers.
func TestBenchC10kPeers(t *testing.T) {
	out := os.Getenv("ASYNCTRACE_BENCH_OUT")
	if out == "" {
		t.Skip("scripts/bench runs this, with ASYNCTRACE_BENCH_OUT set")
	}
	needJaeger(t)
	dir := needPeer(t)
	const u = 200 * time.Millisecond
	baseline, floorAddr := startFloor(t, u)

	type row struct {
		sc        scenario.Scenario
		n         int
		extra     map[string]string // asynctrace's flags
		floorArgs []string
		floorEnv  []string
		floor     string
		tokio     bool
	}
	rows := []row{
		{scenario.MultiThread, 1000, nil, nil, nil, "plain Go", true},
		{scenario.MultiThread, 10000, nil, nil, nil, "plain Go", true},
		{scenario.SingleThread, 10000, nil, nil, []string{"GOMAXPROCS=1"}, "plain Go, GOMAXPROCS 1", false},
		{scenario.OSThreads, 10000, map[string]string{"max-threads": "12000"}, []string{"-locked"}, nil, "plain Go, a locked thread per task", false},
	}
	lines := []string{
		fmt.Sprintf("Measured by `scripts/bench` on %s: %d cores, %s, %s, Tokio 1.24.2; u = 200 ms, `-compute sleep`; each figure the median of three rounds that take the runs of a row in turn, with a server and a Jaeger of their own; a ratio is the medians', its spread the rounds' own ratios.",
			time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), cpuModel(), runtime.Version()),
		"",
		"| run | runtime | makespan (formula 2.8 s) | against the floor | peak RSS per task | against the floor |",
		"|---|---|---|---|---|---|",
	}
	for _, r := range rows {
		var ours, floor, tokio []sample
		for range 3 {
			rnd := startRound(t, u)
			addr := rnd.addr
			args, env := rnd.client(t, r.sc, r.n, r.extra)
			res := clientResult(t, runToEnd(t, clientBin, append(args, "-json"), env))
			if len(res.Errors) > 0 {
				t.Fatalf("%s -tasks %d: %d failed: %s", r.sc, r.n, len(res.Errors), res.Errors[0])
			}
			ours = append(ours, sample{res.Makespan, res.PeakRSS})
			fargs := append([]string{"-addr", floorAddr, "-unit", u.String(), "-tasks", strconv.Itoa(r.n)}, r.floorArgs...)
			floor = append(floor, jsonSample(t, runToEnd(t, baseline, fargs, append(os.Environ(), r.floorEnv...))))
			if r.tokio {
				tokio = append(tokio, jsonSample(t, runToEnd(t, filepath.Join(dir, "client_many"),
					[]string{"--addr", addr, "--unit", u.String(), "--tasks", strconv.Itoa(r.n)}, nil)))
			}
			rnd.stop()
		}
		what := fmt.Sprintf("`%s -tasks %d`%s", r.sc, r.n, flagsNote(r.extra))
		first := len(lines)
		lines = append(lines, ratioRow(what, "asynctrace (every span exported)", r.n, ours, floor))
		lines = append(lines, ratioRow(what, r.floor+", no tracing (`e2e/baseline`)", r.n, floor, floor))
		if r.tokio {
			lines = append(lines, ratioRow(what, "Tokio, the article's runtime, no tracing (`peers/tokio`)", r.n, tokio, floor))
		}
		for _, l := range lines[first:] {
			t.Log(l)
		}
	}
	writeBetween(t, out, "<!-- peers:begin -->", "<!-- peers:end -->", strings.Join(lines, "\n"))
}

// ratioRow is a row of the C10k table: the runs' medians, and their ratios
// to the floor's, with the spread of the rounds' ratios.
func ratioRow(what, who string, n int, runs, floor []sample) string {
	mk := func(s sample) float64 { return s.makespan.Seconds() }
	rss := func(s sample) float64 { return float64(s.rss) / float64(n) / (1 << 10) }
	return fmt.Sprintf("| %s | %s | %.3f s | %s | %.1f KiB | %s |", what, who,
		median(runs, mk), ratio(runs, floor, mk), median(runs, rss), ratio(runs, floor, rss))
}

// median is the median of f over runs (the middle one of three rounds).
func median[T any](runs []T, f func(T) float64) float64 {
	v := make([]float64, len(runs))
	for i := range runs {
		v[i] = f(runs[i])
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// ratio is runs against floor by f: the ratio of their medians, and the
// spread of the rounds' own ratios, "1.02× (0.99–1.05)"; "" with no floor.
func ratio[T any](runs, floor []T, f func(T) float64) string {
	if floor == nil {
		return ""
	}
	var lo, hi float64
	for i := range runs {
		r := f(runs[i]) / f(floor[i])
		if i == 0 || r < lo {
			lo = r
		}
		if i == 0 || r > hi {
			hi = r
		}
	}
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", median(runs, f)/median(floor, f), lo, hi)
}

// startFloor builds e2e/baseline and starts its plain server at unit u,
// for the floors' runs; it returns the binary and the server's address.
func startFloor(t *testing.T, u time.Duration) (baseline, addr string) {
	t.Helper()
	baseline = buildBaseline(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr = "127.0.0.1:" + strconv.Itoa(port)
	startUntil(t, "baseline server", baseline, []string{"-serve", addr, "-unit", u.String()}, nil, "Server running on "+addr)
	return baseline, addr
}

// round is a bench round's own Jaeger and asynctrace server: a Jaeger
// holding the rounds before (130,000 spans an os-threads run) spends the
// CPUs on its heap, which is not the run's cost.
type round struct {
	j    *jaegerProc
	srv  *proc
	addr string
	u    time.Duration
}

func startRound(t *testing.T, u time.Duration) round {
	t.Helper()
	j, err := startJaeger(jaegerBin, "")
	if err != nil {
		t.Fatal(err)
	}
	addr, srv := startServerWith(t, j.otlpPorts(), map[string]string{"unit": u.String()})
	return round{j, srv, addr, u}
}

// client is the compose file's command for a C10k run of n tasks of sc
// (`-compute sleep`, the scenario's P) against the round's server and
// Jaeger, with extra flags.
func (r round) client(t *testing.T, sc scenario.Scenario, n int, extra map[string]string) (args, env []string) {
	t.Helper()
	set := map[string]string{"addr": r.addr, "unit": r.u.String(), "tasks": strconv.Itoa(n), "compute": "sleep", "procs": "0"}
	for k, v := range extra {
		set[k] = v
	}
	return composeCommand(t, "client-"+string(sc), set, r.j.otlpPorts())
}

func (r round) stop() {
	r.srv.stop(10 * time.Second)
	r.j.stop()
}

// sample is one run's makespan and peak RSS, as the program reported
// them: a process's own VmHWM (a parent's getrusage of a child would count
// the parent's memory at the fork too).
type sample struct {
	makespan time.Duration
	rss      int64
}

// jsonSample reads a program's one JSON line.
func jsonSample(t *testing.T, p *proc) sample {
	t.Helper()
	var res struct {
		MakespanMS float64 `json:"makespan_ms"`
		Failed     int     `json:"failed"`
		PeakRSS    int64   `json:"peak_rss_bytes"`
	}
	if err := json.Unmarshal([]byte(p.stdout.String()), &res); err != nil || res.Failed > 0 || res.PeakRSS == 0 {
		t.Fatalf("%q: %v, %d failed", p.stdout.String(), err, res.Failed)
	}
	return sample{time.Duration(res.MakespanMS * float64(time.Millisecond)), res.PeakRSS}
}
