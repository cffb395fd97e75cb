package diagram

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"asynctrace/scenario"
)

// The article's own printed output draws its five figures, with its
// makespans: 42.008, 42.009, 22.004, 14.004 and 14.003 s.
func TestReadPrintedArticle(t *testing.T) {
	for _, tt := range []struct {
		file     string
		want     scenario.Scenario
		makespan time.Duration
		threads  int
		expected time.Duration
	}{
		{"sync", scenario.Sync, 42008389223, 1, 42 * time.Second},
		{"sequential", scenario.Sync, 42009349576, 1, 42 * time.Second}, // Tokio awaited in series prints as std does
		{"single-thread", scenario.SingleThread, 22004094444, 1, 22 * time.Second},
		{"multi-thread", scenario.MultiThread, 14003698375, 3, 14 * time.Second},
		{"os-threads", scenario.OSThreads, 14002589621, 3, 14 * time.Second},
	} {
		f, err := os.Open(filepath.Join("testdata", "article", tt.file+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := ReadPrinted(f, time.Second, "")
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if d.Scenario != tt.want || d.Makespan != tt.makespan || len(d.Threads) != tt.threads || d.Expected != tt.expected || len(d.Tasks) != 3 {
			t.Errorf("%s: %s, makespan %v, %d thread lanes, expected %v, %d tasks; want %s, %v, %d, %v, 3",
				tt.file, d.Scenario, d.Makespan, len(d.Threads), d.Expected, len(d.Tasks), tt.want, tt.makespan, tt.threads, tt.expected)
		}
		for _, task := range d.Tasks {
			if got := stages(task.Segments); strings.Join(got, " ") != "connect response compute" {
				t.Errorf("%s %s: stages %v", tt.file, task.Label(), got)
			}
		}
		var text, svg bytes.Buffer
		if err := d.WriteText(&text, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := d.WriteSVG(&svg); err != nil {
			t.Fatal(err)
		}
		for what, out := range map[string]string{"text": text.String(), "svg": svg.String()} {
			if !strings.Contains(out, "no ready time can be known") {
				t.Errorf("%s %s: does not say it is Tokio's run, without ready time:\n%.300s", tt.file, what, out)
			}
		}
	}
}

// The article's single-thread figure: the three computes one after
// another on the one thread, task3's first, as it printed.
func TestReadPrintedStair(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "article", "single-thread.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := ReadPrinted(f, time.Second, "")
	if err != nil {
		t.Fatal(err)
	}
	lane := d.Threads[0]
	if lane.Thread != 1 || len(lane.Segments) != 3 {
		t.Fatalf("thread lane %d with %d segments, want ThreadId(1) with the 3 computes", lane.Thread, len(lane.Segments))
	}
	for i, want := range []int{3, 2, 1} {
		if s := lane.Segments[i]; s.Task != want || s.Stage != scenario.StageCompute {
			t.Errorf("compute %d: task%d %s, want task%d compute", i+1, s.Task, s.Stage, want)
		}
	}
}

func TestReadPrintedErrors(t *testing.T) {
	for _, give := range []string{
		"",
		"Server running on localhost:6142\n",
		"OS Thread ThreadId(1) - task1 started: 3µs\nOS Thread ThreadId(1) - task1 written: 2s\n",
		"OS Thread ThreadId(1) - task1 started: soon\n",
	} {
		if _, err := ReadPrinted(strings.NewReader(give), time.Second, ""); err == nil {
			t.Errorf("ReadPrinted(%q): no error", give)
		}
	}
}
