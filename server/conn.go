package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"asynctrace/sockstamp"
	"asynctrace/threads"
	"asynctrace/tracing"
	"asynctrace/wire"
)

var (
	errShutdown    = errors.New("server shutting down: request cut short")
	errHoldFull    = errors.New("hold buffer full")
	errRequestTime = errors.New("request timed out, not received and echoed within the request timeout past its delay: connection reset")
)

// request is what one connection has sent and the server holds.
type request struct {
	conn  net.Conn
	buf   []byte // grows to limit
	limit int
	err   error // what ended reading: io.EOF, a deadline, errHoldFull, or worse
}

// read appends what the connection sends next.
func (r *request) read() {
	if len(r.buf) == r.limit {
		r.err = errHoldFull
		return
	}
	r.buf = slices.Grow(r.buf, min(max(512, len(r.buf)), r.limit-len(r.buf)))
	n, err := r.conn.Read(r.buf[len(r.buf):min(cap(r.buf), r.limit)])
	r.buf = r.buf[:len(r.buf)+n]
	r.err = err
}

// handle serves one connection as the article's server does: the delay
// counts from the accept (delay_for right after accept()); when it ends,
// what the client sent meanwhile is echoed, and then everything it sends
// is copied back until it closes (tokio::io::copy); "wrote N bytes".
//
// The trace: the echo span starts at the request's first byte, so that
// it lies inside the client's response span, which starts at its write
// (the accept happened during the client's connect), and ends when the
// reply to what was held has left. What is copied after that is echoed
// as it comes, outside the span, and counted in the log line. The server
// closes only when the client has.
func (s *Server) handle(ctx context.Context, conn net.Conn, accepted time.Time) {
	defer conn.Close()
	g := threads.ThisGoroutine()
	// Delays are reads with a deadline; an abort (Shutdown past its
	// deadline: cutShort) closes conn, which ends them, and cancels ctx.

	r := &request{conn: conn, limit: s.cfg.HoldBuffer}
	s.hook("first byte")
	conn.SetReadDeadline(accepted.Add(s.cfg.FirstByteTimeout))
	r.read()
	if len(r.buf) == 0 {
		if errors.Is(r.err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
			s.logf("%s: no request within %v of the accept, closing", conn.RemoteAddr(), s.cfg.FirstByteTimeout)
		}
		return
	}
	start := time.Now()
	deadline := accepted.Add(s.cfg.Delay)
	end := later(deadline, start).Add(s.cfg.RequestTimeout)
	s.hook("delay")
	conn.SetReadDeadline(deadline)

	ctx, echo, kind, payloadAt := s.startEcho(ctx, g, r, start)
	tracing.ExecLogIDs(ctx, echo.SpanContext())
	endRegion := sync.OnceFunc(tracing.ExecRegion(ctx, tracing.SpanEcho)) // with the echo span
	defer endRegion()

	s.logf("%s: request in (preamble %s), echo %v after the accept", conn.RemoteAddr(), kind, s.cfg.Delay)
	if err := s.hold(ctx, g, r, start, deadline); err != nil {
		echo.SetStatus(codes.Error, err.Error())
		echo.End()
		s.logf("%s: %v", conn.RemoteAddr(), err)
		return
	}

	// A traced client is told how long the request was held, on this
	// server's clock: its response less the wait is the network's round
	// trip (wire.Reply).
	var preamble []byte
	if kind == tracing.PreambleTraced || kind == tracing.PreambleBadContext {
		now := time.Now()
		hold := now.Sub(accepted)
		preamble = wire.Reply{Hold: hold, Wait: now.Sub(start)}.Encode()
		echo.SetAttributes(tracing.KeyHoldMS.Float64(float64(hold) / float64(time.Millisecond)))
	}
	n, sent, err := s.reply(ctx, g, r, preamble, payloadAt, end)
	echo.SetAttributes(tracing.KeyEchoBytes.Int64(n))
	if err != nil {
		tracing.Fail(echo, err)
	}
	echo.EndAt(sent, threads.OSThreadID())
	endRegion()
	if err != nil {
		s.fail(conn, fmt.Errorf("echoed %d bytes: %w", n, err))
		return
	}
	more, err := s.copyRest(r, end)
	if err != nil && ctx.Err() != nil {
		err = errShutdown
	}
	if err != nil {
		s.fail(conn, fmt.Errorf("wrote %d bytes, %d of them after the held request: %w", n+more, more, err))
		return
	}
	s.logf("%s: wrote %d bytes (%d held, %d after; preamble %s, trace %s)", conn.RemoteAddr(), n+more, n, more, kind, echo.SpanContext().TraceID())
}

// startEcho tells a preamble from payload with the bytes that have come
// so far (a plain client's request is all payload), and starts the echo
// span at the first byte: a child of the client's span where the
// preamble carried its context. It returns the span's context and the
// span, how the request began, and where its payload starts.
func (s *Server) startEcho(ctx context.Context, g threads.Goroutine, r *request, start time.Time) (context.Context, threads.ThreadSpan, string, int) {
	res := wire.ParseMax(r.buf, s.cfg.MaxPreamble)
	for res.Status == wire.NeedMore && r.err == nil {
		r.read()
		res = wire.ParseMax(r.buf, s.cfg.MaxPreamble)
	}
	parent, kind, payloadAt := ctx, tracing.PreambleNone, 0
	switch res.Status {
	case wire.Traced:
		parent = res.Extract(ctx)
		kind, payloadAt = tracing.PreambleTraced, res.Len
		if !trace.SpanContextFromContext(parent).IsValid() {
			kind = tracing.PreambleBadContext
		}
	case wire.Invalid:
		kind = tracing.PreambleInvalid
	}
	ctx, echo := g.Start(parent, s.tracer, tracing.SpanEcho,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start),
		trace.WithAttributes(append(append(peerAttrs(r.conn.RemoteAddr()), g.NameAttr()), tracing.KeyPreamble.String(kind))...))
	switch kind {
	case tracing.PreambleBadContext:
		echo.AddEvent(tracing.EventInvalidContext, trace.WithAttributes(
			tracing.KeyTraceparent.String(truncate(res.Headers.Get("traceparent"), 128))))
	case tracing.PreambleInvalid:
		tracing.Fail(echo, errors.New("malformed preamble, echoed as payload: "+res.Err.Error()))
	}
	return ctx, echo, kind, payloadAt
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// hold is the delay span: it reads what comes, up to the hold buffer,
// until the deadline, and waits out the rest of the delay.
func (s *Server) hold(ctx context.Context, g threads.Goroutine, r *request, start, deadline time.Time) error {
	_, span := g.Start(ctx, s.tracer, tracing.SpanDelay, trace.WithTimestamp(start))
	defer tracing.ExecRegion(ctx, tracing.SpanDelay)()
	for r.err == nil {
		r.read()
	}
	err := waitUntil(ctx, deadline, r.err)
	if err != nil {
		tracing.Fail(span, err)
	}
	span.End()
	return err
}

// reply is the write span: it sends the held payload back, after the
// reply preamble if there is one, and returns
// the bytes written and when the last of them left: by the kernel's
// transmit timestamp where it gives one, else the clock after the write.
// The clock read after write returns would come later than the client's
// arrival timestamp (docs/design.md, "Measured facts"), and the echo span
// would end after its parent.
func (s *Server) reply(ctx context.Context, g threads.Goroutine, r *request, preamble []byte, payloadAt int, end time.Time) (int64, time.Time, error) {
	_, span := g.Start(ctx, s.tracer, tracing.SpanWrite)
	defer tracing.ExecRegion(ctx, tracing.SpanWrite)()
	conn := r.conn
	stamped := sockstamp.StampSends(conn)
	s.hook("write")
	conn.SetWriteDeadline(end)
	n, err := conn.Write(append(preamble, r.buf[payloadAt:]...))
	n = max(0, n-len(preamble)) // the payload's bytes
	sent, how := time.Now(), tracing.TimeClock
	if t, ok := sockstamp.LastSent(conn); stamped && ok {
		sent, how = t, tracing.TimeKernel
	}
	if stamped {
		sockstamp.UnstampSends(conn)
	}
	span.SetAttributes(tracing.KeySent.String(how))
	if err != nil {
		err = timedOut(err)
		if ctx.Err() != nil {
			err = errShutdown
		}
		tracing.Fail(span, err)
	}
	span.EndAt(sent, threads.OSThreadID())
	return int64(n), sent, err
}

// copyRest copies back what the client sends after the held request,
// until it closes, as tokio::io::copy does: what did not fit the hold
// buffer, and whatever it writes later. It ends at the request's end; the
// copy goes through a buffer, never a splice of a socket into itself.
func (s *Server) copyRest(r *request, end time.Time) (int64, error) {
	if errors.Is(r.err, io.EOF) {
		return 0, nil // the client closed during the delay: all it sent was held
	}
	s.hook("copy")
	r.conn.SetDeadline(end)
	// Most clients have sent everything and now close: wait for that in
	// the request's own buffer (at least 512 bytes, its bytes sent back
	// already), and take a copy buffer only for a client that sends more.
	// A 32 KiB buffer for each connection, taken up front, was 320 MB of a
	// 10,000-task run's allocations, and most of the server's heap.
	first, err := r.conn.Read(r.buf[:cap(r.buf)])
	if first > 0 {
		if _, werr := r.conn.Write(r.buf[:first]); werr != nil {
			return 0, timedOut(werr)
		}
	}
	switch {
	case errors.Is(err, io.EOF):
		return int64(first), nil
	case err != nil:
		return int64(first), timedOut(err)
	}
	n, err := io.CopyBuffer(struct{ io.Writer }{r.conn}, struct{ io.Reader }{r.conn}, make([]byte, 32<<10))
	if err != nil {
		return int64(first) + n, timedOut(err)
	}
	return int64(first) + n, nil
}

func timedOut(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errRequestTime
	}
	return err
}

// fail logs why a request failed and resets the connection, so that the
// client sees it was cut short rather than a clean end.
func (s *Server) fail(conn net.Conn, err error) {
	s.logf("%s: %v", conn.RemoteAddr(), err)
	reset(conn)
}

// waitUntil waits for the delay to end, after reading stopped with readErr.
func waitUntil(ctx context.Context, deadline time.Time, readErr error) error {
	switch {
	case ctx.Err() != nil:
		return errShutdown
	case errors.Is(readErr, os.ErrDeadlineExceeded):
		return nil // the deadline is the delay's end
	case errors.Is(readErr, io.EOF), errors.Is(readErr, errHoldFull):
		// The client has sent all it will (or all we hold): hold on.
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return errShutdown
		}
	default:
		return readErr
	}
}

func peerAttrs(addr net.Addr) []attribute.KeyValue {
	if a, ok := addr.(*net.TCPAddr); ok {
		return []attribute.KeyValue{tracing.KeyPeerAddress.String(a.IP.String()), tracing.KeyPeerPort.Int(a.Port)}
	}
	return []attribute.KeyValue{tracing.KeyPeerAddress.String(addr.String())}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
