package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"asynctrace/tracing"
)

// Config of one scenario run.
type Config struct {
	Addr     string        // the echo server
	Scenario Scenario      // how the tasks run
	Tasks    int           // n, default 3
	Unit     time.Duration // u, default 1s: connect 2u, compute 4u, server delay 8u
	Compute  Compute       // default: Scenario.DefaultCompute
	Procs    int           // GOMAXPROCS for the run; default: Scenario.DefaultProcs
	// Lines, if not nil, gets the article's lines as they happen:
	// "OS thread 48213 goroutine 18 - task1 started: 3.2µs".
	Lines io.Writer
}

// Result of a run. JSON field names are part of the client's -json output.
type Result struct {
	Scenario       Scenario      `json:"scenario"`
	Tasks          int           `json:"tasks"`
	GOMAXPROCS     int           `json:"gomaxprocs"`
	NumCPU         int           `json:"num_cpu"`
	Compute        Compute       `json:"compute"`
	Unit           time.Duration `json:"-"`
	Makespan       time.Duration `json:"-"`
	Expected       time.Duration `json:"-"`
	Formula        string        `json:"formula"`
	TraceID        string        `json:"trace_id"`
	PeakOSThreads  int           `json:"peak_os_threads"`
	PeakGoroutines int           `json:"peak_goroutines"`
	// Errors has one line per failed task.
	Errors []string `json:"errors,omitempty"`
}

// runner is the state shared by a run's tasks.
type runner struct {
	cfg   Config // defaults filled in
	start time.Time
	// responseDeadline bounds a read from a server that never answers.
	responseDeadline time.Time
	lines            *lineWriter
	peak             peak
}

// Run runs one scenario as one trace, with ctx's span, if any, as parent.
// It returns an error if any task failed; Result.Errors has one line each.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Tasks <= 0 {
		cfg.Tasks = 3
	}
	if cfg.Unit <= 0 {
		cfg.Unit = time.Second
	}
	if cfg.Compute == "" {
		cfg.Compute = cfg.Scenario.DefaultCompute()
	}
	if cfg.Procs <= 0 {
		cfg.Procs = cfg.Scenario.DefaultProcs()
	}
	if cfg.Compute == CPU {
		Calibrate()
	}
	res := Result{
		Scenario: cfg.Scenario, Tasks: cfg.Tasks, GOMAXPROCS: cfg.Procs,
		NumCPU: runtime.NumCPU(), Compute: cfg.Compute, Unit: cfg.Unit,
	}
	res.Expected, res.Formula = Expected(cfg.Scenario, cfg.Compute, cfg.Tasks, cfg.Procs, res.NumCPU, cfg.Unit)

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cfg.Procs))
	// A GC stop-the-world waits for every hold in progress to end, and
	// stops every other goroutine meanwhile: one during a run turns parallel
	// computes into a stair. Collect now, as testing.B does before it times,
	// so that the few kilobytes a run allocates do not start a cycle.
	runtime.GC()

	r := &runner{cfg: cfg}
	if cfg.Lines != nil {
		r.lines = &lineWriter{w: cfg.Lines}
	}
	r.start = time.Now()
	r.responseDeadline = r.start.Add(2*res.Expected + 10*time.Second)
	ctx, root := tracer().Start(ctx, tracing.ScenarioSpanName(string(cfg.Scenario)),
		trace.WithTimestamp(r.start),
		trace.WithAttributes(
			tracing.KeyScenario.String(string(cfg.Scenario)),
			tracing.KeyTasks.Int(cfg.Tasks),
			tracing.KeyGOMAXPROCS.Int(cfg.Procs),
			tracing.KeyNumCPU.Int(res.NumCPU),
			tracing.KeyCompute.String(string(cfg.Compute)),
			tracing.KeyUnitMS.Float64(ms(cfg.Unit)),
			tracing.KeyExpectedMS.Float64(ms(res.Expected)),
		))
	res.TraceID = root.SpanContext().TraceID().String()
	r.peak.sample()

	errs := r.tasks(ctx, cfg.Tasks)

	end := time.Now()
	r.peak.sample()
	res.Makespan = end.Sub(r.start)
	res.PeakOSThreads, res.PeakGoroutines = r.peak.get()
	root.SetAttributes(
		tracing.KeyMakespanMS.Float64(ms(res.Makespan)),
		tracing.KeyPeakOSThreads.Int(res.PeakOSThreads),
		tracing.KeyPeakGoroutines.Int(res.PeakGoroutines),
	)
	root.End(trace.WithTimestamp(end))
	for _, err := range errs {
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
	}
	return res, errors.Join(errs...)
}

// tasks runs the tasks the scenario's way: this is where the scenarios
// differ, and all they differ in besides GOMAXPROCS and the compute mode.
func (r *runner) tasks(ctx context.Context, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	switch r.cfg.Scenario {
	case Sync:
		// The article's std client: one thread, tasks in a loop.
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for i := range n {
				errs[i] = r.task(ctx, i+1)
			}
		})
	case Sequential:
		// Tokio's `task().await` in series: each awaited before the next.
		for i := range n {
			wg.Go(func() { errs[i] = r.task(ctx, i+1) })
			wg.Wait()
		}
	case OSThreads:
		// rayon: every task owns an OS thread.
		for i := range n {
			wg.Go(func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				errs[i] = r.task(ctx, i+1)
			})
		}
	default:
		// single-thread and multi-thread: the same code, GOMAXPROCS differs.
		for i := range n {
			wg.Go(func() { errs[i] = r.task(ctx, i+1) })
		}
	}
	wg.Wait()
	return errs
}

// event records one of the article's moments on the task span, and prints
// its line.
func (r *runner) event(span tracing.Span, g tracing.Goroutine, label, name string) {
	tid := tracing.OSThreadID()
	span.AddEvent(name, trace.WithAttributes(g.Attrs(tid)...))
	r.peak.sample()
	if r.lines != nil {
		r.lines.printf("OS thread %d goroutine %d - %s %s: %v\n", tid, g.ID, label, name, time.Since(r.start))
	}
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

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
