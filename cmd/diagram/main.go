// Command diagram draws the article's execution diagrams from traces in
// Jaeger (or saved from its query API), in the terminal or as SVG, and
// verifies them against their scenario's expected timeline.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"asynctrace/cmd/internal/cli"
	"asynctrace/diagram"
	"asynctrace/jaeger"
	"asynctrace/scenario"
	"asynctrace/tracing"
)

func main() { cli.Main("diagram", run) }

type config struct {
	jaegerURL string
	traceID   string
	file      string
	service   string
	last      int
	lookback  time.Duration
	wait      time.Duration
	svgDir    string
	verify    bool
	color     string
	expect    scenario.Scenario
	procs     int
	compute   scenario.Compute
	tolerance float64
	execTrace string // check the spans against this execution trace
	printed   string // draw the lines the article's programs print, from this file ("-": stdin)
	unit      time.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := cli.NewFlagSet("diagram", "Draws asynctrace runs from Jaeger as the article's execution diagrams, or verifies them.", stderr)
	var c config
	fs.StringVar(&c.jaegerURL, "jaeger", jaeger.DefaultURL(), "Jaeger query `URL`; $"+jaeger.URLEnv+" sets the default")
	fs.StringVar(&c.traceID, "trace", "", "trace `id` to draw")
	fs.StringVar(&c.file, "file", "", "read traces from a `file` saved from Jaeger's /api/traces instead")
	fs.StringVar(&c.service, "service", tracing.ClientService, "without -trace: the service whose latest traces to draw; several, comma-separated (async-client,tokio-client), -last of each")
	fs.IntVar(&c.last, "last", 1, "without -trace: how many of the latest traces")
	fs.DurationVar(&c.lookback, "lookback", time.Hour, "without -trace: how far back to look")
	fs.DurationVar(&c.wait, "wait", 0, "wait up to this long for the traces to be complete in Jaeger")
	fs.StringVar(&c.svgDir, "svg", "", "write one SVG per trace into `dir` instead of drawing in the terminal")
	fs.BoolVar(&c.verify, "verify", false, "check each trace against its scenario's expected timeline instead of drawing it; exit 1 on any failure")
	fs.StringVar(&c.color, "color", "auto", "terminal colours: auto, always or never")
	expect := fs.String("expect", "", "with -verify: check against this `scenario`'s timeline instead of the recorded one")
	fs.IntVar(&c.procs, "procs", 0, "with -expect: GOMAXPROCS P of the expectation (default: the scenario's)")
	compute := fs.String("compute", "", "with -expect: compute `mode` of the expectation (default: the scenario's)")
	fs.StringVar(&c.execTrace, "exectrace", "", "check each trace's spans against the Go execution trace in `file` (client -exectrace) instead of drawing it: tasks, regions, goroutines running at once, ready time; exit 1 on any failure")
	fs.Float64Var(&c.tolerance, "tolerance", scenario.DefaultTolerance, "with -verify: allowed makespan excess, as a `fraction` of the expected one")
	fs.StringVar(&c.printed, "printed", "", "draw the lines a run of the article's programs printed (peers/tokio: OS Thread ThreadId(1) - task1 started: 3.994µs) from `file`, - for stdin, instead of traces; -expect names the scenario if the lines do not show it")
	fs.DurationVar(&c.unit, "unit", time.Second, "with -printed: the run's unit u")
	err := cli.Parse(fs, args, func() error {
		if *expect != "" {
			s, err := scenario.Parse(*expect)
			if err != nil {
				return err
			}
			c.expect = s
		}
		if *compute != "" {
			m, err := scenario.ParseCompute(*compute)
			if err != nil {
				return err
			}
			c.compute = m
		}
		switch {
		case c.last < 1:
			return errors.New("-last must be at least 1")
		case c.color != "auto" && c.color != "always" && c.color != "never":
			return fmt.Errorf("-color %q: want auto, always or never", c.color)
		case (c.procs != 0 || c.compute != "") && c.expect == "":
			return errors.New("-procs and -compute go with -expect")
		case c.tolerance < 0:
			return errors.New("-tolerance must not be negative")
		case c.printed != "" && (c.verify || c.execTrace != "" || c.traceID != "" || c.file != ""):
			return errors.New("-printed draws printed lines: it goes with -svg, -expect and -unit, not with traces")
		case c.expect != "" && !c.verify && c.printed == "":
			return errors.New("-expect goes with -verify or -printed")
		case c.unit <= 0:
			return errors.New("-unit must be positive")
		case c.traceID != "" && !validTraceID(c.traceID):
			return fmt.Errorf("-trace %q: want a trace id of 32 hexadecimal digits (or 16, as Jaeger shortens them)", c.traceID)
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var exec *diagram.ExecTrace
	if cfg.execTrace != "" {
		f, err := os.Open(cfg.execTrace)
		if err != nil {
			return err
		}
		exec, err = diagram.ReadExecTrace(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", cfg.execTrace, err)
		}
	}

	// Draw or check every complete trace; the incomplete ones are
	// reported after them, and make the command fail.
	var diagrams []*diagram.Diagram
	var incomplete error
	if cfg.printed != "" {
		d, err := readPrinted(cfg, os.Stdin)
		if err != nil {
			return err
		}
		diagrams = []*diagram.Diagram{d}
	} else {
		diagrams, incomplete = load(ctx, cfg)
	}
	if len(diagrams) == 0 && incomplete != nil {
		return incomplete
	}
	failed := false
	names := map[string]int{}
	for i, d := range diagrams {
		if i > 0 && cfg.svgDir == "" {
			fmt.Fprintln(stdout)
		}
		ok, err := show(cfg, d, exec, names, stdout)
		if err != nil {
			return err
		}
		failed = failed || !ok
	}
	if incomplete != nil {
		fmt.Fprintf(stderr, "diagram: %v\n", incomplete)
		failed = true
	}
	if failed {
		return cli.ErrReported // the checks, or the line above, say what failed
	}
	return nil
}

// show draws one run, or checks it (-verify, -exectrace); ok is false if
// a check failed. names counts the SVG files' names so far.
func show(cfg config, d *diagram.Diagram, exec *diagram.ExecTrace, names map[string]int, stdout io.Writer) (ok bool, err error) {
	ok = true
	if cfg.svgDir != "" {
		name := string(d.Scenario)
		if d.Note != "" {
			name = "printed-" + name
		}
		if names[name]++; names[name] > 1 {
			name += "-" + d.TraceID[:min(8, len(d.TraceID))]
		}
		path := filepath.Join(cfg.svgDir, name+".svg")
		if err := d.WriteSVGFile(path); err != nil {
			return false, err
		}
		id := d.TraceID
		if id == "" {
			id = "printed lines"
		}
		fmt.Fprintf(stdout, "%s: %s\n", id, path)
	}
	if cfg.verify {
		exp := d.Expect()
		if cfg.expect != "" {
			// The machine's CPU count is the one the trace recorded.
			exp.Scenario, exp.Compute, exp.Procs = cfg.expect, cfg.expect.DefaultCompute(), cfg.expect.DefaultProcs(exp.N, exp.CPUs)
			if cfg.compute != "" {
				exp.Compute = cfg.compute
			}
			if cfg.procs > 0 {
				exp.Procs = cfg.procs
			}
		}
		exp.Tolerance = cfg.tolerance
		checks := d.Verify(exp)
		fmt.Fprintf(stdout, "trace %s, %s on %s, checked as %s (compute %s, P=%d):\n", d.TraceID, d.Scenario, cmp.Or(d.Runtime, scenario.Go), exp.Scenario, exp.Compute, exp.Procs)
		for _, c := range checks {
			fmt.Fprintf(stdout, "  %s\n", c)
		}
		ok = scenario.Passed(checks)
	}
	if exec != nil {
		c := d.CheckExecTrace(exec)
		fmt.Fprintf(stdout, "trace %s, %s, against the execution trace %s:\n", d.TraceID, d.Scenario, cfg.execTrace)
		for _, c := range c.Checks {
			fmt.Fprintf(stdout, "  %s\n", c)
		}
		ok = ok && scenario.Passed(c.Checks)
	}
	if !cfg.verify && exec == nil && cfg.svgDir == "" {
		if err := d.WriteText(stdout, diagram.TextOptions{Color: cfg.color == "always" || cfg.color == "auto" && diagram.AutoColor(stdout)}); err != nil {
			return false, err
		}
	}
	return ok, nil
}

// readPrinted reads -printed's lines: the file, or stdin.
func readPrinted(cfg config, stdin io.Reader) (*diagram.Diagram, error) {
	r := stdin
	if cfg.printed != "-" {
		f, err := os.Open(cfg.printed)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	d, err := diagram.ReadPrinted(r, cfg.unit, cfg.expect)
	if err != nil {
		return nil, fmt.Errorf("-printed %s: %w", cfg.printed, err)
	}
	return d, nil
}

// load gets the traces to draw and builds their models, waiting (up to
// -wait) for Jaeger to have every client span of each, and every server
// span the client's requests caused. It returns the ones whose client
// spans are complete, and an error for what is missing.
func load(ctx context.Context, cfg config) ([]*diagram.Diagram, error) {
	deadline := time.Now().Add(cfg.wait)
	for {
		traces, err := fetch(ctx, cfg)
		var ds []*diagram.Diagram
		var failed []error
		if err == nil {
			ds, failed, err = build(traces)
		}
		if want := cfg.last * len(cfg.services()); err == nil && cfg.traceID == "" && cfg.file == "" && len(ds)+len(failed) < want {
			err = fmt.Errorf("%d trace(s) of %s in Jaeger, want %d", len(ds)+len(failed), cfg.service, want)
		}
		// A failed run's trace is as complete as it will be: no waiting.
		if err == nil || cfg.file != "" || time.Now().After(deadline) {
			return ds, errors.Join(append(failed, err)...)
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ds, err
		case <-t.C:
		}
	}
}

func validTraceID(id string) bool {
	if len(id) != 32 && len(id) != 16 {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func fetch(ctx context.Context, cfg config) ([]jaeger.Trace, error) {
	if cfg.file != "" {
		b, err := os.ReadFile(cfg.file)
		if err != nil {
			return nil, err
		}
		return jaeger.Decode(b)
	}
	c := jaeger.Client{BaseURL: cfg.jaegerURL}
	if cfg.traceID != "" {
		t, err := c.Trace(ctx, cfg.traceID)
		if err != nil {
			return nil, err
		}
		return []jaeger.Trace{*t}, nil
	}
	var all []jaeger.Trace
	for _, s := range cfg.services() {
		ts, err := c.Latest(ctx, s, cfg.last, cfg.lookback)
		if err != nil {
			return nil, err
		}
		all = append(all, ts...)
	}
	return all, nil
}

// services are -service's names.
func (c config) services() []string {
	var out []string
	for s := range strings.SplitSeq(c.service, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// build makes the models, oldest run first; a trace is complete when it
// has its root, every task and every task's stages. A failed run's trace
// (a task span marked an error) is left out, named in failed: waiting
// will not complete it. The incomplete ones are left out, and named in
// the error.
func build(traces []jaeger.Trace) (ds []*diagram.Diagram, failed []error, err error) {
	var errs []error
	for i := len(traces) - 1; i >= 0; i-- {
		t := &traces[i]
		if f := failedTasks(t); f.failed > 0 {
			failed = append(failed, f)
			continue
		}
		d, err := diagram.Build(t.TraceID, diagram.FromJaeger(t))
		if err != nil {
			errs = append(errs, fmt.Errorf("trace %s: %w", t.TraceID, err))
			continue
		}
		stages, want := 0, len(scenario.Stages)*d.N
		for _, task := range d.Tasks {
			stages += len(task.Segments)
		}
		if len(d.Tasks) < d.N || stages < want {
			errs = append(errs, fmt.Errorf("trace %s is incomplete: %d of %d tasks, %d of %d stages", t.TraceID, len(d.Tasks), d.N, stages, want))
			continue
		}
		// The server exports on its own: its spans may come later. Drawn
		// and checked all the same once the wait is over.
		if have, want := d.ServerSpans(); have < want {
			errs = append(errs, fmt.Errorf("trace %s: %d of the server's %d delay and write spans so far", t.TraceID, have, want))
		}
		ds = append(ds, d)
	}
	return ds, failed, errors.Join(errs...)
}

// failedRun is a trace whose run had failed tasks.
type failedRun struct {
	traceID string
	failed  int    // tasks whose span is marked an error
	first   string // the first one's error, as its span says it
}

func (f failedRun) Error() string {
	s := fmt.Sprintf("trace %s is of a failed run: %d task(s) failed", f.traceID, f.failed)
	if f.first != "" {
		s += "; the first: " + f.first
	}
	return s
}

// failedTasks finds the task spans of t that the client marked an error
// (tracing.Fail: OpenTelemetry's status, which Jaeger keeps as the tags
// otel.status_code and error).
func failedTasks(t *jaeger.Trace) failedRun {
	f := failedRun{traceID: t.TraceID}
	first := int64(-1)
	for _, s := range t.Spans {
		if _, isTask := s.Tag(string(tracing.KeyTask)); !isTask {
			continue
		}
		code, _ := s.Tag("otel.status_code")
		isErr, _ := s.Tag("error")
		if fmt.Sprint(code.Value) != "ERROR" && fmt.Sprint(isErr.Value) != "true" {
			continue
		}
		f.failed++
		if first < 0 || s.StartTime < first {
			first = s.StartTime
			if d, ok := s.Tag("otel.status_description"); ok {
				f.first = fmt.Sprint(d.Value)
			}
		}
	}
	return f
}
