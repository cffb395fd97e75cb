// Command server is the article's echo server, traced: each connection's
// bytes come back after a delay of 8 units from its accept, and then
// whatever it sends, until the client closes (package server).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"asynctrace/client"
	"asynctrace/cmd/internal/cli"
	"asynctrace/server"
	"asynctrace/tracing"
	"asynctrace/wire"
)

func main() { cli.Main("server", run) }

type config struct {
	addr                   string
	delay                  time.Duration
	grace                  time.Duration
	execTrace              string        // write the Go execution trace here
	cpuProfile, memProfile string        // write profiles here
	limits                 server.Config // the limits; Delay, TracerProvider and Log are set in run
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := cli.NewFlagSet("server", "Echoes each connection's bytes after a delay. Spans go to OTLP gRPC, set by OTEL_* variables.", stderr)
	var c config
	fs.StringVar(&c.addr, "addr", "127.0.0.1:6142", "listen `address` (0.0.0.0:6142 to serve other hosts)")
	unit := fs.Duration("unit", time.Second, "time `unit` u: requests are held 8u")
	fs.DurationVar(&c.delay, "delay", 0, "hold each request this long, instead of 8u")
	fs.DurationVar(&c.grace, "grace", 15*time.Second, "on SIGINT/SIGTERM, how long connections in flight may take to finish; a second signal stops at once")
	fs.DurationVar(&c.limits.FirstByteTimeout, "first-byte-timeout", server.DefaultFirstByteTimeout, "close a connection that sends nothing for this long")
	fs.DurationVar(&c.limits.RequestTimeout, "request-timeout", server.DefaultRequestTimeout, "beyond the delay, how long a request may take to arrive and be echoed; past it the connection is reset")
	fs.IntVar(&c.limits.HoldBuffer, "hold-buffer", server.DefaultHoldBuffer, "`bytes` held during the delay; the rest waits in the kernel and is streamed back after it")
	fs.IntVar(&c.limits.MaxPreamble, "max-preamble", wire.MaxPreamble, "`bytes` of trace context preamble at most; a longer one is echoed as payload")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile to `file` until the server stops (go tool pprof)")
	fs.StringVar(&c.memProfile, "memprofile", "", "write a heap profile to `file` as the server stops (go tool pprof): the heap after the collection that found the most of it live")
	fs.StringVar(&c.execTrace, "exectrace", "", "write the server's Go execution trace to `file` until it stops (go tool trace FILE): a task per request, a region per span")
	fs.IntVar(&c.limits.MaxConns, "max-conns", server.DefaultMaxConns, "connections served at once; past it, new ones are reset at once, counted and logged")
	err := cli.Parse(fs, args, func() error {
		l := c.limits
		switch {
		case *unit <= 0 || c.delay < 0 || c.grace < 0:
			return errors.New("-unit must be positive, -delay and -grace not negative")
		case l.FirstByteTimeout <= 0 || l.RequestTimeout <= 0:
			return errors.New("-first-byte-timeout and -request-timeout must be positive")
		case l.HoldBuffer < 64 || l.MaxConns < 1:
			return errors.New("-hold-buffer must be at least 64 bytes, -max-conns at least 1")
		case l.MaxPreamble < len(wire.Magic)+2 || l.MaxPreamble > l.HoldBuffer:
			return fmt.Errorf("-max-preamble must be between %d and -hold-buffer (%d)", len(wire.Magic)+2, l.HoldBuffer)
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	if c.delay == 0 {
		c.delay = 8 * *unit
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	// The first SIGINT or SIGTERM stops accepting and lets connections in
	// flight finish within the grace; a second one stops at once.
	ctx, hurry, stopSignals := signals(ctx)
	defer stopSignals()

	// A long-running server keeps retrying an export for a while: Jaeger
	// restarted within that window loses none of its spans.
	tp, shutdown, err := tracing.Setup(ctx, tracing.Options{
		Service: tracing.ServerService, Version: tracing.Version(), Warn: stderr, RetryFor: 30 * time.Second,
	})
	if err != nil {
		return err
	}
	// The spans are flushed within what is left of the grace (at least a
	// second, at most 5), or at once after a second signal.
	flushBy := time.Now().Add(time.Second)
	defer func() {
		left := min(max(time.Until(flushBy), time.Second), 5*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), left)
		defer cancel()
		stop := context.AfterFunc(hurry, cancel)
		defer stop()
		err = errors.Join(err, shutdown(ctx))
	}()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	if cfg.execTrace != "" {
		stopTrace, err := tracing.StartExecTrace(cfg.execTrace)
		if err != nil {
			ln.Close()
			return err
		}
		defer func() { err = errors.Join(err, stopTrace()) }()
	}
	stopCPU, err := cli.StartCPUProfile(cfg.cpuProfile)
	if err != nil {
		ln.Close()
		return err
	}
	stopHeap := cli.PeakHeapProfile(cfg.memProfile, client.Every)
	defer func() { err = errors.Join(err, stopCPU(), stopHeap()) }()
	fmt.Fprintf(stdout, "Server running on %s (delay %v)\n", ln.Addr(), cfg.delay)
	sc := cfg.limits
	sc.Delay, sc.TracerProvider, sc.Log = cfg.delay, tp, stdout
	srv := server.New(sc)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintf(stdout, "Shutting down: waiting up to %v for connections in flight (a second signal stops at once)\n", cfg.grace)
	flushBy = time.Now().Add(cfg.grace)
	gctx, cancel := context.WithDeadline(context.Background(), flushBy)
	defer cancel()
	stop := context.AfterFunc(hurry, func() {
		fmt.Fprintln(stdout, "Second signal: stopping now")
		cancel()
	})
	defer stop()
	if err := srv.Shutdown(gctx); err != nil {
		// Not a failure of the server: it was told to stop.
		fmt.Fprintf(stderr, "server: connections cut short: %v\n", err)
	}
	<-served
	return nil
}

// signals returns a context that ends at the first SIGINT or SIGTERM (or
// when parent does), and one that ends at the second.
func signals(parent context.Context) (first, second context.Context, stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	first, cancelFirst := context.WithCancel(parent)
	second, cancelSecond := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancelFirst()
		case <-first.Done():
		case <-done:
			return
		}
		select {
		case <-sigs:
			cancelSecond()
		case <-done:
		}
	}()
	return first, second, func() {
		signal.Stop(sigs)
		close(done)
		cancelFirst()
		cancelSecond()
	}
}
