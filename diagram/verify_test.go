package diagram

import (
	"strings"
	"testing"

	"asynctrace/scenario"
)

func failed(checks []scenario.Check) string { return strings.Join(scenario.Failed(checks), ",") }

// The stored traces, as Jaeger returned them, pass their own checks.
func TestVerifyRecorded(t *testing.T) {
	for _, sc := range scenario.All {
		d := load(t, string(sc))
		checks := d.Verify(d.Expect())
		if f := failed(checks); f != "" {
			t.Errorf("%s against its own expectation failed %s: %v", sc, f, checks)
		}
		if len(checks) < 5 {
			t.Errorf("%s: only %d checks", sc, len(checks))
		}
	}
}

// Stored traces broken on purpose fail the check that says so.
func TestVerifyBroken(t *testing.T) {
	compute := func(task scenario.Task) *scenario.Segment { return &task.Segments[len(task.Segments)-1] }
	tests := []struct {
		scenario string
		breakIt  func(d *Diagram)
		want     string
	}{
		{"single-thread", func(d *Diagram) { // the computes overlap
			first := *compute(d.Tasks[0])
			for _, task := range d.Tasks {
				c := compute(task)
				c.Start, c.End = first.Start, first.End
			}
		}, "computes at once"},
		{"single-thread", func(d *Diagram) { d.Makespan *= 2 }, "makespan"},
		{"sync", func(d *Diagram) { d.Tasks[1].Start = d.Tasks[0].Start }, "tasks in series"},
		{"os-threads", func(d *Diagram) { compute(d.Tasks[1]).Thread = compute(d.Tasks[0]).Thread }, "locked threads"},
		{"multi-thread", func(d *Diagram) { compute(d.Tasks[0]).Start = 0 }, "stages of task1"},
	}
	for _, tt := range tests {
		d := load(t, tt.scenario)
		tt.breakIt(d)
		if f := failed(d.Verify(d.Expect())); !strings.Contains(f, tt.want) {
			t.Errorf("broken %s: failed %q, want %q among them", tt.scenario, f, tt.want)
		}
	}
}
