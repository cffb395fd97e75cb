package tracing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// With no collector listening, spans are lost with one warning, which
// carries the exporter's error, and the shutdown returns promptly and
// without error.
func TestSetupNoCollector(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")

	warn := &signalWriter{wrote: make(chan struct{})}
	tp, shutdown, err := Setup(context.Background(), Options{Service: "test", Version: "v0", Warn: warn})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, s := tp.Tracer("test").Start(context.Background(), "lost")
		s.End()
	}
	// The batch processor exports every 50ms: wait for the first failure.
	select {
	case <-warn.wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("no warning 10s after spans were ended with no collector")
	}
	t0 := time.Now()
	const flush = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), flush)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v, want nil", err)
	}
	if el := time.Since(t0); el > flush+time.Second {
		t.Errorf("shutdown took %v, want at most %v", el, flush)
	}
	out := warn.String()
	if n := strings.Count(out, "warning:"); n != 1 || !strings.Contains(out, addr) {
		t.Errorf("warnings:\n%s\nwant exactly one, naming %s", out, addr)
	}
	// The exporter's own error, not prose in its place.
	if !strings.Contains(out, "connection refused") {
		t.Errorf("warning:\n%s\nwant the exporter's error, connection refused", out)
	}
}

// signalWriter keeps what is written and closes wrote at the first write.
type signalWriter struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func (s *signalWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() == 0 {
		close(s.wrote)
	}
	return s.b.Write(p)
}

func (s *signalWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// With nothing set, the exporter speaks plaintext to localhost:4317, as
// Jaeger's receiver does by default; any endpoint or security setting is
// left to the exporter.
func TestPlaintextByDefault(t *testing.T) {
	vars := []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_TRACES_INSECURE"}
	for _, v := range vars {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	if !plaintextByDefault() || endpointFromEnv() != "localhost:4317" {
		t.Errorf("nothing set: plaintext %v, endpoint %q; want true, localhost:4317", plaintextByDefault(), endpointFromEnv())
	}
	for _, v := range vars {
		t.Setenv(v, "https://collector.example:4317")
		if plaintextByDefault() {
			t.Errorf("%s set: still plaintext by default", v)
		}
		os.Unsetenv(v)
	}
}

// A deadline that passed says which endpoint did not answer, and the
// exporter's last error where it has one.
func TestWarnDeadline(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:4317: connect: connection refused")
	for _, tt := range []struct {
		last error
		want []string
	}{
		{nil, []string{"no answer from collector:4317 before the deadline: flush: context deadline exceeded"}},
		{refused, []string{"collector:4317", "deadline exceeded", "the last attempt: dial tcp 127.0.0.1:4317: connect: connection refused"}},
	} {
		var b strings.Builder
		w := &onceWarner{w: &b, endpoint: "collector:4317", last: func() error { return tt.last }}
		w.warn(fmt.Errorf("flush: %w", context.DeadlineExceeded))
		for _, want := range tt.want {
			if !strings.Contains(b.String(), want) {
				t.Errorf("last error %v: warning %q, want %q", tt.last, b.String(), want)
			}
		}
	}
}
