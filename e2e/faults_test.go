package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"asynctrace/client"
	"asynctrace/jaeger"
	"asynctrace/tracing"
)

// startClient starts a compose client service's command against addr at
// unit u, with -json.
func startClient(t *testing.T, service, addr string, u time.Duration, otlp map[uint32]int, extraEnv ...string) *proc {
	t.Helper()
	args, env := composeCommand(t, service, map[string]string{"addr": addr, "unit": u.String()}, otlp)
	p, err := start(clientBin, append(args, "-json"), append(env, extraEnv...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(time.Second) })
	return p
}

// nowhere is an OTLP port map to a port where nothing listens.
func nowhere(t *testing.T) map[uint32]int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return map[uint32]int{4317: port, 4318: port}
}

func clientResult(t *testing.T, p *proc) client.Result {
	t.Helper()
	var res client.Result
	if err := json.Unmarshal([]byte(p.stdout.String()), &res); err != nil {
		t.Fatalf("client output %q: %v", p.stdout.String(), err)
	}
	return res
}

// SIGTERM with requests in flight: they finish within the grace, and the
// server's spans of them reach Jaeger before it exits.
func TestE2EGracefulShutdown(t *testing.T) {
	needJaeger(t)
	otlp := jaegerd.otlpPorts()
	const u = 100 * time.Millisecond
	addr, srv := startServerWith(t, otlp, map[string]string{"unit": u.String()})
	c := startClient(t, "client-multi-thread", addr, u, otlp)
	if !srv.stdout.Await("request in", 3, 10*time.Second) {
		t.Fatalf("the requests did not come in: %s", srv.stdout.String())
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if !c.wait(30 * time.Second) {
		t.Fatal("client did not finish")
	}
	if c.err != nil {
		t.Fatalf("client, its server stopped gracefully mid-run: %v\n%s", c.err, c.stderr.String())
	}
	if !srv.wait(10 * time.Second) {
		t.Fatal("server did not exit after its requests were done")
	}
	if srv.err != nil || strings.Contains(srv.stderr.String(), "warning") {
		t.Errorf("server exit %v, stderr %s", srv.err, srv.stderr.String())
	}
	res := clientResult(t, c)
	want := map[string][]string{tracing.ServerService: {}}
	for range res.Tasks {
		want[tracing.ServerService] = append(want[tracing.ServerService], tracing.SpanEcho, tracing.SpanDelay, tracing.SpanWrite)
	}
	jaegerd.awaitTrace(t, res.TraceID, want)
}

// A second signal stops the server at once, connections in flight or not.
func TestE2EServerSecondSignal(t *testing.T) {
	addr, srv := startServerWith(t, nowhere(t), map[string]string{"unit": "1s"})
	c := startClient(t, "client-multi-thread", addr, time.Second, nowhere(t), "OTEL_TRACES_EXPORTER=none")
	if !srv.stdout.Await("request in", 3, 10*time.Second) {
		t.Fatalf("the requests did not come in: %s", srv.stdout.String())
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if !srv.stdout.Await("Shutting down", 1, 5*time.Second) {
		t.Fatalf("no shutdown after SIGTERM: %s", srv.stdout.String())
	}
	t0 := time.Now()
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if !srv.wait(3 * time.Second) {
		t.Fatal("server still running 3s after a second SIGTERM")
	}
	if !strings.Contains(srv.stdout.String(), "Second signal") {
		t.Errorf("server did not say why it stopped at once: %s", srv.stdout.String())
	}
	t.Logf("server exited %v after the second signal", time.Since(t0))
	// Its client's requests were cut short: every task fails, said plainly.
	if !c.wait(30 * time.Second) {
		t.Fatal("client did not finish after its server stopped")
	}
	checkTasksFailed(t, c)
}

// A server that dies mid-run: every task fails with a clear error, on its
// span and in the output, the trace is exported, the client exits non-zero.
func TestE2EServerDiesMidRun(t *testing.T) {
	needJaeger(t)
	otlp := jaegerd.otlpPorts()
	const u = 200 * time.Millisecond
	addr, srv := startServerWith(t, nowhere(t), map[string]string{"unit": u.String()})
	c := startClient(t, "client-multi-thread", addr, u, otlp)
	if !srv.stdout.Await("request in", 3, 10*time.Second) {
		t.Fatalf("the requests did not come in: %s", srv.stdout.String())
	}
	srv.cmd.Process.Kill()
	if !c.wait(30 * time.Second) {
		t.Fatal("client hangs after its server died")
	}
	res := checkTasksFailed(t, c)
	tr := jaegerd.awaitTrace(t, res.TraceID, map[string][]string{tracing.ClientService: {tracing.TaskSpanName(1, 3), tracing.TaskSpanName(2, 3), tracing.TaskSpanName(3, 3)}})
	for _, s := range tr.Spans {
		if s.OperationName == tracing.SpanResponse {
			if tag, _ := s.Tag("otel.status_code"); tag.Value != "ERROR" {
				t.Errorf("response span of a dead server: status %v, want ERROR", tag.Value)
			}
		}
	}
}

func checkTasksFailed(t *testing.T, c *proc) client.Result {
	t.Helper()
	var exit interface{ ExitCode() int }
	if !errors.As(c.err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("client exit %v, want 1", c.err)
	}
	res := clientResult(t, c)
	if len(res.Errors) != res.Tasks {
		t.Errorf("client errors %q, want one per task", res.Errors)
	}
	for _, e := range res.Errors {
		if !strings.Contains(e, "response: ") {
			t.Errorf("task error %q does not say which stage failed", e)
		}
	}
	if n := strings.Count(c.stderr.String(), ": response: the server closed the connection"); n != res.Tasks {
		t.Errorf("client stderr has %d lines saying the server closed the connection, want %d:\n%s", n, res.Tasks, c.stderr.String())
	}
	return res
}

// Jaeger stopped while the server's spans are pending, and started again
// on the same ports within the exporter's retry window: none are lost.
func TestE2EJaegerRestart(t *testing.T) {
	needJaeger(t)
	j, err := startJaeger(jaegerBin, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { j.stop() }()
	addr, _ := startServerWith(t, j.otlpPorts(), nil)
	j.stop()

	c := startClient(t, "client-multi-thread", addr, unit, nowhere(t), "OTEL_TRACES_EXPORTER=none")
	if !c.wait(30*time.Second) || c.err != nil {
		t.Fatalf("client: %v\n%s", c.err, c.stderr.String())
	}
	res := clientResult(t, c)
	// Wait for the server to try to export them, and fail: something that
	// takes the connection on Jaeger's OTLP port and closes it.
	tried := make(chan struct{})
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(j.otlpGRPC)))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
			close(tried)
		}
	}()
	select {
	case <-tried:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not try to export its spans within 10s")
	}
	ln.Close()
	if j, err = startJaegerOn(jaegerBin, j.ports); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{tracing.ServerService: {}}
	for range res.Tasks {
		want[tracing.ServerService] = append(want[tracing.ServerService], tracing.SpanEcho, tracing.SpanDelay, tracing.SpanWrite)
	}
	tr := j.awaitTrace(t, res.TraceID, want)
	t.Logf("all %d server spans of trace %s reached the restarted Jaeger", len(tr.Spans), res.TraceID)
	if _, err := j.client().Trace(context.Background(), res.TraceID); errors.Is(err, jaeger.ErrNotFound) {
		t.Error("trace not found")
	}
}

// SIGTERM to a client with 1,000 tasks waiting for their echoes: it stops
// within 2s, saying why each task failed, once for all, exit non-zero.
func TestE2EClientSignalAtScale(t *testing.T) {
	// The server's grace is not what is tested: cut its held requests
	// short when the test ends.
	addr, _ := startServerWith(t, nowhere(t), map[string]string{"unit": "1s", "grace": "1s"})
	args, env := composeCommand(t, "client-multi-thread", map[string]string{"addr": addr, "unit": "1s", "tasks": "1000", "compute": "sleep"}, nowhere(t))
	p, err := start(clientBin, args, append(env, "OTEL_TRACES_EXPORTER=none"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop(time.Second)
	// Above 48 tasks the client prints a progress line a second.
	if !p.stdout.Await("1000 tasks, 1000 started, 1000 sent", 1, 30*time.Second) {
		t.Fatalf("the 1,000 requests were not written: %.500s", p.stdout.String())
	}
	t0 := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if !p.wait(10 * time.Second) {
		t.Fatal("client still running 10s after SIGTERM")
	}
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("client exited %v after SIGTERM, want within 2s", took)
	}
	var exit interface{ ExitCode() int }
	if !errors.As(p.err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("client exit %v, want 1", p.err)
	}
	// Every task says why, once: grouped by cause, with a few examples
	// naming the signal, not a line a task.
	if out := p.stderr.String(); !strings.Contains(out, "1000 of 1000 tasks failed") || !strings.Contains(out, "1000 response: cancelled") ||
		!strings.Contains(out, "terminated signal received") || strings.Count(out, "\n") > 20 {
		t.Errorf("stderr says, in %d lines:\n%.800s\nwant the 1,000 tasks cancelled, grouped, an example naming the signal", strings.Count(out, "\n"), out)
	}
	t.Logf("1,000 tasks: the client exited %v after SIGTERM", time.Since(t0))
}
