package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"asynctrace/client"
	"asynctrace/cmd/internal/cli"
	"asynctrace/cmd/internal/clientcmd"
	"asynctrace/internal/logtest"
	"asynctrace/scenario"
	"asynctrace/web"
)

// Every goroutine the page starts has ended when run returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The command serves the page until its context ends, says where, and
// whether runs will be linked to traces.
func TestRunServesUntilCancelled(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1") // no Jaeger
	t.Setenv("ASYNCTRACE_WEB_HOSTS", "asynctrace.lan, other.lan")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout logtest.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, &stdout, &stdout) }()
	if !stdout.Await("No trace link", 1, 10*time.Second) {
		cancel()
		t.Fatalf("no start message: %q", stdout.String())
	}
	addr := regexp.MustCompile(`open (http://\S+)`).FindStringSubmatch(stdout.String())
	if addr == nil {
		t.Fatalf("no address in %q", stdout.String())
	}
	resp, err := http.Get(addr[1] + "/api/info")
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info["max_tasks"] != float64(10000) {
		t.Errorf("/api/info: %v", info)
	}
	// Another name than the ones it was given: refused, in JSON.
	req, _ := http.NewRequest("GET", addr[1]+"/api/info", nil)
	req.Host = "evil.example"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("Host evil.example: %d, want 403", resp.StatusCode)
	}
	req.Host = "asynctrace.lan:8080"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("Host asynctrace.lan, from $ASYNCTRACE_WEB_HOSTS: %d, want 200", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return 10s after its context ended")
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-addr", "nowhere"}, {"extra"}, {"-jaeger"}, {"-allowed-hosts", "http://evil.example"}, {"-allowed-hosts", "a.lan:8080"}} {
		var stderr bytes.Buffer
		err := run(context.Background(), args, &stderr, &stderr)
		var usage cli.UsageError
		if !errors.As(err, &usage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

// The page says whether the article's Tokio programs are where the runs
// look, and if not, the client's own words on how to build them.
func TestPeers(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ASYNCTRACE_TOKIO_PEER", dir)
	if p := peers(); p.Available || p.Dir != dir || !strings.Contains(p.Note, "scripts/build-peer") {
		t.Errorf("an empty directory: %+v, want not available, saying how to build them", p)
	}
	for _, name := range []string{"client_sync", "client_series", "client_single", "client_multi", "client_rayon", "client_many"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if p := peers(); !p.Available || p.Note != "" {
		t.Errorf("every program there: %+v, want available", p)
	}
}

// The command lines the page builds for its runs (web.Knobs.ChildArgs)
// mean, to the client command, what the knobs say: the client's flags are
// spelt by the client (clientcmd) and by the page's one builder, and this
// keeps the two one.
func TestChildArgsAreTheClients(t *testing.T) {
	t.Setenv("ASYNCTRACE_TOKIO_PEER", t.TempDir())
	for _, k := range []web.Knobs{
		web.DefaultKnobs,
		{Runtime: scenario.Go, Scenario: scenario.MultiThread, Tasks: 100, Unit: 200 * time.Millisecond, Procs: 3, Compute: scenario.Sleep},
		{Runtime: scenario.Go, Scenario: scenario.OSThreads, Tasks: 10000, Unit: 200 * time.Millisecond, Compute: scenario.Sleep},
		{Runtime: scenario.Tokio, Scenario: scenario.OSThreads, Tasks: 3, Unit: 50 * time.Millisecond, Procs: 3},
		{Runtime: scenario.Tokio, Scenario: scenario.MultiThread, Tasks: 3, Unit: time.Second, Compute: scenario.Hold},
	} {
		args := k.ChildArgs("127.0.0.1:9", "/figures")
		p, err := clientcmd.Parse(args)
		if err != nil {
			t.Errorf("the client refuses %q: %v", args, err)
			continue
		}
		r := p.Run
		if r.Addr != "127.0.0.1:9" || r.Runtime != k.Runtime || r.Scenario != k.Scenario || r.Tasks != k.Tasks || r.Unit != k.Unit ||
			r.Procs != k.Procs || r.Compute != k.Compute {
			t.Errorf("the client reads %q as %+v, want the knobs %+v", args, r, k)
		}
		if !p.JSON || p.SVGDir != "/figures" || !p.SVGCompact || p.JaegerUI != "" || p.Verbose != (k.Tasks <= client.LineTasks) {
			t.Errorf("the client reads %q as %+v: want -json, the figures in /figures, compact too, no trace links, the lines up to %d tasks", args, p, client.LineTasks)
		}
		if k.Scenario == scenario.OSThreads && k.Tasks >= 10000 && p.MaxThreads <= k.Tasks {
			t.Errorf("%d os-threads tasks: -max-threads %d", k.Tasks, p.MaxThreads)
		}
	}
}
