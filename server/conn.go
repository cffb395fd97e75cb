package server

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"asynctrace/tracing"
	"asynctrace/wire"
)

// tracer is looked up at each use: the global provider's first delegate
// would otherwise stick to a package-level tracer, and a test that sets up
// tracing twice in one process would record into the first.
func tracer() trace.Tracer { return otel.Tracer("asynctrace/server") }

// drainTimeout bounds the wait for the client to close after the echo, so
// that closing does not reset a connection with unread bytes.
const drainTimeout = time.Second

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
// what arrives until the delay ends is echoed; then the connection closes.
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
		parent = otel.GetTextMapPropagator().Extract(ctx, res.Headers)
		kind, payloadAt = tracing.PreambleTraced, res.Len
		if !trace.SpanContextFromContext(parent).IsValid() {
			kind = tracing.PreambleBadContext
		}
	case wire.Invalid:
		kind = tracing.PreambleInvalid
	}

	peer := peerAttrs(conn.RemoteAddr())
	ctx, echo := g.Start(parent, tracer(), tracing.SpanEcho,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start),
		trace.WithAttributes(append(peer, tracing.KeyPreamble.String(kind))...))
	defer echo.End()
	switch kind {
	case tracing.PreambleBadContext:
		echo.AddEvent("invalid trace context", trace.WithAttributes(
			attribute.String("traceparent", truncate(res.Headers.Get("traceparent"), 128))))
	case tracing.PreambleInvalid:
		err := errors.New("malformed preamble, echoed as payload: " + res.Err.Error())
		echo.RecordError(err)
		echo.SetStatus(codes.Error, err.Error())
	}

	_, delay := g.Start(ctx, tracer(), tracing.SpanDelay, trace.WithTimestamp(start))
	for r.err == nil {
		r.read()
	}
	err := s.waitUntil(ctx, deadline, r.err)
	if err != nil {
		delay.RecordError(err)
		delay.SetStatus(codes.Error, err.Error())
	}
	delay.End()
	if err != nil {
		echo.SetStatus(codes.Error, err.Error())
		s.logf("%s: %v", conn.RemoteAddr(), err)
		return
	}

	payload := r.buf[payloadAt:]
	_, write := g.Start(ctx, tracer(), tracing.SpanWrite)
	conn.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
	n, err := conn.Write(payload)
	if err == nil {
		if tc, ok := conn.(interface{ CloseWrite() error }); ok {
			err = tc.CloseWrite()
		}
	}
	echo.SetAttributes(tracing.KeyEchoBytes.Int(n))
	if err != nil {
		write.RecordError(err)
		write.SetStatus(codes.Error, err.Error())
		echo.SetStatus(codes.Error, err.Error())
	}
	write.End()
	s.logf("%s: wrote %d bytes (preamble %s, trace %s)", conn.RemoteAddr(), n, kind, echo.SpanContext().TraceID())

	// The client closes once it has read the echo.
	conn.SetReadDeadline(time.Now().Add(drainTimeout))
	io.Copy(io.Discard, conn)
}

// waitUntil waits for the delay to end, after reading stopped with readErr.
func (s *Server) waitUntil(ctx context.Context, deadline time.Time, readErr error) error {
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
