package diagram

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"asynctrace/scenario"
)

func TestTextFits(t *testing.T) {
	// Every scenario, and a wide run: 12 tasks, each on its own thread.
	ds := []*Diagram{}
	for _, sc := range scenario.All {
		ds = append(ds, load(t, string(sc)))
	}
	wide := &Diagram{Timeline: &scenario.Timeline{Params: scenario.Params{Scenario: scenario.OSThreads, Unit: time.Second}, Makespan: 14 * time.Second}}
	for i := range 12 {
		seg := scenario.Segment{Task: i + 1, Stage: scenario.StageCompute, Start: 10 * time.Second, End: 14 * time.Second, Thread: int64(100000 + i), ThreadEnd: int64(100000 + i)}
		wide.Tasks = append(wide.Tasks, scenario.Task{Index: i + 1, Segments: []scenario.Segment{seg}})
		wide.Threads = append(wide.Threads, scenario.Lane{Thread: seg.Thread, Segments: []scenario.Segment{seg}})
	}
	ds = append(ds, wide)
	for _, d := range ds {
		var b bytes.Buffer
		if err := d.WriteText(&b, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(b.String(), "\n") {
			if len(line) > 100 {
				t.Errorf("%s: line of %d columns: %q", d.Scenario, len(line), line)
			}
		}
		if strings.Contains(b.String(), "\x1b[") {
			t.Errorf("%s: colour escapes without Color", d.Scenario)
		}
	}
}

// The single-thread stair, read back from the terminal: the thread lane is
// '#' from 10u to 22u, and each task's compute is 4u long.
func TestTextSingleThread(t *testing.T) {
	d := load(t, "single-thread")
	var b bytes.Buffer
	if err := d.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // "10.0u" → the thread lane's cell
	for _, line := range strings.Split(b.String(), "\n") {
		head, rest, ok := strings.Cut(line, "|")
		if !ok {
			continue
		}
		if _, lanes, ok := strings.Cut(rest, "| "); ok {
			rows[strings.TrimSpace(head)] = strings.TrimSpace(lanes)
		}
	}
	for _, at := range []string{"10.0u", "13.5u", "14.0u", "18.0u", "21.5u"} {
		if !strings.HasPrefix(rows[at], "#") {
			t.Errorf("thread lane at %s = %q, want working", at, rows[at])
		}
	}
	for _, at := range []string{"0.0u", "5.0u", "9.5u"} {
		if strings.Contains(rows[at], "#") {
			t.Errorf("thread lane at %s = %q, want idle", at, rows[at])
		}
	}
	var c bytes.Buffer
	if err := d.WriteText(&c, TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.String(), "\x1b[48;2;200;113;55m") {
		t.Error("no compute colour (#c87137) with Color")
	}
}
