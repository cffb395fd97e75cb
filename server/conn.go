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
	"asynctrace/tracing"
	"asynctrace/wire"
)

var (
	errShutdown    = errors.New("server shutting down: request cut short")
	errHoldFull    = errors.New("hold buffer full")
	errRequestTime = errors.New("request deadline exceeded (-request-timeout): connection reset")
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

// more says whether the client may send more: it has not closed, and did
// not stop only because the delay ended.
func (r *request) more() bool { return errors.Is(r.err, errHoldFull) }

// handle serves one connection. The request's first byte starts the delay;
// what arrives meanwhile is held, up to HoldBuffer; when the delay ends it
// is echoed, and what did not fit is streamed after it, until the client
// closes or pauses for a delay's length, within the echo span. The echo
// span ends when the last byte left. Then the server closes its side;
// bytes that still come are read, counted, logged, and not echoed.
func (s *Server) handle(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	g := tracing.ThisGoroutine()
	// Cancelling ctx interrupts reads and writes: delays are reads with a
	// deadline.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	r := &request{conn: conn, limit: s.cfg.HoldBuffer}
	conn.SetReadDeadline(time.Now().Add(s.cfg.FirstByteTimeout))
	r.read()
	if len(r.buf) == 0 {
		if errors.Is(r.err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
			s.logf("%s: no request within %v (-first-byte-timeout), closing", conn.RemoteAddr(), s.cfg.FirstByteTimeout)
		}
		return
	}
	start := time.Now()
	deadline, end := start.Add(s.cfg.Delay), start.Add(s.cfg.Delay+s.cfg.RequestTimeout)
	conn.SetReadDeadline(deadline)

	// Tell a preamble from payload with the bytes that have come so far;
	// a plain client's request is all in by the end of the delay.
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
		trace.WithAttributes(append(peerAttrs(conn.RemoteAddr()), tracing.KeyPreamble.String(kind))...))
	switch kind {
	case tracing.PreambleBadContext:
		echo.AddEvent(tracing.EventInvalidContext, trace.WithAttributes(
			tracing.KeyTraceparent.String(truncate(res.Headers.Get("traceparent"), 128))))
	case tracing.PreambleInvalid:
		err := errors.New("malformed preamble, echoed as payload: " + res.Err.Error())
		tracing.Fail(echo, err)
	}

	tracing.ExecLogIDs(ctx, echo.SpanContext())
	endRegion := sync.OnceFunc(tracing.ExecRegion(ctx, tracing.SpanEcho)) // with the echo span
	defer endRegion()

	s.logf("%s: request in (preamble %s), echo in %v", conn.RemoteAddr(), kind, s.cfg.Delay)
	if err := s.hold(ctx, g, r, start, deadline); err != nil {
		echo.SetStatus(codes.Error, err.Error())
		echo.End()
		s.logf("%s: %v", conn.RemoteAddr(), err)
		return
	}

	n, sent, err := s.reply(ctx, g, r, payloadAt, end)
	echo.SetAttributes(tracing.KeyEchoBytes.Int64(n))
	if err != nil {
		tracing.Fail(echo, err)
	}
	echo.EndAt(sent, tracing.OSThreadID())
	endRegion()
	if err != nil {
		s.fail(conn, fmt.Errorf("echoed %d bytes: %w", n, err))
		return
	}
	if late := s.drain(conn); late > 0 {
		s.logf("%s: wrote %d bytes; %d more came after the echo and were not echoed (preamble %s, trace %s)", conn.RemoteAddr(), n, late, kind, echo.SpanContext().TraceID())
		return
	}
	s.logf("%s: wrote %d bytes (preamble %s, trace %s)", conn.RemoteAddr(), n, kind, echo.SpanContext().TraceID())
}

// hold is the delay span: it reads what comes, up to the hold buffer,
// until the deadline, and waits out the rest of the delay.
func (s *Server) hold(ctx context.Context, g tracing.Goroutine, r *request, start, deadline time.Time) error {
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

// reply is the write span: it sends the held payload back, then, if the
// client had more to send than the hold buffer took, streams the rest to
// the end of the request. It returns the bytes written and when the last
// of them left: by the kernel's transmit timestamp where it gives one (the
// held reply, as an asynctrace client's is), else the clock after the last
// write. The clock read after write returns would come later than the
// client's arrival timestamp (docs/design.md, "Measured facts"), and the
// echo span would end after its parent.
func (s *Server) reply(ctx context.Context, g tracing.Goroutine, r *request, payloadAt int, end time.Time) (int64, time.Time, error) {
	_, span := g.Start(ctx, s.tracer, tracing.SpanWrite)
	defer tracing.ExecRegion(ctx, tracing.SpanWrite)()
	conn := r.conn
	stamped := sockstamp.StampSends(conn)
	conn.SetWriteDeadline(end)
	n, err := conn.Write(r.buf[payloadAt:])
	written := int64(n)
	sent, how := time.Now(), tracing.TimeClock
	if t, ok := sockstamp.LastSent(conn); stamped && ok {
		sent, how = t, tracing.TimeKernel
	}
	if stamped {
		sockstamp.UnstampSends(conn)
	}
	if err == nil && r.more() {
		var m int64
		m, err = stream(conn, s.cfg.Delay, end)
		written += m
		sent, how = time.Now(), tracing.TimeClock
		span.SetAttributes(tracing.KeyStreamed.Bool(true))
	}
	span.SetAttributes(tracing.KeySent.String(how))
	if err != nil {
		tracing.Fail(span, err)
	}
	span.EndAt(sent, tracing.OSThreadID())
	return written, sent, err
}

// stream copies what conn sends back to it until EOF, or until it sends
// nothing for idle (the client has sent all it will), or the request's end
// (an error): io.Copy through a 32 KiB buffer, never a splice of a socket
// into itself.
func stream(conn net.Conn, idle time.Duration, end time.Time) (int64, error) {
	conn.SetWriteDeadline(end)
	buf := make([]byte, 32<<10)
	var n int64
	for {
		next := time.Now().Add(idle)
		if next.After(end) {
			next = end
		}
		conn.SetReadDeadline(next)
		m, err := conn.Read(buf)
		if m > 0 {
			w, werr := conn.Write(buf[:m])
			n += int64(w)
			if werr != nil {
				return n, timedOut(werr)
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return n, nil
		case errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(end):
			return n, nil // idle: all sent
		default:
			return n, timedOut(err)
		}
	}
}

func timedOut(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errRequestTime
	}
	return err
}

// drain closes the server's side (the echo is complete) and reads what
// else comes, for a quarter of the delay at most, so that closing does not
// reset a connection with unread bytes; it returns how many came. An
// asynctrace client closes as soon as it has read its echo.
func (s *Server) drain(conn net.Conn) int64 {
	if tc, ok := conn.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(min(max(s.cfg.Delay/4, 10*time.Millisecond), s.cfg.FirstByteTimeout)))
	n, _ := io.Copy(io.Discard, conn)
	return n
}

// fail logs why a request failed and resets the connection, so that the
// client sees it was cut short rather than a clean end.
func (s *Server) fail(conn net.Conn, err error) {
	s.logf("%s: %v", conn.RemoteAddr(), err)
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
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
