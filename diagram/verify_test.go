package diagram

import (
	"strings"
	"testing"

	"asynctrace/client"
	"asynctrace/tracing"
)

func failed(checks []Check) []string {
	var f []string
	for _, c := range checks {
		if !c.OK {
			f = append(f, c.Name)
		}
	}
	return f
}

func TestVerifyRecorded(t *testing.T) {
	for _, sc := range client.Scenarios {
		d := load(t, string(sc))
		checks := d.Verify(d.Expect())
		if !Passed(checks) {
			t.Errorf("%s against its own expectation failed %v", sc, failed(checks))
		}
		if len(checks) < 3 {
			t.Errorf("%s: only %d checks", sc, len(checks))
		}
	}
}

func TestVerifyWrongScenario(t *testing.T) {
	d := load(t, "single-thread")
	exp := d.Expect()
	exp.Scenario, exp.Procs = client.MultiThread, 3
	if f := failed(d.Verify(exp)); !strings.Contains(strings.Join(f, ","), "makespan") || !strings.Contains(strings.Join(f, ","), "computes in parallel") {
		t.Errorf("single-thread as multi-thread P=3 failed %v, want makespan and computes in parallel", f)
	}
}

// Stored traces broken on purpose.
func TestVerifyBroken(t *testing.T) {
	tests := []struct {
		scenario string
		breakIt  func(d *Diagram)
		want     string
	}{
		{"single-thread", func(d *Diagram) { // the computes overlap
			first := d.TaskLanes[0].Segments[len(d.TaskLanes[0].Segments)-1]
			for i := range d.TaskLanes {
				segs := d.TaskLanes[i].Segments
				c := &segs[len(segs)-1]
				c.End, c.Start = first.End, first.Start
			}
		}, "computes at once"},
		{"single-thread", func(d *Diagram) { d.Makespan = d.Makespan * 2 }, "makespan"},
		{"sync", func(d *Diagram) { d.TaskLanes[1].Start = d.TaskLanes[0].Start }, "tasks in series"},
		{"os-threads", func(d *Diagram) { d.TaskLanes[1].Segments[2].Thread = d.TaskLanes[0].Segments[2].Thread }, "locked threads"},
		{"multi-thread", func(d *Diagram) { // compute before response
			s := d.TaskLanes[0].Segments
			s[len(s)-1].Start = 0
		}, "stages of task1"},
	}
	for _, tt := range tests {
		d := load(t, tt.scenario)
		tt.breakIt(d)
		if f := failed(d.Verify(d.Expect())); !strings.Contains(strings.Join(f, ","), tt.want) {
			t.Errorf("broken %s: failed %v, want %q among them", tt.scenario, f, tt.want)
		}
	}
}

func TestMaxConcurrent(t *testing.T) {
	ms := func(a, b int) interval { return interval{ms(float64(a)), ms(float64(b))} }
	tests := []struct {
		give []interval
		want int
	}{
		{nil, 0},
		{[]interval{ms(0, 10), ms(10, 20)}, 1}, // touching ends
		{[]interval{ms(0, 10), ms(5, 20), ms(6, 7)}, 3},
		{[]interval{ms(0, 10), ms(5, 20), ms(11, 12)}, 2},
	}
	for _, tt := range tests {
		if got := maxConcurrent(tt.give); got != tt.want {
			t.Errorf("maxConcurrent(%v) = %d, want %d", tt.give, got, tt.want)
		}
	}
	_ = tracing.SpanCompute
}
