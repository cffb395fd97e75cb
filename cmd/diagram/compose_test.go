package main

import (
	"context"
	"io"
	"testing"

	"asynctrace/internal/composefile"
)

// The verify service runs a command line this command accepts.
func TestComposeCommand(t *testing.T) {
	cmd, err := composefile.Command(context.Background(), "verify")
	if err != nil {
		t.Fatal(err)
	}
	if cmd[0] != "/diagram" {
		t.Fatalf("verify command %q, want /diagram ...", cmd)
	}
	c, err := parseFlags(cmd[1:], io.Discard)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !c.verify || c.wait <= 0 {
		t.Errorf("verify service: -verify %v, -wait %v; want both", c.verify, c.wait)
	}
}
