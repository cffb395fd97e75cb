package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"asynctrace/tracing"
	"asynctrace/wire"
)

// tracer is looked up at each use: the global provider's first delegate
// would otherwise stick to a package-level tracer, and a test that sets up
// tracing twice in one process would record into the first.
func tracer() trace.Tracer { return otel.Tracer("asynctrace/client") }

// task runs task i (1-based) of the scenario on the calling goroutine:
// connect, response, compute, each a child span of the task's span.
func (r *runner) task(ctx context.Context, i int) (err error) {
	g := tracing.ThisGoroutine()
	label := tracing.TaskLabel(i)
	ctx, span := g.Start(ctx, tracer(), label, trace.WithAttributes(
		tracing.KeyTask.String(label),
		tracing.KeyLockedThread.Bool(r.cfg.Scenario.locked()),
	))
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: %w", label, err)
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	r.event(span, g, label, tracing.EventStarted)

	conn, rctx, err := r.connect(ctx, g, label)
	if err != nil {
		return err
	}
	defer conn.Close()
	r.event(span, g, label, tracing.EventWritten)

	if err := r.response(rctx, g, conn, label); err != nil {
		return err
	}
	r.event(span, g, label, tracing.EventRead)

	if err := r.compute(ctx, g); err != nil {
		return err
	}
	r.event(span, g, label, tracing.EventFinished)
	return nil
}

// connect waits 2u (the simulated network delay), dials the server and
// writes the label, after a preamble that carries the context of the
// response span to come: the server's span becomes its child. It returns
// the context to start that span with.
func (r *runner) connect(ctx context.Context, g tracing.Goroutine, label string) (_ net.Conn, _ context.Context, err error) {
	sctx, span := g.Start(ctx, tracer(), tracing.SpanConnect)
	defer func() { endStage(span, err) }()

	if err := wait(sctx, connectUnits*r.cfg.Unit); err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(sctx, "tcp", r.cfg.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	rctx, response := tracing.ReserveSpan(ctx)
	req, err := wire.Preamble(trace.ContextWithSpanContext(ctx, response))
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := conn.Write(append(req, label...)); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("connect: write: %w", err)
	}
	return conn, rctx, nil
}

// response reads the echoed label: the server holds it 8u. The span ends
// when this goroutine runs again, which under a busy P is later than the
// bytes arrived (the server's write span shows when they did).
func (r *runner) response(ctx context.Context, g tracing.Goroutine, conn net.Conn, label string) (err error) {
	_, span := g.Start(ctx, tracer(), tracing.SpanResponse, trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStage(span, err) }()

	// Cancellation, or a server that never answers, ends the read.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	conn.SetReadDeadline(r.responseDeadline)
	got := make([]byte, len(label))
	if _, err := io.ReadFull(conn, got); err != nil {
		if ctx.Err() != nil {
			err = context.Cause(ctx) // the deadline we set, not the server
		}
		return fmt.Errorf("response: %w", err)
	}
	if !bytes.Equal(got, []byte(label)) {
		return fmt.Errorf("response: echoed %q, want %q", got, label)
	}
	return nil
}

// compute blocks for 4u in the run's compute mode. The span ends at the
// time, and on the OS thread, the mode read when it was done, not when End
// is called.
func (r *runner) compute(ctx context.Context, g tracing.Goroutine) error {
	_, span := g.Start(ctx, tracer(), tracing.SpanCompute)
	end, tid, err := r.cfg.Compute.run(ctx, computeUnits*r.cfg.Unit)
	if err != nil {
		err = fmt.Errorf("compute: %w", err)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.EndAt(end, tid)
	return err
}

func endStage(span tracing.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
