package main

import (
	"context"
	"io"
	"testing"

	"asynctrace/internal/composefile"
)

// The echo-server service runs a command line this server accepts.
func TestComposeCommand(t *testing.T) {
	cmd, err := composefile.Command(context.Background(), "echo-server")
	if err != nil {
		t.Fatal(err)
	}
	if cmd[0] != "/server" {
		t.Fatalf("echo-server command %q, want /server ...", cmd)
	}
	c, err := parseFlags(cmd[1:], io.Discard)
	if err != nil {
		t.Fatalf("echo-server: %v", err)
	}
	if c.addr != "0.0.0.0:6142" {
		t.Errorf("echo-server listens on %s, want 0.0.0.0:6142", c.addr)
	}
}
