// Command web serves a page on which to run the article's scenarios with
// any knobs and see each run drawn, linked to its trace in Jaeger when one
// answers: go run ./cmd/web, then open http://localhost:8080. Each run is
// a child process: this program again, as the client command.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"asynctrace/cmd/internal/cli"
	"asynctrace/cmd/internal/clientcmd"
	"asynctrace/jaeger"
	"asynctrace/tracing"
	"asynctrace/web"
)

func main() {
	if os.Getenv(web.ChildEnv) == "client" {
		cli.Main("client", clientcmd.Command)
		return
	}
	cli.Main("web", run)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("web", "Serves a page to run the article's scenarios and see each run drawn. Spans go to OTLP gRPC, set by OTEL_* variables, when a collector answers.", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen `address`; 0.0.0.0:8080 to be reached from other machines (runs are processes on this one)")
	ui := fs.String("jaeger-ui", jaeger.DefaultURL(), "Jaeger UI's base `URL` for the trace links, as the browser reaches it; empty for none; $"+jaeger.URLEnv+" sets the default")
	api := fs.String("jaeger-api", "", "Jaeger query API's base `URL`, as this program reaches it (default: -jaeger-ui)")
	hostList := fs.String("allowed-hosts", os.Getenv(web.HostsEnv), "host `names` the page answers to besides IP addresses and localhost, comma-separated (the names a browser opens it by, e.g. on another machine); $"+web.HostsEnv+" sets the default")
	var hosts []string
	if err := cli.Parse(fs, args, func() error {
		if _, _, err := net.SplitHostPort(*addr); err != nil {
			return fmt.Errorf("-addr %q: %v", *addr, err)
		}
		var err error
		if hosts, err = web.ParseHosts(*hostList); err != nil {
			return fmt.Errorf("-allowed-hosts: %v", err)
		}
		return nil
	}); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program, to run the runs with: %w", err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The echo servers' spans; export problems are the page's to tell,
	// run by run.
	tp, shutdown, err := tracing.Setup(ctx, tracing.Options{Service: tracing.ServerService, Version: tracing.Version(),
		Warn: io.Discard, RetryFor: 10 * time.Second, BatchDelay: 300 * time.Millisecond})
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		shutdown(ctx)
	}()
	servers := &web.Servers{TracerProvider: tp}
	defer servers.Close(context.Background())

	endpoint, exporting := tracing.Endpoint()
	traces := web.Traces{UI: strings.TrimSuffix(*ui, "/"), API: strings.TrimSuffix(*api, "/"), OTLP: endpoint, Exporting: exporting}
	runner := web.NewRunner(web.RunnerConfig{Exe: exe, Servers: servers, Traces: traces, Peers: peers})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		runner.Close()
		return err
	}
	srv := &http.Server{Handler: web.Handler(runner, hosts...), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	host := ln.Addr().String()
	if h, p, _ := net.SplitHostPort(host); h == "0.0.0.0" || h == "::" {
		host = net.JoinHostPort("localhost", p)
	}
	fmt.Fprintf(stdout, "asynctrace web: open http://%s to run the article's scenarios\n", host)
	if len(hosts) > 0 {
		fmt.Fprintf(stdout, "It answers at IP addresses, localhost and %s\n", strings.Join(hosts, ", "))
	}
	if _, st := traces.Before(); st.Note != "" {
		fmt.Fprintln(stdout, st.Note)
	} else {
		fmt.Fprintf(stdout, "Traces go to Jaeger at %s; links to %s\n", endpoint, traces.UI)
	}

	select {
	case err := <-served:
		runner.Close()
		return err
	case <-ctx.Done():
	}
	// Stopping, in order: the runs first (a running child gets SIGTERM,
	// ends its tasks and flushes its spans; the runs' event streams end
	// with them), then the HTTP server, which waits for its handlers; then,
	// deferred, the echo servers and the exporter.
	runner.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// peers says whether the article's Tokio programs are where this
// program's children, the client command, will look for them.
func peers() web.PeerStatus {
	dir := clientcmd.PeerDir()
	if err := clientcmd.CheckPeers(dir); err != nil {
		return web.PeerStatus{Dir: dir, Note: err.Error()}
	}
	return web.PeerStatus{Available: true, Dir: dir}
}
