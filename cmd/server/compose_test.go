package main

import (
	"context"
	"io"
	"testing"

	"asynctrace/internal/composefile"
)

// The echo-server service runs a command line this server accepts.
func TestComposeCommand(t *testing.T) {
	p, err := composefile.Load(context.Background(), composefile.Path())
	if err != nil {
		t.Fatal(err)
	}
	s, ok := p.Services["echo-server"]
	if !ok || len(s.Command) == 0 || s.Command[0] != "/server" {
		t.Fatalf("echo-server command %q, want /server ...", s.Command)
	}
	c, err := parseFlags(s.Command[1:], io.Discard)
	if err != nil {
		t.Fatalf("echo-server: %v", err)
	}
	if c.addr != "0.0.0.0:6142" {
		t.Errorf("echo-server listens on %s, want 0.0.0.0:6142", c.addr)
	}
}
