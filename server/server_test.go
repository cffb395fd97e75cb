package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"asynctrace/internal/echotest"
	"asynctrace/internal/logtest"
	"asynctrace/internal/spantest"
	"asynctrace/server"
	"asynctrace/tracing"
	"asynctrace/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const delay = 150 * time.Millisecond

// traced starts a server recording into a recorder of the test's own.
func traced(t *testing.T, cfg server.Config) (*echotest.Server, *spantest.Recorder) {
	t.Helper()
	rec, tp := spantest.New(t)
	cfg.TracerProvider = tp
	return echotest.Start(t, cfg), rec
}

// exchange dials, writes req, closes its side as `nc -N` does, reads until
// the server closes, and says how long the answer took from the dial: the
// server holds a request from its accept, which may come before Dial has
// returned here (a read of the clock after Dial was once 1.3 ms late, and
// the echo looked early).
func exchange(t *testing.T, addr string, req []byte) ([]byte, time.Duration) {
	t.Helper()
	start := time.Now()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return got, time.Since(start)
}

// spansNamed waits for n ended spans of each name in names.
func spansNamed(t *testing.T, rec *spantest.Recorder, n int, names ...string) map[string][]sdktrace.ReadOnlySpan {
	t.Helper()
	by := map[string][]sdktrace.ReadOnlySpan{}
	rec.WaitEnded(t, strings.Join(names, ", "), func(spans []sdktrace.ReadOnlySpan) bool {
		clear(by)
		for _, s := range spans {
			by[s.Name()] = append(by[s.Name()], s)
		}
		for _, name := range names {
			if len(by[name]) < n {
				return false
			}
		}
		return true
	})
	return by
}

// The article's plain client: `printf task1 | nc -N 127.0.0.1 6142`.
func TestPlainEcho(t *testing.T) {
	srv := echotest.Start(t, server.Config{Delay: delay})
	got, took := exchange(t, srv.Addr, []byte("task1"))
	if string(got) != "task1" {
		t.Errorf("echo = %q, want %q", got, "task1")
	}
	if took < delay {
		t.Errorf("echo after %v, want not before the delay %v", took, delay)
	}
}

// The preamble edge cases: what comes back, and what the echo span says.
func TestPreambleEdgeCases(t *testing.T) {
	valid := wire.Magic + "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n"
	tests := []struct {
		name         string
		give         string
		want         string // echoed
		wantPreamble string
		wantParent   bool
		wantError    bool
	}{
		{name: "plain", give: "task1", want: "task1", wantPreamble: tracing.PreambleNone},
		{name: "one byte of the magic", give: "A", want: "A", wantPreamble: tracing.PreambleNone},
		{name: "begins like the preamble", give: "ASYNCTRACE/1 is not me", want: "ASYNCTRACE/1 is not me", wantPreamble: tracing.PreambleNone},
		{name: "traced", give: valid + "task1", want: "task1", wantPreamble: tracing.PreambleTraced, wantParent: true},
		{name: "garbage trace context", give: wire.Magic + "traceparent: zz-garbage\r\n\r\ntask1", want: "task1", wantPreamble: tracing.PreambleBadContext},
		{name: "malformed", give: wire.Magic + "no colon here\r\n\r\ntask1", want: wire.Magic + "no colon here\r\n\r\ntask1", wantPreamble: tracing.PreambleInvalid, wantError: true},
		{
			name: "oversized", give: wire.Magic + "baggage: " + strings.Repeat("b", 2*wire.MaxPreamble),
			want: wire.Magic + "baggage: " + strings.Repeat("b", 2*wire.MaxPreamble), wantPreamble: tracing.PreambleInvalid, wantError: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := traced(t, server.Config{Delay: delay})
			got, _ := exchange(t, srv.Addr, []byte(tt.give))
			// A traced client's echo comes after the server's reply
			// preamble: its hold, and its wait since the first byte.
			traced := tt.wantPreamble == tracing.PreambleTraced || tt.wantPreamble == tracing.PreambleBadContext
			if r := wire.Parse(got); traced != (r.Status == wire.Traced) {
				t.Errorf("reply preamble: %v, want one: %v (%.80q)", r.Status, traced, got)
			} else if traced {
				if r.Headers.Get("asynctrace-hold-ns") == "" || r.Headers.Get("asynctrace-wait-ns") == "" {
					t.Errorf("reply preamble headers %v, want the hold and the wait", r.Headers)
				}
				got = got[r.Len:]
			}
			if !bytes.Equal(got, []byte(tt.want)) {
				t.Errorf("echo = %.60q, want %.60q", got, tt.want)
			}

			s := spansNamed(t, rec, 1, tracing.SpanEcho)[tracing.SpanEcho][0]
			a := spantest.Attrs(s)
			if v := a[string(tracing.KeyPreamble)]; v != tt.wantPreamble {
				t.Errorf("%s = %v, want %s", tracing.KeyPreamble, v, tt.wantPreamble)
			}
			if v := a[string(tracing.KeyEchoBytes)]; v != int64(len(tt.want)) {
				t.Errorf("%s = %v, want %d", tracing.KeyEchoBytes, v, len(tt.want))
			}
			if got := s.Parent().IsValid(); got != tt.wantParent {
				t.Errorf("echo span has a parent: %v, want %v", got, tt.wantParent)
			}
			if tt.wantParent && s.Parent().SpanID().String() != "00f067aa0ba902b7" {
				t.Errorf("echo span parent = %v, want the preamble's span 00f067aa0ba902b7", s.Parent().SpanID())
			}
			if got := s.Status().Code == codes.Error; got != tt.wantError {
				t.Errorf("echo span status = %v, want error: %v", s.Status(), tt.wantError)
			}
			if s.SpanKind() != trace.SpanKindServer {
				t.Errorf("echo span kind = %v, want server", s.SpanKind())
			}
			for _, k := range []string{string(tracing.KeyThreadID), string(tracing.KeyThreadName), string(tracing.KeyOSThreadID), string(tracing.KeyPeerAddress)} {
				if _, ok := a[k]; !ok {
					t.Errorf("echo span has no %s", k)
				}
			}
		})
	}
}

// delay and write are children of echo, one after the other, the delay as
// long as configured; echo ends when the reply left, as write does, by the
// kernel's transmit timestamp, before the client could read it.
func TestSpanTree(t *testing.T) {
	srv, rec := traced(t, server.Config{Delay: delay})
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("task1"))
	buf := make([]byte, 5)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatal(err)
	}
	read := time.Now()
	// The echo span has ended before the client closes: the wait for the
	// close is not part of it.
	by := spansNamed(t, rec, 1, tracing.SpanEcho, tracing.SpanDelay, tracing.SpanWrite)
	conn.Close()
	echo, d, w := by[tracing.SpanEcho][0], by[tracing.SpanDelay][0], by[tracing.SpanWrite][0]
	for _, c := range []sdktrace.ReadOnlySpan{d, w} {
		if c.Parent().SpanID() != echo.SpanContext().SpanID() {
			t.Errorf("%s is not a child of echo", c.Name())
		}
		if c.StartTime().Before(echo.StartTime()) || c.EndTime().After(echo.EndTime()) {
			t.Errorf("%s [%v, %v] not within echo [%v, %v]", c.Name(), c.StartTime(), c.EndTime(), echo.StartTime(), echo.EndTime())
		}
	}
	// At least the delay; the upper bound only catches a span that is not
	// the delay (a busy machine can wake the server late by far more
	// than 100 ms).
	if got := d.EndTime().Sub(d.StartTime()); got < delay || got > delay+2*time.Second {
		t.Errorf("delay span lasts %v, want %v", got, delay)
	}
	if w.StartTime().Before(d.EndTime()) {
		t.Errorf("write starts %v before the delay ends", d.EndTime().Sub(w.StartTime()))
	}
	if !w.EndTime().Equal(echo.EndTime()) {
		t.Errorf("echo ends at %v, write at %v: want echo to end when the reply left", echo.EndTime(), w.EndTime())
	}
	if how := spantest.Attrs(w)[string(tracing.KeySent)]; how != tracing.TimeKernel {
		t.Errorf("write %s = %v, want %s (a kernel transmit timestamp on loopback)", tracing.KeySent, how, tracing.TimeKernel)
	}
	if echo.EndTime().After(read) {
		t.Errorf("echo ends %v after the client had read the reply", echo.EndTime().Sub(read))
	}
}

// Shutdown lets a connection in flight finish.
func TestShutdownWaitsForConnections(t *testing.T) {
	srv, rec := traced(t, server.Config{Delay: delay})
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("task1"))
	rec.WaitStarted(t, tracing.SpanDelay) // the request is in

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()

	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 5)
	if _, err := io.ReadFull(conn, got); err != nil || string(got) != "task1" {
		t.Errorf("in flight during Shutdown: got %q, %v, want task1", got, err)
	}
	conn.Close() // the server echoes until the client closes
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if err := srv.ServeErr(); !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	if c, err := net.Dial("tcp", srv.Addr); err == nil {
		c.Close()
		t.Errorf("still accepting after Shutdown")
	}
}

// Past its deadline, Shutdown cuts delays short and says so.
func TestShutdownDeadline(t *testing.T) {
	srv, rec := traced(t, server.Config{Delay: time.Hour})
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("task1"))
	rec.WaitStarted(t, tracing.SpanDelay)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("Shutdown took %v with a 100ms deadline", el)
	}
	if s := spansNamed(t, rec, 1, tracing.SpanEcho)[tracing.SpanEcho][0]; s.Status().Code != codes.Error {
		t.Errorf("cut-short echo span status = %v, want error", s.Status())
	}
}

// Connections accepted while Shutdown runs are either served or closed,
// never started after Shutdown has returned (run with -race): every
// dial gets its echo or is closed, none is left hanging, and the log has
// no line written after Shutdown returned (it waits for every
// connection's goroutine, which logs each request). A Shutdown that comes
// before Serve has begun leaves no listener open either (it once did:
// the dials were completed by the kernel and never answered).
func TestShutdownRacesAccept(t *testing.T) {
	for range 20 {
		var log logtest.Buffer
		srv := echotest.Start(t, server.Config{Delay: time.Millisecond, Log: &log})
		outcomes := make(chan error, 5)
		go func() {
			defer close(outcomes)
			for range 5 {
				c, err := net.Dial("tcp", srv.Addr)
				if err != nil {
					continue // refused: the listener was closed
				}
				c.Write([]byte("x"))
				c.(*net.TCPConn).CloseWrite()
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				got, err := io.ReadAll(c)
				c.Close()
				switch {
				case errors.Is(err, os.ErrDeadlineExceeded):
					outcomes <- fmt.Errorf("a connection neither served nor closed after 10s (got %q)", got)
				case err == nil && len(got) > 0 && string(got) != "x":
					outcomes <- fmt.Errorf("echo %q, want x", got)
				}
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
		cancel()
		after := log.String()
		for err := range outcomes {
			t.Error(err)
		}
		if now := log.String(); now != after {
			t.Errorf("log lines written after Shutdown returned: %q", strings.TrimPrefix(now, after))
		}
	}
}

// An abort (Shutdown past its deadline) that lands right before a
// connection sets its next deadline is not undone by it: the connection
// is closed, not given a deadline of now that the next SetDeadline would
// push back by an hour. Each deadline the connection sets, five times:
// the client sees the connection end at once, and the server's
// goroutine ends by itself.
func TestAbortBetweenDeadlines(t *testing.T) {
	for _, at := range []string{"first byte", "delay", "write", "copy"} {
		for range 5 {
			if t.Failed() {
				return // each failure costs 20s: one says enough
			}
			cfg := server.Config{Delay: time.Hour, FirstByteTimeout: time.Hour, RequestTimeout: time.Hour}
			if at == "write" || at == "copy" {
				cfg.Delay = time.Millisecond // past the delay: the reply and the copy after it
			}
			srv := server.New(cfg)
			aborted := make(chan struct{})
			var once sync.Once
			server.SetTestHook(srv, func(deadline string) {
				if deadline == at {
					once.Do(func() { server.CutShort(srv); close(aborted) })
				}
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()

			// The abort before the first byte's deadline can reset the
			// connection before Dial returns: ended at once too.
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatal(err)
			}
			if conn != nil {
				conn.Write([]byte("task1")) // and keep the connection open
			}
			select {
			case <-aborted:
			case <-time.After(10 * time.Second):
				t.Fatalf("the server never reached its %s deadline", at)
			}
			if conn != nil {
				conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, err = io.ReadAll(conn)
				conn.Close()
				if errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("abort before the %s deadline: the connection still open 10s later", at)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("abort before the %s deadline: Shutdown = %v, want the connection's goroutine to have ended by itself", at, err)
			}
			cancel()
			if err := <-served; !errors.Is(err, server.ErrServerClosed) {
				t.Errorf("Serve = %v, want ErrServerClosed", err)
			}
		}
	}
}

// Echo means echo: 10 MB, far past the hold buffer, comes back byte for
// byte, whether the client half-closes or reads it all and then closes.
// The echo span covers what was held; the rest is copied after it, and
// the log line counts it all.
func TestEchoLargePayload(t *testing.T) {
	payload := make([]byte, 10<<20)
	for i := range payload {
		payload[i] = byte(i*7 + i>>9)
	}
	for _, halfClose := range []bool{true, false} {
		var log logtest.Buffer
		// The delay is long enough for the first 64 KiB to arrive on a
		// loaded machine (at 50ms, one race-enabled run in three here held
		// only the first 512 bytes).
		srv, rec := traced(t, server.Config{Delay: 300 * time.Millisecond, HoldBuffer: 64 << 10, Log: &log})
		conn, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		sent := make(chan error, 1)
		go func() {
			_, err := conn.Write(payload)
			if err == nil && halfClose {
				err = conn.(*net.TCPConn).CloseWrite()
			}
			sent <- err
		}()
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		var got []byte
		if halfClose {
			got, err = io.ReadAll(conn)
		} else {
			got = make([]byte, len(payload))
			_, err = io.ReadFull(conn, got)
		}
		conn.Close()
		if err := <-sent; err != nil {
			t.Fatalf("half-close %v: write: %v", halfClose, err)
		}
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("half-close %v: echoed %d of %d bytes, equal %v, %v", halfClose, len(got), len(payload), bytes.Equal(got, payload), err)
		}
		echo := spansNamed(t, rec, 1, tracing.SpanEcho)[tracing.SpanEcho][0]
		if n := spantest.Attrs(echo)[string(tracing.KeyEchoBytes)]; n != int64(64<<10) || echo.Status().Code == codes.Error {
			t.Errorf("half-close %v: echo span says %v bytes, status %v; want the 65536 held", halfClose, n, echo.Status())
		}
		if !log.Await(fmt.Sprintf("wrote %d bytes", len(payload)), 1, 10*time.Second) {
			t.Errorf("half-close %v: log %q, want wrote %d bytes", halfClose, log.String(), len(payload))
		}
	}
}

// As the article's server (tokio::io::copy): after the delay, everything
// the client sends is echoed until it closes, on the same connection.
func TestEchoUntilClientCloses(t *testing.T) {
	var log logtest.Buffer
	srv := echotest.Start(t, server.Config{Delay: delay, Log: &log})
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	for _, msg := range []string{"task1", "again"} {
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, got); err != nil || string(got) != msg {
			t.Fatalf("echo of %q: %q, %v", msg, got, err)
		}
	}
	conn.(*net.TCPConn).CloseWrite()
	if rest, err := io.ReadAll(conn); err != nil || len(rest) != 0 {
		t.Errorf("after the client closed: %q, %v; want the server's close", rest, err)
	}
	if !log.Await("wrote 10 bytes (5 held, 5 after", 1, 10*time.Second) {
		t.Errorf("log %q, want wrote 10 bytes", log.String())
	}
}

// The delay counts from the accept, as the article's delay_for right after
// accept(): a client that writes late gets its echo 8u after connecting,
// not 8u after writing; one that writes after the delay, at once. The
// wait is long enough that a delay counted from the write would come at
// least 600 ms later than one counted from the accept: that is the upper
// bound, wide enough for a busy machine.
func TestDelayFromAccept(t *testing.T) {
	const hold = 800 * time.Millisecond
	srv := echotest.Start(t, server.Config{Delay: hold})
	for _, late := range []time.Duration{600 * time.Millisecond, 1000 * time.Millisecond} {
		// From before the dial: the accept, where the delay starts, can
		// come before Dial returns.
		connected := time.Now()
		conn, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(connected.Add(10 * time.Second))
		t.Cleanup(func() { conn.Close() })
		timer := time.NewTimer(late)
		<-timer.C // the client's own pause before it writes: what is tested
		conn.Write([]byte("task1"))
		got := make([]byte, 5)
		if _, err := io.ReadFull(conn, got); err != nil {
			t.Fatal(err)
		}
		took := time.Since(connected)
		want := max(hold, late)
		if took < want || took >= late+hold {
			t.Errorf("wrote %v after connecting: echo %v after connecting, want about %v (from the write: %v)", late, took, want, late+hold)
		}
	}
}

// A client that sends nothing is closed after the first-byte timeout; one
// that keeps the hold buffer full and trickles on is reset at the end of
// its request, with a log line that says so.
func TestSlowClients(t *testing.T) {
	var log logtest.Buffer
	srv := echotest.Start(t, server.Config{Delay: 50 * time.Millisecond, FirstByteTimeout: 100 * time.Millisecond, RequestTimeout: 300 * time.Millisecond, HoldBuffer: 1024, Log: &log})

	silent, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("silent client: read %d, %v; want EOF after the first-byte timeout", n, err)
	}

	trickler, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer trickler.Close()
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		trickler.Write(make([]byte, 2048)) // past the hold buffer
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := trickler.Write([]byte{'x'}); err != nil {
					return
				}
			}
		}
	}()
	trickler.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(trickler)
	close(stop)
	<-wrote
	if err == nil || !strings.Contains(err.Error(), "reset") {
		t.Errorf("trickling client: read ended with %v, want a reset at the end of the request", err)
	}
	if !log.Await("request timed out", 1, 10*time.Second) {
		t.Errorf("log %q does not name the request deadline", log.String())
	}
}

// Past MaxConns, a connection is reset at once, counted, and logged.
func TestMaxConns(t *testing.T) {
	var log logtest.Buffer
	srv := echotest.Start(t, server.Config{Delay: 50 * time.Millisecond, MaxConns: 2, FirstByteTimeout: 10 * time.Second, Log: &log})
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// The two are counted in once Serve has accepted them: wait for the
	// third to be refused, with a deadline.
	deadline := time.Now().Add(10 * time.Second)
	for srv.Refused() == 0 && time.Now().Before(deadline) {
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			if !strings.Contains(err.Error(), "reset") {
				t.Fatal(err)
			}
			continue // reset before the dial returned
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
		if err != nil && !strings.Contains(err.Error(), "reset") && err != io.EOF {
			t.Errorf("refused connection: %v, want a reset", err)
		}
	}
	if srv.Refused() == 0 {
		t.Fatal("no connection refused past MaxConns 2")
	}
	if !log.Await("the limit is 2 connections at once", 1, 10*time.Second) {
		t.Errorf("log %q does not say a connection was refused", log.String())
	}
	for _, c := range held {
		c.Close()
	}
}

// A preamble longer than MaxPreamble is not one: echoed as payload.
func TestMaxPreamble(t *testing.T) {
	srv, rec := traced(t, server.Config{Delay: 50 * time.Millisecond, MaxPreamble: 64})
	req := wire.Magic + "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\ntask1"
	if got, _ := exchange(t, srv.Addr, []byte(req)); string(got) != req {
		t.Errorf("echo = %q, want the whole request back", got)
	}
	echo := spansNamed(t, rec, 1, tracing.SpanEcho)[tracing.SpanEcho][0]
	if k := spantest.Attrs(echo)[string(tracing.KeyPreamble)]; k != tracing.PreambleInvalid || !strings.Contains(echo.Status().Description, "64 bytes") {
		t.Errorf("echo span: preamble %v, status %v", k, echo.Status())
	}
}
