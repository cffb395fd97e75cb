package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"

	"asynctrace/scenario"
	"asynctrace/sockstamp"
	"asynctrace/threads"
	"asynctrace/tracing"
	"asynctrace/wire"
)

// task is one of the run's tasks: created (its span started) by whoever
// spawns it, run on its own goroutine.
type task struct {
	r     *runner
	i     int // 1-based
	label string
	ctx   context.Context // carries the task span (and the SDK's execution trace task)
	// cancel ends ctx, the task's own: its waits, dial and read watch a
	// channel and a lock of their own, not the run's, which 10,000 locked
	// threads would queue on (docs/results.md).
	cancel context.CancelFunc
	span   trace.Span
	rec    *taskRecord
}

// taskRecord is what a task measured, for the thread lanes and the
// model's network time.
type taskRecord struct {
	goroutine  int64
	span       trace.SpanContext // the task's
	start, end time.Time
	stages     []stageRecord
	// handshake is the dial; roundTrip the request's, on the network;
	// serverHold what the server says it held the request (0: unknown).
	handshake, roundTrip, serverHold time.Duration
}

type stageRecord struct {
	stage             scenario.Stage
	start, end        time.Time
	thread, threadEnd int
	span              trace.SpanID // in the run's trace
}

// newTask creates task i: its span starts now, before its goroutine runs.
func (r *runner) newTask(ctx context.Context, i int) *task {
	label := scenario.TaskLabel(i)
	ctx, cancel := context.WithCancel(ctx)
	start := time.Now()
	// Its attributes come with its goroutine's (task.run), in one go.
	ctx, span := r.tracer.Start(ctx, tracing.TaskSpanName(i, len(r.records)), trace.WithTimestamp(start))
	rec := &r.records[i-1]
	rec.start, rec.span = start, span.SpanContext()
	rec.stages = make([]stageRecord, 0, len(scenario.Stages)) // stageSpan points into it
	tracing.ExecLogIDs(ctx, span.SpanContext())
	return &task{r: r, i: i, label: label, ctx: ctx, cancel: cancel, span: span, rec: rec}
}

// run runs the task on the calling goroutine: connect, response, ready,
// compute, each a child span of the task's span.
func (t *task) run() (err error) {
	g := threads.ThisGoroutine()
	span := g.Adopt(t.span, tracing.KeyTask.String(t.label), tracing.KeyLockedThread.Bool(t.r.cfg.Scenario.Locked()))
	t.rec.goroutine = g.ID
	defer t.cancel()
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: %w", t.label, err)
			tracing.Fail(span, err)
			t.r.counts.failed.Add(1)
		}
		t.rec.end = time.Now()
		span.EndAt(t.rec.end, threads.OSThreadID())
	}()
	t.event(g, tracing.EventStarted)

	conn, err := t.connect(g)
	if err != nil {
		return err
	}
	if err := t.response(g, conn); err != nil {
		return err
	}
	t.event(g, tracing.EventRead)

	if err := t.compute(g); err != nil {
		return err
	}
	t.event(g, tracing.EventFinished)
	return nil
}

// stage starts a stage span of the task on g, at start if not zero; with
// a zero start, it starts the stage's execution trace region too, right
// before reading the time, and the span's end ends it (endNow).
func (t *task) stage(g threads.Goroutine, s scenario.Stage, start time.Time, opts ...trace.SpanStartOption) (context.Context, *stageSpan) {
	endRegion := func() {}
	if start.IsZero() {
		endRegion = tracing.ExecRegion(t.ctx, string(s))
		start = time.Now()
	}
	ctx, span := g.Start(t.ctx, t.r.tracer, string(s), append(opts, trace.WithTimestamp(start))...)
	t.rec.stages = append(t.rec.stages, stageRecord{stage: s, start: start, thread: span.OSThread(), span: span.SpanContext().SpanID()})
	return ctx, &stageSpan{ThreadSpan: span, rec: &t.rec.stages[len(t.rec.stages)-1], endRegion: endRegion}
}

type stageSpan struct {
	threads.ThreadSpan
	rec       *stageRecord
	endRegion func() // the execution trace's region, once
}

// regionEnd ends the stage's execution trace region, if not yet ended.
func (s *stageSpan) regionEnd() {
	s.endRegion()
	s.endRegion = func() {}
}

// end ends the stage at end, on OS thread osThread, recording err.
func (s *stageSpan) end(end time.Time, osThread int, err error) {
	if err != nil {
		tracing.Fail(s, err)
	}
	s.rec.end, s.rec.threadEnd = end, osThread
	s.EndAt(end, osThread)
}

// endNow ends the stage, and its region, now.
func (s *stageSpan) endNow(err error) {
	now := time.Now()
	s.regionEnd()
	s.end(now, threads.OSThreadID(), err)
}

// connect waits 2u (the simulated network delay) and dials the server.
func (t *task) connect(g threads.Goroutine) (_ net.Conn, err error) {
	ctx, s := t.stage(g, scenario.StageConnect, time.Time{})
	defer func() { s.endNow(err) }()

	if err := wait(ctx, scenario.ConnectUnits*t.r.cfg.Unit); err != nil {
		return nil, stageError{scenario.StageConnect, err}
	}
	d := net.Dialer{Control: sockstamp.StampArrivals}
	dialed := time.Now()
	conn, err := d.DialContext(ctx, "tcp", t.r.cfg.Addr)
	if err != nil {
		return nil, stageError{scenario.StageConnect, err}
	}
	// The handshake's round trip: the network's part of connecting.
	t.rec.handshake = time.Since(dialed)
	s.SetAttributes(tracing.KeyHandshakeMS.Float64(scenario.MS(t.rec.handshake)))
	return conn, nil
}

// response writes the request, a preamble carrying this span's context
// and the label, waits for the echo (the server holds it 8u), and closes
// the connection, whatever happened. The span
// starts before the write, so that the server's span, which starts with
// the first byte in, lies within it; it ends when the echo reached the
// socket, by the kernel's receive timestamp, not when the goroutine read
// it: under GOMAXPROCS=1 the two are seconds apart. The ready span covers
// that gap, until this goroutine ran again.
func (t *task) response(g threads.Goroutine, conn net.Conn) (err error) {
	ctx, s := t.stage(g, scenario.StageResponse, time.Time{}, trace.WithSpanKind(trace.SpanKindClient))
	ended := false
	defer func() {
		if !ended {
			s.endNow(err)
		}
	}()
	defer conn.Close() // on the paths that fail before the read's close

	req, err := wire.Preamble(ctx)
	if err != nil {
		return stageError{scenario.StageResponse, err}
	}
	if _, err := conn.Write(append(req[:len(req):len(req)], t.label...)); err != nil {
		return stageError{scenario.StageResponse, fmt.Errorf("write: %w", err)}
	}
	t.event(g, tracing.EventWritten)

	// Cancellation, or a server that never answers, ends the read.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	conn.SetReadDeadline(t.r.responseDeadline)
	// asynctrace's server says how long it held the request; a plain echo
	// server (the article's) echoes the preamble too: read past it, and
	// say so once per run (Result.PlainServer).
	rd := sockstamp.NewReader(conn)
	echo, err := wire.ReadEcho(rd, req, []byte(t.label))
	arrived, stamped := rd.Arrived, rd.Stamped
	if echo.PlainServer {
		t.r.plainServer.Store(true)
	}
	// TCP's view of the round trip, only where the server says nothing:
	// getsockopt is a system call, during which the runtime may hand the
	// one P to another thread (docs/design.md, "Stages").
	var rtt time.Duration
	rttOK := false
	if err == nil && !echo.ReplyOK {
		rtt, rttOK = sockstamp.SmoothedRTT(conn)
	}
	// Close as the article's client does (shutdown(Both) right after the
	// read), with everything the server sent read, so that the server's
	// copy ends now, not after the compute; and before the ready span
	// ends: closing is a system call, during which the runtime may hand the
	// goroutine's P to another thread, and the goroutine then waits for it
	// again.
	conn.Close()
	ran, tid := time.Now(), threads.OSThreadID()
	s.regionEnd() // the region covers response and ready: until the goroutine ran again
	if err != nil {
		return stageError{scenario.StageResponse, t.readError(ctx, err)}
	}
	how := tracing.TimeKernel
	if !stamped || arrived.After(ran) {
		arrived, how = ran, tracing.TimeClock
	}
	// The request's round trip: the response less what the server says it
	// waited, both on their own clocks; else TCP's view of the connection.
	switch {
	case echo.ReplyOK:
		t.rec.roundTrip = max(0, arrived.Sub(s.rec.start)-echo.Reply.Wait)
		t.rec.serverHold = echo.Reply.Hold
		s.SetAttributes(tracing.KeyServerHoldMS.Float64(scenario.MS(echo.Reply.Hold)))
	case rttOK:
		t.rec.roundTrip = rtt
	}
	s.SetAttributes(tracing.KeyArrival.String(how), tracing.KeyRoundTripMS.Float64(scenario.MS(t.rec.roundTrip)))
	s.end(arrived, tid, nil)
	ended = true

	// The ready span is made after the run (readySpans), when what held
	// the thread it waited for is known.
	t.rec.stages = append(t.rec.stages, stageRecord{stage: scenario.StageReady, start: arrived, end: ran, thread: tid, threadEnd: tid})
	return nil
}

// readError says why the echo could not be read.
func (t *task) readError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return context.Cause(ctx) // the caller cancelled the run, not the server
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("the server closed the connection before echoing %q (is it stopping, or holding requests past its request timeout?): %w", t.label, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("no echo by %v, twice the expected makespan plus %v: %w", t.r.responseDeadline.Sub(t.r.start).Round(time.Millisecond), responseGrace, err)
	}
	return err
}

// compute blocks for 4u in the run's compute mode. The span ends at the
// time, and on the OS thread, the mode read when it was done, not when End
// is called.
func (t *task) compute(g threads.Goroutine) error {
	ctx, s := t.stage(g, scenario.StageCompute, time.Time{})
	end, tid, err := block(ctx, t.r.cfg.Compute, scenario.ComputeUnits*t.r.cfg.Unit)
	s.regionEnd()
	if err != nil {
		err = stageError{scenario.StageCompute, err}
	}
	s.end(end, tid, err)
	return err
}

// event records one of the article's moments on the task span, and prints
// its line.
func (t *task) event(g threads.Goroutine, name string) {
	tid := threads.OSThreadID()
	t.span.AddEvent(name, trace.WithAttributes(tracing.KeyOSThreadID.Int(tid)))
	t.r.counts.event(name)
	if t.r.lines != nil {
		t.r.lines.printf("OS thread %d goroutine %d - %s %s: %v\n", tid, g.ID, t.label, name, time.Since(t.r.start))
	}
}
