package main

import (
	"context"
	"io"
	"testing"

	"asynctrace/internal/composefile"
)

// The verify service runs a command line this command accepts.
func TestComposeCommand(t *testing.T) {
	p, err := composefile.Load(context.Background(), composefile.Path())
	if err != nil {
		t.Fatal(err)
	}
	s, ok := p.Services["verify"]
	if !ok || len(s.Command) == 0 || s.Command[0] != "/diagram" {
		t.Fatalf("verify command %q, want /diagram ...", s.Command)
	}
	c, err := parseFlags(s.Command[1:], io.Discard)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !c.verify || c.wait <= 0 {
		t.Errorf("verify service: -verify %v, -wait %v; want both", c.verify, c.wait)
	}
}
