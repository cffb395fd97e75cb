package cli

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		give      string
		wantUsage bool
		wantHelp  bool
	}{
		{give: "-n 3"},
		{give: "-n 0", wantUsage: true},   // check refuses it
		{give: "-bogus", wantUsage: true}, // the flag package refuses it
		{give: "-n 3 extra", wantUsage: true},
		{give: "-h", wantHelp: true},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		fs := NewFlagSet("cmd", "Does things.", &out)
		n := fs.Int("n", 1, "how many")
		err := Parse(fs, strings.Fields(tt.give), func() error {
			if *n < 1 {
				return errors.New("-n must be at least 1")
			}
			return nil
		})
		var u UsageError
		if got := errors.As(err, &u); got != tt.wantUsage {
			t.Errorf("Parse(%q) = %v, want usage error: %v", tt.give, err, tt.wantUsage)
		}
		if got := errors.Is(err, flag.ErrHelp); got != tt.wantHelp {
			t.Errorf("Parse(%q) = %v, want flag.ErrHelp: %v", tt.give, err, tt.wantHelp)
		}
		if (tt.wantUsage || tt.wantHelp) && !strings.Contains(out.String(), "Usage: cmd [flags]\n\nDoes things.") {
			t.Errorf("Parse(%q) printed %q, want the usage", tt.give, out.String())
		}
	}
}
