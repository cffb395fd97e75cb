package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"asynctrace/tracing"
	"asynctrace/wire"
)

var recorder = tracetest.NewSpanRecorder()

func TestMain(m *testing.M) {
	tracing.SetGlobal(tracing.NewTracerProvider(sdktrace.WithSpanProcessor(recorder)))
	goleak.VerifyTestMain(m)
}

const delay = 150 * time.Millisecond

// serve serves on a free loopback port; served gets Serve's result.
func serve(t *testing.T, cfg Config) (srv *Server, addr string, served chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv = New(cfg)
	served = make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	return srv, ln.Addr().String(), served
}

// newLocalServer serves on a free loopback port until the test ends.
func newLocalServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	srv, addr, served := serve(t, cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return srv, addr
}

// exchange writes req, reads until the server closes, and says how long the
// answer took.
func exchange(t *testing.T, addr string, req []byte) ([]byte, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return got, time.Since(start)
}

// echoSpan waits for the server's echo span of the connection from local.
func echoSpan(t *testing.T, local int) sdktrace.ReadOnlySpan {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, s := range recorder.Ended() {
			if s.Name() != tracing.SpanEcho {
				continue
			}
			for _, kv := range s.Attributes() {
				if kv.Key == tracing.KeyPeerPort && kv.Value.AsInt64() == int64(local) {
					return s
				}
			}
		}
	}
	t.Fatalf("no echo span for the connection from port %d", local)
	return nil
}

func attr(s sdktrace.ReadOnlySpan, k string) (any, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == k {
			return kv.Value.AsInterface(), true
		}
	}
	return nil, false
}

// The article's plain client: `printf task1 | nc 127.0.0.1 6142`.
func TestPlainEcho(t *testing.T) {
	_, addr := newLocalServer(t, Config{Delay: delay})
	got, took := exchange(t, addr, []byte("task1"))
	if string(got) != "task1" {
		t.Errorf("echo = %q, want %q", got, "task1")
	}
	if took < delay {
		t.Errorf("echo after %v, want not before the delay %v", took, delay)
	}
}

// The preamble edge cases: what comes back, and what the echo span says.
func TestPreambleEdgeCases(t *testing.T) {
	_, addr := newLocalServer(t, Config{Delay: delay})
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
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			local := conn.LocalAddr().(*net.TCPAddr).Port
			if _, err := conn.Write([]byte(tt.give)); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(conn)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, []byte(tt.want)) {
				t.Errorf("echo = %.60q, want %.60q", got, tt.want)
			}
			conn.Close()

			s := echoSpan(t, local)
			if v, _ := attr(s, string(tracing.KeyPreamble)); v != tt.wantPreamble {
				t.Errorf("%s = %v, want %s", tracing.KeyPreamble, v, tt.wantPreamble)
			}
			if v, _ := attr(s, string(tracing.KeyEchoBytes)); v != int64(len(tt.want)) {
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
				if _, ok := attr(s, k); !ok {
					t.Errorf("echo span has no %s", k)
				}
			}
		})
	}
}

// The delay and write spans are children of echo, in order, the delay as
// long as configured.
func TestSpanTree(t *testing.T) {
	_, addr := newLocalServer(t, Config{Delay: delay})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	local := conn.LocalAddr().(*net.TCPAddr).Port
	conn.Write([]byte("task1"))
	io.ReadAll(conn)
	conn.Close()
	echo := echoSpan(t, local)

	children := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range recorder.Ended() {
		if s.Parent().SpanID() == echo.SpanContext().SpanID() {
			children[s.Name()] = s
		}
	}
	d, w := children[tracing.SpanDelay], children[tracing.SpanWrite]
	if d == nil || w == nil {
		t.Fatalf("children of echo: %v, want delay and write", children)
	}
	if got := d.EndTime().Sub(d.StartTime()); got < delay || got > delay+100*time.Millisecond {
		t.Errorf("delay span lasts %v, want %v", got, delay)
	}
	if w.StartTime().Before(d.EndTime()) {
		t.Errorf("write starts %v before the delay ends", d.EndTime().Sub(w.StartTime()))
	}
	if !d.StartTime().Equal(echo.StartTime()) || w.EndTime().After(echo.EndTime()) {
		t.Errorf("delay and write not within echo")
	}
}

// Shutdown lets a connection in flight finish.
func TestShutdownWaitsForConnections(t *testing.T) {
	srv, addr, served := serve(t, Config{Delay: delay})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("task1"))
	time.Sleep(delay / 3) // the request is in

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()

	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != "task1" {
		t.Errorf("in flight during Shutdown: got %q, %v, want task1", got, err)
	}
	conn.Close()
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Errorf("still accepting after Shutdown")
	}
}

// Past its deadline, Shutdown cuts delays short and says so.
func TestShutdownDeadline(t *testing.T) {
	srv, addr, served := serve(t, Config{Delay: time.Hour})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("task1"))
	time.Sleep(50 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("Shutdown took %v with a 100ms deadline", el)
	}
	<-served
	local := conn.LocalAddr().(*net.TCPAddr).Port
	if s := echoSpan(t, local); s.Status().Code != codes.Error {
		t.Errorf("cut-short echo span status = %v, want error", s.Status())
	}
}
