// Command server is the article's echo server, traced: each connection's
// bytes come back after a delay of 8 units, then the connection closes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"asynctrace/server"
	"asynctrace/tracing"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	var usage usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &usage):
		os.Exit(2) // the flag package has said why
	default:
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line, already reported with the usage.
type usageError struct{ error }

type config struct {
	addr  string
	delay time.Duration
	grace time.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.addr, "addr", "127.0.0.1:6142", "listen `address` (0.0.0.0:6142 to serve other hosts)")
	unit := fs.Duration("unit", time.Second, "time `unit` u: requests are held 8u")
	fs.DurationVar(&c.delay, "delay", 0, "hold each request this long, instead of 8u")
	fs.DurationVar(&c.grace, "grace", 15*time.Second, "on SIGINT/SIGTERM, how long connections in flight may take to finish")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: server [flags]\n\nEchoes each connection's bytes after a delay. Spans go to OTLP gRPC, set by OTEL_* variables.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, usageError{err}
	}
	var bad error
	switch {
	case fs.NArg() > 0:
		bad = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *unit <= 0 || c.delay < 0 || c.grace < 0:
		bad = errors.New("-unit must be positive, -delay and -grace not negative")
	}
	if bad != nil {
		fmt.Fprintln(fs.Output(), bad)
		fs.Usage()
		return c, usageError{bad}
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
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	shutdown, err := tracing.Setup(ctx, tracing.ServerService, tracing.Version(), stderr)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), tracing.ShutdownTimeout)
		defer cancel()
		err = errors.Join(err, shutdown(ctx))
	}()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Server running on %s (delay %v)\n", ln.Addr(), cfg.delay)
	srv := server.New(server.Config{Delay: cfg.delay, Log: stdout})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintf(stdout, "Shutting down: waiting up to %v for connections in flight\n", cfg.grace)
	gctx, cancel := context.WithTimeout(context.Background(), cfg.grace)
	defer cancel()
	if err := srv.Shutdown(gctx); err != nil {
		// Not a failure of the server: it was told to stop.
		fmt.Fprintf(stderr, "server: connections cut short: %v\n", err)
	}
	<-served
	return nil
}
