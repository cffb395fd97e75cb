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

	"asynctrace/cmd/internal/cli"
	"asynctrace/internal/logtest"
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
