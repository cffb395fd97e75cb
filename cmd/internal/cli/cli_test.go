package cli

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"asynctrace/client"
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

// The heap profile kept is the one of the collection that found the most
// live: taken while 64 MiB were held, not after, when they are gone.
func TestHeapPeak(t *testing.T) {
	var h heapPeak
	held := make([][]byte, 64)
	for i := range held {
		held[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	h.look()
	runtime.KeepAlive(held)
	if h.live < 64<<20 || h.profile.Len() == 0 {
		t.Fatalf("after a collection with 64 MiB live: %d bytes live, a %d-byte profile", h.live, h.profile.Len())
	}
	peak := bytes.Clone(h.profile.Bytes())
	held = nil
	runtime.GC()
	h.look()
	if !bytes.Equal(h.profile.Bytes(), peak) {
		t.Error("a collection with less live replaced the peak's profile")
	}
	if !bytes.HasPrefix(peak, []byte{0x1f, 0x8b}) {
		t.Errorf("the profile is not gzip'd protobuf (go tool pprof's format): % x", peak[:min(len(peak), 4)])
	}
}

func TestPeakHeapProfileWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heap.pprof")
	if err := PeakHeapProfile(path, client.Every)(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || len(b) == 0 {
		t.Errorf("%s: %d bytes, %v", path, len(b), err)
	}
}
