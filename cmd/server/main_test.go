package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"asynctrace/cmd/internal/cli"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		give      string
		wantDelay time.Duration
		wantErr   bool
	}{
		{give: "", wantDelay: 8 * time.Second},
		{give: "-unit 50ms", wantDelay: 400 * time.Millisecond},
		{give: "-unit 50ms -delay 1s", wantDelay: time.Second},
		{give: "-unit 0", wantErr: true},
		{give: "-delay -1s", wantErr: true},
		{give: "-bogus", wantErr: true},
		{give: "extra", wantErr: true},
	}
	for _, tt := range tests {
		c, err := parseFlags(strings.Fields(tt.give), io.Discard)
		var u cli.UsageError
		if tt.wantErr != errors.As(err, &u) {
			t.Errorf("parseFlags(%q) error = %v, want usage error: %v", tt.give, err, tt.wantErr)
		}
		if !tt.wantErr && c.delay != tt.wantDelay {
			t.Errorf("parseFlags(%q) delay = %v, want %v", tt.give, c.delay, tt.wantDelay)
		}
	}
	if c, _ := parseFlags(nil, io.Discard); c.addr != "127.0.0.1:6142" {
		t.Errorf("default -addr %q, want 127.0.0.1:6142", c.addr)
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h = %v, want flag.ErrHelp", err)
	}
}

// run serves until its context ends, lets the connection in flight finish,
// and returns nil.
func TestRunServesAndStops(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-delay", "200ms"}, pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "Server running on 127.0.0.1:") {
		t.Fatalf("first line %q, want Server running on <addr>", lines.Text())
	}
	addr := strings.Fields(strings.TrimPrefix(lines.Text(), "Server running on "))[0]

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("task1"))
	// Wait for the server to say the request is in.
	if !lines.Scan() || !strings.Contains(lines.Text(), "request in") {
		t.Fatalf("second line %q, want the request's arrival", lines.Text())
	}
	go io.Copy(io.Discard, pr) // the rest of the log
	cancel()                   // as SIGINT would

	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 5)
	if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, []byte("task1")) {
		t.Errorf("in-flight echo during shutdown = %q, %v; want task1", got, err)
	}
	conn.Close() // the server echoes until the client closes
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}
