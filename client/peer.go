package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"

	"asynctrace/scenario"
	"asynctrace/tracing"
)

// Tokio's runs: the article's own programs (peers/tokio) run as a child,
// each recording its tasks (--record); their spans are made here, after
// the run, from the record, with the contract's names and keys and the
// same timeline, lanes and checks as Go's runs.

// PeerProgram is the article's program that runs scenario s with compute
// mode m on Tokio (or rayon), and its option for the threads P, "" where
// it has none. Tokio's computes block their worker, as `hold` does; the
// C10k program's sleep (`sleep`) is the one other mode.
func PeerProgram(s scenario.Scenario, m scenario.Compute) (program, threads string, err error) {
	switch {
	case m == scenario.Sleep && s == scenario.MultiThread:
		return "client_many", "--workers", nil
	case m != scenario.Hold:
		return "", "", fmt.Errorf("the article's Tokio programs compute as the article does, blocking their thread (%s); %s with %s has no Tokio program", scenario.Hold, s, m)
	}
	switch s {
	case scenario.Sync:
		return "client_sync", "", nil
	case scenario.Sequential:
		return "client_series", "", nil
	case scenario.SingleThread:
		return "client_single", "", nil
	case scenario.MultiThread:
		return "client_multi", "--workers", nil
	case scenario.OSThreads:
		return "client_rayon", "--threads", nil
	}
	return "", "", fmt.Errorf("unknown scenario %q", s)
}

// PeerMissingError: the article's program is not where the run looked.
type PeerMissingError struct {
	Path string
	Err  error
}

func (e *PeerMissingError) Error() string {
	return fmt.Sprintf("the article's Tokio program %s: %v", e.Path, e.Err)
}

func (e *PeerMissingError) Unwrap() error { return e.Err }

// runPeer runs the article's program for the run as a child and reads its
// record: what the tasks did, on which threads, and the ids it sent.
func (r *runner) runPeer(ctx context.Context, p scenario.Params) (*peerRun, error) {
	program, threadsFlag, err := PeerProgram(p.Scenario, p.Compute)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(r.cfg.PeerDir, program)
	if _, err := os.Stat(path); err != nil {
		return nil, &PeerMissingError{Path: path, Err: err}
	}
	rec, err := os.CreateTemp("", "asynctrace-tokio-*.jsonl")
	if err != nil {
		return nil, err
	}
	rec.Close()
	defer os.Remove(rec.Name())

	args := []string{"--addr", r.cfg.Addr, "--unit", strconv.FormatInt(p.Unit.Microseconds(), 10) + "us",
		"--tasks", strconv.Itoa(p.N), "--record", rec.Name()}
	if threadsFlag != "" {
		args = append(args, threadsFlag, strconv.Itoa(p.Procs))
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 2 * time.Second
	cmd.Stdout = io.Discard
	if r.cfg.Lines != nil && program != "client_many" { // client_many prints a JSON line, not the article's
		cmd.Stdout = r.cfg.Lines
	}
	var stderr tailBuffer
	cmd.Stderr = &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	f, err := os.Open(rec.Name())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	run, err := readPeerRecord(f)
	if err != nil {
		if runErr != nil {
			return nil, fmt.Errorf("%s: %w: %s", program, runErr, bytes.TrimSpace(stderr.Bytes()))
		}
		return nil, fmt.Errorf("%s's record: %w", program, err)
	}
	if run.unit != p.Unit || len(run.tasks) != p.N {
		return nil, fmt.Errorf("%s recorded %d tasks at u = %v; asked for %d at %v", program, len(run.tasks), run.unit, p.N, p.Unit)
	}
	return run, nil
}

// tailBuffer keeps the last 4 KiB written to it: a child's last words.
type tailBuffer struct{ bytes.Buffer }

func (b *tailBuffer) Write(p []byte) (int, error) {
	n, _ := b.Buffer.Write(p)
	if over := b.Len() - 4096; over > 0 {
		b.Next(over)
	}
	return n, nil
}

// peerTaskSpans makes the spans of a Tokio run's tasks from its record,
// under ctx's span (the run's tasks): each task, its events (the article's
// lines) and its stages, timed and threaded as recorded; each response
// with the id the program sent the server, so that the server's echo is
// its child. It fills in r.records, as Go's tasks do as they run, and
// returns each task's error.
func (r *runner) peerTaskSpans(ctx context.Context, run *peerRun) []error {
	n := len(run.tasks)
	errs := make([]error, n)
	locked := r.cfg.Scenario.Locked()
	for i, t := range run.tasks {
		label := scenario.TaskLabel(i + 1)
		tctx, span := r.tracer.Start(ctx, tracing.TaskSpanName(i+1, n), trace.WithTimestamp(t.start),
			trace.WithAttributes(tracing.KeyTask.String(label), tracing.KeyLockedThread.Bool(locked), tracing.KeyOSThreadID.Int(t.thread)))
		for _, e := range t.events {
			span.AddEvent(e.name, trace.WithTimestamp(e.at), trace.WithAttributes(tracing.KeyOSThreadID.Int(e.thread)))
		}
		rec := &r.records[i]
		rec.start, rec.end, rec.span = t.start, t.end, span.SpanContext()
		rec.stages = t.stages
		for j := range rec.stages {
			s := &rec.stages[j]
			if s.stage == scenario.StageReady {
				continue // readySpans makes it, with what held its thread
			}
			sctx := tctx
			opts := []trace.SpanStartOption{trace.WithTimestamp(s.start), trace.WithAttributes(tracing.KeyOSThreadID.Int(s.thread))}
			if s.stage == scenario.StageResponse {
				sctx = tracing.WithIDs(tctx, trace.TraceID{}, s.span)
				if t.hold > 0 {
					rec.serverHold = t.hold
					rec.roundTrip = max(0, s.end.Sub(s.start)-t.wait)
				}
				opts = append(opts, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
					tracing.KeyArrival.String(t.arrival),
					tracing.KeyRoundTripMS.Float64(scenario.MS(rec.roundTrip)),
					tracing.KeyServerHoldMS.Float64(scenario.MS(rec.serverHold))))
			}
			_, ss := r.tracer.Start(sctx, string(s.stage), opts...)
			if s.threadEnd != s.thread {
				ss.SetAttributes(tracing.KeyOSThreadIDEnd.Int(s.threadEnd))
			}
			s.span = ss.SpanContext().SpanID()
			ss.End(trace.WithTimestamp(s.end))
		}
		if t.err != "" {
			errs[i] = fmt.Errorf("%s: %s", label, t.err)
			tracing.Fail(span, errs[i])
		}
		if t.threadEnd != t.thread {
			span.SetAttributes(tracing.KeyOSThreadIDEnd.Int(t.threadEnd))
		}
		span.End(trace.WithTimestamp(t.end))
	}
	return errs
}

// errNoPeerDir: a Tokio run with no directory to find its program in.
var errNoPeerDir = errors.New("no directory of the article's Tokio programs given")
