// Command server is the article's echo server, traced: each connection's
// bytes come back after a delay of 8 units, then the connection closes.
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

	"asynctrace/internal/cli"
	"asynctrace/server"
	"asynctrace/tracing"
)

func main() { cli.Main("server", run) }

type config struct {
	addr  string
	delay time.Duration
	grace time.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := cli.NewFlagSet("server", "Echoes each connection's bytes after a delay. Spans go to OTLP gRPC, set by OTEL_* variables.", stderr)
	var c config
	fs.StringVar(&c.addr, "addr", "127.0.0.1:6142", "listen `address` (0.0.0.0:6142 to serve other hosts)")
	unit := fs.Duration("unit", time.Second, "time `unit` u: requests are held 8u")
	fs.DurationVar(&c.delay, "delay", 0, "hold each request this long, instead of 8u")
	fs.DurationVar(&c.grace, "grace", 15*time.Second, "on SIGINT/SIGTERM, how long connections in flight may take to finish")
	err := cli.Parse(fs, args, func() error {
		if *unit <= 0 || c.delay < 0 || c.grace < 0 {
			return errors.New("-unit must be positive, -delay and -grace not negative")
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
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	tp, shutdown, err := tracing.Setup(ctx, tracing.ServerService, tracing.Version(), stderr)
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
	srv := server.New(server.Config{Delay: cfg.delay, TracerProvider: tp, Log: stdout})
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
