// Package client runs the article's scenarios (package scenario) against
// the echo server: n tasks, each through the stages connect, response,
// ready and compute, every task and stage a span, one trace per scenario,
// and the OS threads' lanes recorded as spans at the end of the run.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"asynctrace/scenario"
	"asynctrace/tracing"
)

// Config of one scenario run.
type Config struct {
	Addr     string            // the echo server
	Scenario scenario.Scenario // how the tasks run
	Tasks    int               // n, default 3
	Unit     time.Duration     // u, default 1s: connect 2u, compute 4u, server delay 8u
	Compute  scenario.Compute  // default: Scenario.DefaultCompute (Tokio: hold)
	Procs    int               // GOMAXPROCS for the run; default: Scenario.DefaultProcs (Tokio: its workers or rayon's threads, one per core)
	// Runtime runs the tasks: Go's scheduler (the default), or the
	// article's own programs on Tokio and rayon, found in PeerDir
	// (PeerProgram names them), as a child that records its run.
	Runtime scenario.Runtime
	PeerDir string
	// TracerProvider makes the run's spans; nil makes none (the Result
	// still has its measurements and a zero trace id).
	TracerProvider trace.TracerProvider
	// Lines, if not nil, gets the article's lines as they happen:
	// "OS thread 48213 goroutine 18 - task1 started: 3.2µs".
	Lines io.Writer
	// Progress, if not nil, is called every ProgressEvery (default 1s)
	// during the run, from a goroutine of its own, and once at its end:
	// what a run of thousands of tasks shows instead of four lines a task.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// Result of a run. JSON field names are part of the client's -json output.
type Result struct {
	Runtime scenario.Runtime `json:"runtime"`
	// RuntimeVersion is Go's (runtime.Version) or Tokio's.
	RuntimeVersion string            `json:"runtime_version"`
	Scenario       scenario.Scenario `json:"scenario"`
	Tasks          int               `json:"tasks"`
	GOMAXPROCS     int               `json:"gomaxprocs"`
	NumCPU         int               `json:"num_cpu"`
	Compute        scenario.Compute  `json:"compute"`
	Unit           time.Duration     `json:"-"`
	Makespan       time.Duration     `json:"-"`
	Expected       time.Duration     `json:"-"`
	Ready          time.Duration     `json:"-"` // all tasks' ready stages
	// Network is how much of the makespan the network took, as the tasks
	// measured it (scenario.Timeline.Network); the makespan is expected to
	// be Expected plus this.
	Network        time.Duration `json:"-"`
	Formula        string        `json:"formula"`
	TraceID        string        `json:"trace_id"`
	ThreadLanes    int           `json:"thread_lanes"`
	PeakOSThreads  int           `json:"peak_os_threads"`
	PeakGoroutines int           `json:"peak_goroutines"`
	// PeakRSS is the process's peak resident memory during the run;
	// RSSPerTask the growth over the memory before the tasks, per task.
	PeakRSS    int64 `json:"peak_rss_bytes"`
	RSSPerTask int64 `json:"rss_per_task_bytes"`
	// StacksPerTask is what the waiting tasks themselves take: the
	// runtime's stack memory at its peak (runtime/metrics'
	// /memory/classes/heap/stacks) less that before the tasks, per task.
	// Where each task has an OS thread (os-threads), it holds the
	// thread's own runtime stacks too; OSThreadsAdded is the OS threads at
	// the peak less those before the tasks. Not Tokio's: its tasks have no
	// stacks.
	StacksPerTask  int64 `json:"stacks_per_task_bytes"`
	OSThreadsAdded int   `json:"os_threads_added"`
	// Spawn is how long creating and starting the tasks took.
	Spawn time.Duration `json:"-"`
	// SpansDropped is how many of the run's spans were not exported; the
	// caller, which owns the exporter, fills it in after a flush.
	SpansDropped int64 `json:"spans_dropped"`
	// Errors has one line per failed task, in task order; Failures counts
	// them by cause (Cause: the stage and the limit it hit), and
	// FailureExamples keeps the first few of each cause: what a person
	// reads (ByCause).
	Errors          []string            `json:"errors,omitempty"`
	Failures        map[string]int      `json:"failures,omitempty"`
	FailureExamples map[string][]string `json:"failure_examples,omitempty"`
	// UnitMismatch, if not empty, says that the server's delay is not 8 of
	// the run's units, and how to fix it.
	UnitMismatch string `json:"unit_mismatch,omitempty"`
	// PlainServer says that the server echoed the trace context preamble
	// too: a plain echo server (the article's, nc), not asynctrace's, so
	// the trace has no server spans.
	PlainServer bool `json:"plain_echo_server,omitempty"`
	// Waits explain, in a run of up to scenario.LaneTasks tasks, each
	// task's ready time of at least scenario.MinWait: what held the
	// thread it waited for.
	Waits []Wait `json:"waits,omitempty"`
	// Checks are the run's timeline checked against the article's model
	// (scenario.Timeline.Verify), as cmd/diagram -verify checks a trace.
	Checks []scenario.Check `json:"checks,omitempty"`
	// Timeline is the run as the tasks measured it.
	Timeline *scenario.Timeline `json:"-"`
}

// AllFailed says that every task failed: the run measured nothing of the
// article's (its makespan is how long the failures took).
func (r Result) AllFailed() bool { return r.Tasks > 0 && len(r.Errors) == r.Tasks }

// ErrBusy: Run is already running in this process.
var ErrBusy = errors.New("client: a run is already under way in this process (GOMAXPROCS is process-wide)")

var running atomic.Bool

// Run runs one scenario as one trace, with ctx's span, if any, as parent.
// It returns an error if any task failed; Result.Errors has one line each.
//
// Run changes process-wide state, because the article's point needs it: it
// sets GOMAXPROCS to the run's P and restores it after, and it forces a
// garbage collection before the tasks start (a GC stop-the-world waits for
// every hold in progress and stops every other goroutine meanwhile: one
// during a run turns parallel computes into a stair; docs/design.md,
// "Measured facts"). So one Run at a time per process: a second one while
// the first runs returns ErrBusy.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if !running.CompareAndSwap(false, true) {
		return Result{}, ErrBusy
	}
	defer running.Store(false)

	p := params(&cfg)
	if p.Runtime == scenario.Tokio {
		return runTokio(ctx, cfg, p)
	}
	if cfg.Compute == scenario.CPU {
		Calibrate()
	}
	res := Result{Runtime: p.Runtime, RuntimeVersion: runtime.Version(), Scenario: p.Scenario, Tasks: p.N, GOMAXPROCS: p.Procs, NumCPU: p.CPUs, Compute: p.Compute, Unit: p.Unit}
	res.Expected, res.Formula = p.Expected()

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(p.Procs))
	runtime.GC()
	resetPeakRSS()
	rssBefore, _ := readRSS()
	threadsBefore, _, stacksBefore := readPeakMetrics()

	r := &runner{cfg: cfg, tracer: cfg.TracerProvider.Tracer("asynctrace/client"), records: make([]taskRecord, p.N)}
	if cfg.Lines != nil {
		r.lines = &lineWriter{w: cfg.Lines}
	}
	r.start = time.Now()
	r.responseDeadline = r.start.Add(2*res.Expected + responseGrace)
	ctx, root := r.startRoot(ctx, p, &res)
	r.peak.sample()
	stopPeak := Every(peakEvery, r.peak.sample)
	r.expected = res.Expected
	stopProgress := r.startProgress()

	// The article's left half: the tasks, under one span from the run's
	// start to the last task's end.
	tctx, tasks := r.tracer.Start(ctx, tracing.SpanTasks, trace.WithTimestamp(r.start))
	errs := r.tasks(tctx, p.N)
	// The run ends with its last task, as the article's makespan does:
	// not when this goroutine, woken by the last, got a thread to run on
	// again (at 10,000 tasks, 0.1-0.2 s behind the exporter's work).
	end := r.lastTaskEnd()
	tasks.End(trace.WithTimestamp(end))
	stopProgress()

	stopPeak() // a last sample
	_, res.PeakRSS = readRSS()
	if res.PeakRSS > rssBefore {
		res.RSSPerTask = (res.PeakRSS - rssBefore) / int64(p.N)
	}
	threads, _, stacks := r.peak.get()
	res.StacksPerTask = max(0, stacks-stacksBefore) / int64(p.N)
	res.OSThreadsAdded = max(0, threads-threadsBefore)
	return r.finish(ctx, root, p, res, end, errs)
}

// startRoot starts the run's root span, at r.start, and notes its trace.
func (r *runner) startRoot(ctx context.Context, p scenario.Params, res *Result) (context.Context, trace.Span) {
	ctx, root := r.tracer.Start(ctx, tracing.ScenarioSpanName(p.Scenario),
		trace.WithTimestamp(r.start),
		trace.WithAttributes(
			tracing.KeyRuntime.String(string(p.Runtime)),
			tracing.KeyRuntimeVersion.String(res.RuntimeVersion),
			tracing.KeyScenario.String(string(p.Scenario)),
			tracing.KeyTasks.Int(p.N),
			tracing.KeyGOMAXPROCS.Int(p.Procs),
			tracing.KeyNumCPU.Int(p.CPUs),
			tracing.KeyCompute.String(string(p.Compute)),
			tracing.KeyUnitMS.Float64(scenario.MS(p.Unit)),
			tracing.KeyExpectedMS.Float64(scenario.MS(res.Expected)),
		))
	if sc := root.SpanContext(); sc.IsValid() {
		res.TraceID = sc.TraceID().String()
	}
	return ctx, root
}

// runTokio runs the article's program for the run (runPeer), then makes
// its spans from what it recorded, and checks it, as Run does Go's.
func runTokio(ctx context.Context, cfg Config, p scenario.Params) (Result, error) {
	res := Result{Runtime: p.Runtime, Scenario: p.Scenario, Tasks: p.N, NumCPU: p.CPUs, Compute: p.Compute, Unit: p.Unit}
	if cfg.PeerDir == "" {
		return res, errNoPeerDir
	}
	r := &runner{cfg: cfg, tracer: cfg.TracerProvider.Tracer("asynctrace/client"), records: make([]taskRecord, p.N)}
	run, err := r.runPeer(ctx, p)
	if err != nil {
		return res, err
	}
	// What the program ran with: its runtime's workers, or its pool's
	// threads.
	p.Procs = max(1, run.threads)
	res.GOMAXPROCS, res.RuntimeVersion = p.Procs, run.runtimeVersion
	res.Expected, res.Formula = p.Expected()
	r.start = run.start
	// The root takes the trace id the program sent; its children, started
	// from a context without it, take ids of their own.
	_, root := r.startRoot(tracing.WithIDs(ctx, run.traceID, trace.SpanID{}), p, &res)
	ctx = trace.ContextWithSpan(ctx, root)
	tctx, tasks := r.tracer.Start(ctx, tracing.SpanTasks, trace.WithTimestamp(r.start))
	errs := r.peerTaskSpans(tctx, run)
	end := r.lastTaskEnd()
	tasks.End(trace.WithTimestamp(end))
	// The program's own reading (its VmHWM): the rusage of a child
	// started with vfork counts this process's memory too.
	res.PeakRSS = run.peakRSS
	return r.finish(ctx, root, p, res, end, errs)
}

// finish ends a run whose tasks are done and recorded: its timeline, the
// thread lanes as spans, the checks, the root's figures; and each task's
// error.
func (r *runner) finish(ctx context.Context, root trace.Span, p scenario.Params, res Result, end time.Time, errs []error) (Result, error) {
	tl := r.timeline(p, end)
	res.Waits = r.readySpans(ctx, tl) // before the lanes, which link to them
	lanes := tl.ThreadLanes()
	r.laneSpans(ctx, lanes, p.N) // the article's right half
	r.measured(&res, tl, len(lanes), end)
	r.record(root, res, end)
	res.Errors, res.Failures, res.FailureExamples = failures(errs)
	return res, errors.Join(errs...)
}

// startProgress calls Config.Progress every ProgressEvery from a
// goroutine of its own, if asked to; the func it returns stops it, after
// a last call.
func (r *runner) startProgress() (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	if r.cfg.ProgressEvery <= 0 {
		r.cfg.ProgressEvery = time.Second
	}
	return Every(r.cfg.ProgressEvery, func() { r.cfg.Progress(r.progress()) })
}

// measured fills in what the run measured: its timeline, checked against
// the model, and the figures the summary gives.
func (r *runner) measured(res *Result, tl *scenario.Timeline, lanes int, end time.Time) {
	res.Timeline = tl
	res.Checks = tl.Verify(tl.Expect())
	res.UnitMismatch = tl.UnitMismatch(scenario.DefaultTolerance)
	res.PlainServer = r.plainServer.Load()
	res.Makespan = end.Sub(r.start)
	res.Ready = tl.StageTotal(scenario.StageReady)
	res.Network = tl.Network()
	res.ThreadLanes = lanes
	res.Spawn = r.spawn
	res.PeakOSThreads, res.PeakGoroutines, _ = r.peak.get()
}

// record puts what the run measured on its root span, and ends it.
func (r *runner) record(root trace.Span, res Result, end time.Time) {
	if res.UnitMismatch != "" {
		d, _ := res.Timeline.ServerHeld()
		root.AddEvent(tracing.EventUnitMismatch, trace.WithTimestamp(end), trace.WithAttributes(
			tracing.KeyServerDelayMS.Float64(scenario.MS(d)), tracing.KeyMessage.String(res.UnitMismatch)))
	}
	if res.PlainServer {
		root.AddEvent(tracing.EventPlainServer, trace.WithTimestamp(end))
	}
	root.SetAttributes(
		tracing.KeyMakespanMS.Float64(scenario.MS(res.Makespan)),
		tracing.KeyReadyMS.Float64(scenario.MS(res.Ready)),
		tracing.KeyNetworkMS.Float64(scenario.MS(res.Network)),
		tracing.KeyThreadLanes.Int(res.ThreadLanes),
		tracing.KeyPeakOSThreads.Int(res.PeakOSThreads),
		tracing.KeyPeakGoroutines.Int(res.PeakGoroutines),
		tracing.KeyPeakRSSBytes.Int64(res.PeakRSS),
		tracing.KeyRSSPerTaskBytes.Int64(res.RSSPerTask),
		tracing.KeySpawnMS.Float64(scenario.MS(res.Spawn)),
	)
	root.End(trace.WithTimestamp(end))
}

// Params are the parameters of a run of cfg, its defaults filled in as
// Run fills them, Go's or Tokio's: what cmd/web expects of a run.
func Params(cfg Config) scenario.Params { return params(&cfg) }

// params fills in cfg's defaults and returns the run's parameters.
func params(cfg *Config) scenario.Params {
	if cfg.Tasks <= 0 {
		cfg.Tasks = 3
	}
	if cfg.Unit <= 0 {
		cfg.Unit = time.Second
	}
	if cfg.Runtime == "" {
		cfg.Runtime = scenario.Go
	}
	if cfg.Compute == "" {
		cfg.Compute = cfg.Scenario.DefaultCompute()
		if cfg.Runtime == scenario.Tokio {
			cfg.Compute = scenario.Hold // the article's blocking sleep
		}
	}
	cpus := runtime.NumCPU()
	if cfg.Procs <= 0 {
		cfg.Procs = cfg.Scenario.DefaultProcs(cfg.Tasks, cpus)
		if cfg.Runtime == scenario.Tokio && cfg.Scenario != scenario.SingleThread {
			cfg.Procs = max(1, cpus) // Tokio's workers and rayon's threads: one per core
		}
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = noop.NewTracerProvider()
	}
	return scenario.Params{Runtime: cfg.Runtime, Scenario: cfg.Scenario, Compute: cfg.Compute, N: cfg.Tasks, Procs: cfg.Procs, CPUs: cpus, Unit: cfg.Unit}
}

// responseGrace is what a task's wait for its echo gets beyond twice the
// expected makespan.
const responseGrace = 10 * time.Second

// runner is the state shared by a run's tasks.
type runner struct {
	cfg    Config // defaults filled in
	tracer trace.Tracer
	start  time.Time
	// responseDeadline bounds a read from a server that never answers.
	responseDeadline time.Time
	lines            *lineWriter
	peak             peak
	records          []taskRecord  // one per task, written by its goroutine only
	spawn            time.Duration // creating and starting the tasks
	expected         time.Duration
	counts           counts
	plainServer      atomic.Bool // a task's echo carried its preamble back
}

// tasks runs the tasks the scenario's way: this is where the scenarios
// differ, and all they differ in besides GOMAXPROCS and the compute mode.
// A task is created (its span starts) before its goroutine runs; where
// tasks run at once, all are created before any starts, so their spans
// start in task order.
func (r *runner) tasks(ctx context.Context, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	switch sc := r.cfg.Scenario; {
	case sc == scenario.Sync:
		// The article's std client: one thread, tasks in a loop.
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for i := range n {
				errs[i] = r.newTask(ctx, i+1).run()
			}
		})
	case sc == scenario.Sequential:
		// Tokio's `task().await` in series: each awaited before the next.
		for i := range n {
			t := r.newTask(ctx, i+1)
			wg.Go(func() { errs[i] = t.run() })
			wg.Wait()
		}
	default:
		t0 := time.Now()
		tasks := make([]*task, n)
		for i := range n {
			tasks[i] = r.newTask(ctx, i+1)
		}
		for i, t := range tasks {
			wg.Go(func() {
				if sc.Locked() {
					// rayon: every task owns an OS thread.
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
				}
				errs[i] = t.run()
			})
		}
		r.spawn = time.Since(t0)
		r.peak.sample() // every task's goroutine exists now
	}
	wg.Wait()
	return errs
}

type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}
