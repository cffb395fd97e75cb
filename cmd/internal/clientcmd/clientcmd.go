// Package clientcmd is the client command (cmd/client), as a function
// that cmd/web runs too, in the child process of each of its runs: the
// article's scenarios against the echo server, one trace per scenario, the
// article's lines and a summary of each run (the measured makespan against
// the expected one, and the trace), or its -json.
package clientcmd

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"asynctrace/client"
	"asynctrace/cmd/internal/cli"
	"asynctrace/diagram"
	"asynctrace/jaeger"
	"asynctrace/scenario"
	"asynctrace/tracing"
)

// flushTimeout bounds the final export of a run's spans: with no collector
// listening, the client exits within it of the run's end: within a second
// for the article's three tasks; more for thousands of tasks, whose spans
// take a while to send (about 7 and up to 12 a task).
func flushTimeout(tasks int) time.Duration {
	return 700*time.Millisecond + time.Duration(tasks)*12*20*time.Microsecond
}

type config struct {
	scenarios  []scenario.Scenario
	run        client.Config // Scenario is set per run
	json       bool
	jaegerUI   string
	diagram    bool   // print each run's diagram
	svgDir     string // write each run's diagram here
	svgCompact bool   // and a compact one beside it
	maxThreads int    // runtime/debug.SetMaxThreads, if set
	verbose    bool   // every line, whatever the number of tasks
	execTrace  string // write the Go execution trace here
	cpuProfile string // write a CPU profile of the runs here
	memProfile string // write the heap profile at its peak here
	progress   time.Duration
}

// peerEnv names the directory of the article's Tokio programs.
const peerEnv = "ASYNCTRACE_TOKIO_PEER"

// PeerDir is where -runtime tokio finds the article's programs: where
// $ASYNCTRACE_TOKIO_PEER says; else beside this command, in tokio/ (the
// image); else where scripts/build-peer puts them, from the checkout's
// root. cmd/web, whose children are this command, asks it too.
func PeerDir() string {
	if d := os.Getenv(peerEnv); d != "" {
		return d
	}
	if exe, err := os.Executable(); err == nil {
		if d := filepath.Join(filepath.Dir(exe), "tokio"); isDir(d) {
			return d
		}
	}
	return filepath.Join(".bin", "tokio-peer", "release")
}

// peerMissing says that an article's program is not there, and how to
// build it.
func peerMissing(path string) error {
	return fmt.Errorf("-runtime tokio runs the article's programs (peers/tokio), and %s is not there: build them with scripts/build-peer (it needs cargo), or set %s to the directory of their binaries", path, peerEnv)
}

// CheckPeers says whether every one of the article's programs that
// -runtime tokio runs is in dir: nil, or the run's own error for the
// first one missing.
func CheckPeers(dir string) error {
	seen := map[string]bool{}
	for _, s := range scenario.All {
		for _, m := range scenario.Computes {
			program, _, err := client.PeerProgram(s, m)
			if err != nil || seen[program] {
				continue
			}
			seen[program] = true
			path := filepath.Join(dir, program)
			if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
				return peerMissing(path)
			}
		}
	}
	return nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := cli.NewFlagSet("client", "Runs the article's scenarios against the echo server. Spans go to OTLP gRPC, set by OTEL_* variables.", stderr)
	var c config
	fs.StringVar(&c.run.Addr, "addr", "127.0.0.1:6142", "echo server `address`")
	rt := fs.String("runtime", string(scenario.Go), "what runs the tasks: go (asynctrace's client), or tokio (the article's own programs, peers/tokio, found in $"+peerEnv+", beside this command in tokio/, or in .bin/tokio-peer/release where scripts/build-peer puts them)")
	name := fs.String("scenario", "all", "`name`: "+scenario.Names(scenario.All)+", or all (one trace each, one after another)")
	fs.IntVar(&c.run.Tasks, "tasks", 3, "number of tasks `n`")
	fs.DurationVar(&c.run.Unit, "unit", time.Second, "time `unit` u: connect 2u, compute 4u; the server must hold requests 8u")
	compute := fs.String("compute", "", "compute `mode`: "+scenario.Names(scenario.Computes)+" (default: hold; syscall for os-threads)")
	fs.IntVar(&c.run.Procs, "procs", 0, "GOMAXPROCS `P` for the scenario; 0: 1 for single-thread, the number of tasks (at least the CPUs, at most 64) for os-threads, else the number of CPUs")
	fs.BoolVar(&c.json, "json", false, "print one JSON object per scenario instead of the article's lines (those of -v, and the progress line, go to stderr)")
	fs.BoolVar(&c.verbose, "v", false, fmt.Sprintf("print the article's four lines a task however many tasks (default: up to %d tasks; a progress line above)", client.LineTasks))
	fs.BoolVar(&c.diagram, "diagram", false, "after each scenario, draw its execution diagram in the terminal")
	fs.StringVar(&c.svgDir, "svg", "", "write each scenario's execution diagram as SVG into `dir`")
	fs.BoolVar(&c.svgCompact, "svg-compact", false, "with -svg, also write SCENARIO-compact.svg: narrow lanes, no text in them, the same time scale, for figures side by side")
	fs.DurationVar(&c.progress, "progress-every", 0, "above 48 tasks, print the progress line this often (default: 200ms on a terminal, 1s otherwise)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the runs to `file` (go tool pprof)")
	fs.StringVar(&c.memProfile, "memprofile", "", "write a heap profile to `file` (go tool pprof): the heap after the collection that found the most of it live, spans waiting for export included")
	fs.StringVar(&c.execTrace, "exectrace", "", "write the runs' Go execution trace to `file` (go tool trace FILE): a task per asynctrace task, a region per stage")
	fs.IntVar(&c.maxThreads, "max-threads", 0, "Go's limit on OS threads (runtime/debug.SetMaxThreads); 0: Go's default, 10000. os-threads needs one per task")
	fs.StringVar(&c.jaegerUI, "jaeger-ui", jaeger.DefaultURL(), "base `URL` of trace links, empty for none; $"+jaeger.URLEnv+" sets the default")
	err := cli.Parse(fs, args, func() error {
		if *name == "all" {
			c.scenarios = scenario.All
		} else {
			s, err := scenario.Parse(*name)
			if err != nil {
				return err
			}
			c.scenarios = []scenario.Scenario{s}
		}
		if *compute != "" {
			m, err := scenario.ParseCompute(*compute)
			if err != nil {
				return err
			}
			c.run.Compute = m
		}
		r, err := scenario.ParseRuntime(*rt)
		if err != nil {
			return err
		}
		c.run.Runtime = r
		if r == scenario.Tokio {
			c.run.PeerDir = PeerDir()
			for _, s := range c.scenarios {
				if _, _, err := client.PeerProgram(s, cmp.Or(c.run.Compute, scenario.Hold)); err != nil {
					return err
				}
			}
		}
		switch {
		case c.run.Tasks < 1:
			return errors.New("-tasks must be at least 1")
		case c.run.Unit <= 0:
			return errors.New("-unit must be positive")
		case c.run.Procs < 0:
			return errors.New("-procs must not be negative")
		case c.maxThreads < 0:
			return errors.New("-max-threads must not be negative")
		case c.progress < 0:
			return errors.New("-progress-every must not be negative")
		case c.svgCompact && c.svgDir == "":
			return errors.New("-svg-compact needs -svg DIR")
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	return c, nil
}

// Command is the client command's body (cli.Command): args are its flags
// (-h lists them). Each scenario runs even when one before it failed; the
// command then fails naming those that did.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.maxThreads > 0 {
		debug.SetMaxThreads(cfg.maxThreads)
	}
	if err := preflight(cfg, stderr); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The diagrams are drawn from the client's own spans, kept in memory.
	s := &session{cfg: cfg, stdout: stdout, stderr: stderr, spans: &tracing.SpanCounter{}}
	var extra []sdktrace.SpanProcessor
	if cfg.diagram || cfg.svgDir != "" {
		s.rec = diagram.NewRecorder()
		extra = append(extra, s.rec)
	}
	service := tracing.ClientService
	if cfg.run.Runtime == scenario.Tokio {
		service = tracing.TokioClientService
	}
	tp, shutdown, err := tracing.Setup(ctx, tracing.Options{Service: service, Version: tracing.Version(), Warn: stderr, Extra: extra, Counter: s.spans})
	if err != nil {
		return err
	}
	s.tp = tp
	defer func() {
		// Each run's spans were flushed after it: what is left is quick.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err = errors.Join(err, shutdown(ctx))
	}()

	stopCPU, err := cli.StartCPUProfile(cfg.cpuProfile)
	if err != nil {
		return err
	}
	stopHeap := cli.PeakHeapProfile(cfg.memProfile, client.Every)
	defer func() { err = errors.Join(err, stopCPU(), stopHeap()) }()
	if cfg.execTrace != "" {
		stopTrace, err := tracing.StartExecTrace(cfg.execTrace)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, stopTrace()) }()
	}

	var failed []string
	for i, sc := range cfg.scenarios {
		if !cfg.json && i > 0 {
			fmt.Fprintln(stdout)
		}
		failure, err := s.run(ctx, sc)
		if err != nil {
			return err
		}
		if failure != "" {
			failed = append(failed, failure)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	switch {
	case len(failed) == 1 && len(cfg.scenarios) == 1:
		return errors.New(failed[0])
	case len(failed) > 0:
		return fmt.Errorf("%d of %d scenarios had failed tasks: %s", len(failed), len(cfg.scenarios), strings.Join(failed, "; "))
	}
	return nil
}

// preflight: a run the machine's limits would stop does not start: one
// message a limit, what to do, exit 2.
func preflight(cfg config, stderr io.Writer) error {
	limits := client.ReadLimits()
	for _, s := range cfg.scenarios {
		rc := cfg.run
		rc.Scenario = s
		notes, err := client.Preflight(rc, limits)
		for _, n := range notes {
			fmt.Fprintf(stderr, "client: %s\n", n)
		}
		if err != nil {
			for _, le := range client.LimitErrors(err) {
				fmt.Fprintf(stderr, "client: %s: %v: %s\n", s, le, limitAdvice(le))
			}
			return cli.UsageError{Err: err}
		}
	}
	return nil
}

// limitAdvice says what to do about a limit, in the command's words.
func limitAdvice(le *client.LimitError) string {
	switch le.Limit {
	case client.LimitOpenFiles:
		return fmt.Sprintf("raise it (ulimit -n %d) or run fewer -tasks", le.Need)
	case client.LimitPorts:
		return "widen the range or run fewer -tasks"
	case client.LimitThreads:
		return fmt.Sprintf("add -max-threads %d (runtime/debug.SetMaxThreads), or run fewer -tasks", le.Need)
	}
	return "run fewer -tasks"
}

// session is what the command's runs share: where they write, and their
// spans' provider, counter and recorder.
type session struct {
	cfg            config
	stdout, stderr io.Writer
	tp             *sdktrace.TracerProvider
	spans          *tracing.SpanCounter
	rec            *diagram.Recorder // nil: no diagrams
}

// run runs one scenario and reports it: the JSON line or the summary, a
// line per failed task, the diagram. failure says how many tasks failed,
// if any did; err is for what stops the command.
func (s *session) run(ctx context.Context, sc scenario.Scenario) (failure string, err error) {
	cfg := s.cfg
	rc := cfg.run
	rc.Scenario, rc.TracerProvider = sc, s.tp
	if !cfg.json {
		fmt.Fprintf(s.stdout, "== %s\n", sc)
	}
	var pw *progressWriter
	rc.Lines, pw = cfg.lines(s.stdout, s.stderr)
	if pw != nil {
		rc.Progress, rc.ProgressEvery = pw.write, pw.every
	}
	ended0, exported0 := s.spans.Counts()
	res, runErr := client.Run(ctx, rc)
	pw.end()
	if missing := (*client.PeerMissingError)(nil); errors.As(runErr, &missing) {
		return "", peerMissing(missing.Path)
	}
	// Export the run's spans before saying how many were lost; a flush
	// that fails goes to the one export warning (tracing.Setup's handler),
	// with the exporter's own error.
	fctx, cancel := context.WithTimeout(context.Background(), flushTimeout(rc.Tasks))
	if err := s.tp.ForceFlush(fctx); err != nil {
		otel.Handle(fmt.Errorf("flush: %w", err))
	}
	cancel()
	if ended, exported := s.spans.Counts(); ended > 0 {
		res.SpansDropped = (ended - ended0) - (exported - exported0)
	}
	if cfg.json {
		if err := json.NewEncoder(s.stdout).Encode(res); err != nil {
			return "", err
		}
	} else {
		// No link to a trace that is not exported (OTEL_TRACES_EXPORTER=none).
		traceURL := ""
		if _, exporting := tracing.Endpoint(); exporting {
			traceURL = jaeger.TraceURL(cfg.jaegerUI, res.TraceID)
		}
		writeSummary(s.stdout, res, traceURL)
	}
	writeFailures(s.stderr, res)
	if runErr != nil {
		failure = fmt.Sprintf("%s: %d of %d tasks failed", sc, len(res.Errors), res.Tasks)
	}
	if s.rec != nil {
		if err := draw(cfg, s.rec, res, s.stdout); err != nil {
			return failure, err
		}
	}
	return failure, nil
}

// draw renders a run's diagram from the client's own spans: in the
// terminal (-diagram), as SVG (-svg).
func draw(cfg config, rec *diagram.Recorder, res client.Result, stdout io.Writer) error {
	spans := rec.Take(res.TraceID)
	d, err := diagram.Build(res.TraceID, diagram.FromSDK(spans))
	if err != nil {
		return fmt.Errorf("%s diagram: %w", res.Scenario, err)
	}
	if cfg.diagram {
		fmt.Fprintln(stdout)
		if err := d.WriteText(stdout, diagram.TextOptions{Color: diagram.AutoColor(stdout)}); err != nil {
			return err
		}
	}
	if cfg.svgDir != "" {
		path := filepath.Join(cfg.svgDir, string(res.Scenario)+".svg")
		if err := d.WriteSVGFile(path); err != nil {
			return err
		}
		if cfg.svgCompact {
			if err := d.WriteSVGFileWith(filepath.Join(cfg.svgDir, string(res.Scenario)+"-compact.svg"), diagram.SVGOptions{Compact: true}); err != nil {
				return err
			}
		}
		if !cfg.json {
			fmt.Fprintf(stdout, "  diagram %s\n", path)
		}
	}
	return nil
}

// lines says where a run's lines go: the article's four a task (-v, or a
// run of up to client.LineTasks tasks), else a progress line; on stdout,
// or on stderr with -json, whose stdout is for the JSON.
func (c config) lines(stdout, stderr io.Writer) (io.Writer, *progressWriter) {
	w := stdout
	if c.json {
		w = stderr
	}
	switch {
	case c.verbose:
		return w, nil
	case c.run.Tasks <= client.LineTasks:
		if c.json {
			return nil, nil
		}
		return w, nil
	}
	pw := &progressWriter{w: w, every: time.Second}
	if diagram.AutoColor(w) { // a terminal: one line, rewritten in place
		pw.inPlace, pw.every = true, 200*time.Millisecond
	}
	if c.progress > 0 {
		pw.every = c.progress
	}
	return nil, pw
}

// progressWriter prints client.Progress: rewritten in place on a terminal,
// a line each time otherwise.
type progressWriter struct {
	w       io.Writer
	every   time.Duration
	inPlace bool
}

func (p *progressWriter) write(pr client.Progress) {
	if p.inPlace {
		fmt.Fprintf(p.w, "\r\033[K%v", pr)
		return
	}
	fmt.Fprintln(p.w, pr)
}

// end ends the line rewritten in place.
func (p *progressWriter) end() {
	if p != nil && p.inPlace {
		fmt.Fprintln(p.w)
	}
}

// Parsed is what a client command line asks for, as the command reads it:
// for cmd/web's check that the command lines it builds for its children
// (web.Knobs.ChildArgs) mean what the page's knobs say.
type Parsed struct {
	Run                       client.Config // Scenario: the one scenario, if one was named
	MaxThreads                int
	JSON, Verbose, SVGCompact bool
	SVGDir, JaegerUI          string
	ProgressEvery             time.Duration
}

// Parse reads a client command line as Command does.
func Parse(args []string) (Parsed, error) {
	c, err := parseFlags(args, io.Discard)
	p := Parsed{Run: c.run, MaxThreads: c.maxThreads, JSON: c.json, Verbose: c.verbose, SVGCompact: c.svgCompact,
		SVGDir: c.svgDir, JaegerUI: c.jaegerUI, ProgressEvery: c.progress}
	if len(c.scenarios) == 1 {
		p.Run.Scenario = c.scenarios[0]
	}
	return p, err
}
