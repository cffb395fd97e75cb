package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"asynctrace/internal/composefile"
)

// Every client service of docker-compose.yml runs a command line this
// client accepts.
func TestComposeCommands(t *testing.T) {
	p, err := composefile.Load(context.Background(), composefile.Path())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, s := range p.Services {
		if len(s.Command) == 0 || s.Command[0] != "/client" {
			continue
		}
		n++
		c, err := parseFlags(s.Command[1:], io.Discard)
		if err != nil {
			t.Errorf("%s: %q: %v", name, strings.Join(s.Command, " "), err)
			continue
		}
		if len(c.scenarios) != 1 || "client-"+string(c.scenarios[0]) != name {
			t.Errorf("%s runs %v", name, c.scenarios)
		}
	}
	if n == 0 {
		t.Error("no service runs /client")
	}
}
