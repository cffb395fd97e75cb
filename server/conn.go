package server

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"asynctrace/internal/sockstamp"
	"asynctrace/tracing"
	"asynctrace/wire"
)

var errShutdown = errors.New("server shutting down: request cut short")

// request is what one connection has sent.
type request struct {
	conn  net.Conn
	buf   []byte
	limit int
	err   error // the read error that ended reading: io.EOF, a deadline, or worse
}

// read appends what the connection sends next.
func (r *request) read() {
	if len(r.buf) == r.limit {
		r.err = errPayloadFull
		return
	}
	r.buf = slices.Grow(r.buf, min(512, r.limit-len(r.buf)))
	n, err := r.conn.Read(r.buf[len(r.buf):min(cap(r.buf), r.limit)])
	r.buf = r.buf[:len(r.buf)+n]
	r.err = err
}

var errPayloadFull = errors.New("payload limit reached")

// handle serves one connection: the request's first byte starts the delay;
// what arrives until the delay ends is echoed. The echo span runs from the
// first byte to the moment the reply left (write); the wait for the client
// to close comes after it, outside any span.
func (s *Server) handle(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	g := tracing.ThisGoroutine()
	// Cancelling ctx interrupts reads and writes: delays are reads with a
	// deadline.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	r := &request{conn: conn, buf: make([]byte, 0, 512), limit: wire.MaxPreamble + s.cfg.MaxPayload}
	conn.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
	r.read()
	if len(r.buf) == 0 && errors.Is(r.err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
		s.logf("%s: no request within %v, closing", conn.RemoteAddr(), s.cfg.IdleTimeout)
		return
	}
	start := time.Now()
	deadline := start.Add(s.cfg.Delay)
	conn.SetReadDeadline(deadline)

	// Tell a preamble from payload with the bytes that have come so far;
	// a plain client's request is all in by the end of the delay.
	res := wire.Parse(r.buf)
	for res.Status == wire.NeedMore && r.err == nil {
		r.read()
		res = wire.Parse(r.buf)
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
		echo.AddEvent("invalid trace context", trace.WithAttributes(
			attribute.String("traceparent", truncate(res.Headers.Get("traceparent"), 128))))
	case tracing.PreambleInvalid:
		err := errors.New("malformed preamble, echoed as payload: " + res.Err.Error())
		echo.RecordError(err)
		echo.SetStatus(codes.Error, err.Error())
	}

	s.logf("%s: request in (preamble %s), echo in %v", conn.RemoteAddr(), kind, s.cfg.Delay)
	if err := s.hold(ctx, g, r, start, deadline); err != nil {
		echo.SetStatus(codes.Error, err.Error())
		echo.End()
		s.logf("%s: %v", conn.RemoteAddr(), err)
		return
	}

	n, sent, err := s.reply(ctx, g, conn, r.buf[payloadAt:])
	echo.SetAttributes(tracing.KeyEchoBytes.Int(n))
	if err != nil {
		echo.SetStatus(codes.Error, err.Error())
	}
	echo.EndAt(sent, tracing.OSThreadID())
	s.logf("%s: wrote %d bytes (preamble %s, trace %s)", conn.RemoteAddr(), n, kind, echo.SpanContext().TraceID())
	if err == nil {
		s.drain(conn)
	}
}

// hold is the delay span: it reads what comes until the deadline, and
// waits out the rest of the delay.
func (s *Server) hold(ctx context.Context, g tracing.Goroutine, r *request, start, deadline time.Time) error {
	_, span := g.Start(ctx, s.tracer, tracing.SpanDelay, trace.WithTimestamp(start))
	for r.err == nil {
		r.read()
	}
	err := waitUntil(ctx, deadline, r.err)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	return err
}

// reply is the write span: it sends payload back and returns the bytes
// written and when the last of them left, by the kernel's transmit
// timestamp where it gives one. The clock read after write returns would
// come later than the client's arrival timestamp (docs/design.md,
// "Measured facts"), and the echo span would end after its parent.
func (s *Server) reply(ctx context.Context, g tracing.Goroutine, conn net.Conn, payload []byte) (int, time.Time, error) {
	_, span := g.Start(ctx, s.tracer, tracing.SpanWrite)
	stamped := sockstamp.StampSends(conn)
	conn.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
	n, err := conn.Write(payload)
	sent, how := time.Now(), tracing.TimeClock
	if t, ok := sockstamp.LastSent(conn); stamped && ok {
		sent, how = t, tracing.TimeKernel
	}
	span.SetAttributes(tracing.KeySent.String(how))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.EndAt(sent, tracing.OSThreadID())
	return n, sent, err
}

// drain closes the write side and waits, a quarter of the delay at most,
// for the client to close, so that closing does not reset a connection
// with unread bytes. The client closes as soon as it has read the echo.
func (s *Server) drain(conn net.Conn) {
	if tc, ok := conn.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(min(max(s.cfg.Delay/4, 10*time.Millisecond), s.cfg.IdleTimeout)))
	io.Copy(io.Discard, conn)
}

// waitUntil waits for the delay to end, after reading stopped with readErr.
func waitUntil(ctx context.Context, deadline time.Time, readErr error) error {
	switch {
	case ctx.Err() != nil:
		return errShutdown
	case errors.Is(readErr, os.ErrDeadlineExceeded):
		return nil // the deadline is the delay's end
	case errors.Is(readErr, io.EOF), errors.Is(readErr, errPayloadFull):
		// The client has sent all it will (or all we take): hold on.
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
