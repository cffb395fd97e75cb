package diagram

import (
	"bytes"
	"encoding/xml"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"asynctrace/scenario"
)

// The stored traces' waits, explained: the single-thread stair (task3
// computed first there), and none in the others.
func TestWaitsRecorded(t *testing.T) {
	tests := []struct {
		give string
		want []string
	}{
		{"single-thread", []string{
			"task1 waited 8.0u: task3's compute 4.0u, task2's compute 4.0u",
			"task2 waited 4.0u: task3's compute 4.0u",
		}},
		{"multi-thread", nil},
		{"os-threads", nil},
		{"sync", nil},
		{"sequential", nil},
	}
	for _, tt := range tests {
		d := load(t, tt.give)
		var got []string
		for _, w := range d.Waits() {
			got = append(got, w.Explain(d.Unit))
			if w.Unexplained > time.Millisecond+500*time.Microsecond {
				t.Errorf("%s: task%d: %v unexplained", tt.give, w.Task, w.Unexplained)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: waits %q, want %q", tt.give, got, tt.want)
		}
	}
}

// connector is a wait's mark in the SVG, parsed back.
type connector struct {
	task, holder string
	covered      time.Duration
	x0, x1, y    float64 // from the ready stage's edge to the arrow's tip
	dotted       bool
}

func parseWaits(t *testing.T, d *Diagram) []connector {
	t.Helper()
	var buf bytes.Buffer
	if err := d.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	var out []connector
	dec := xml.NewDecoder(&buf)
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		f := func(k string) float64 { v, _ := strconv.ParseFloat(attr(el, k), 64); return v }
		switch {
		case el.Name.Local == "g" && attr(el, "class") == "wait":
			us, _ := strconv.ParseInt(attr(el, "data-covered-us"), 10, 64)
			out = append(out, connector{task: attr(el, "data-task"), holder: attr(el, "data-holder"), covered: time.Duration(us) * time.Microsecond})
		case el.Name.Local == "line" && len(out) > 0 && attr(el, "stroke") != "#ffffff":
			c := &out[len(out)-1]
			c.x0, c.y, c.dotted = f("x1"), f("y1"), attr(el, "stroke-dasharray") != ""
		case el.Name.Local == "path" && len(out) > 0 && out[len(out)-1].x1 == 0:
			// "M x y l …": the arrow's tip
			if f := strings.Fields(attr(el, "d")); len(f) > 1 {
				out[len(out)-1].x1, _ = strconv.ParseFloat(f[1], 64)
			}
		}
	}
	return out
}

// single-thread: a connector from each ready stage to each compute that
// held the one P, level at a time inside both, ending at the compute's
// thread lane.
func TestSVGWaits(t *testing.T) {
	d := load(t, "single-thread")
	l := d.layout(SVGOptions{})
	got := parseWaits(t, d)
	var pairs []string
	for _, c := range got {
		pairs = append(pairs, c.task+"→"+c.holder)
		i, _ := scenario.ParseTaskLabel(c.task)
		h, _ := scenario.ParseTaskLabel(c.holder)
		ready, _ := d.Tasks[i-1].Segment(scenario.StageReady)
		compute, _ := d.Tasks[h-1].Segment(scenario.StageCompute)
		from, to := l.y(max(ready.Start, compute.Start)), l.y(min(ready.End, compute.End))
		if c.y < from || c.y > to {
			t.Errorf("%s→%s at y=%.1f, outside the part of the wait the compute covered, [%.1f, %.1f]", c.task, c.holder, c.y, from, to)
		}
		if c.x0 != l.taskX[i-1]+l.g.laneW || c.x1 != l.threadX[0] {
			t.Errorf("%s→%s from x=%.1f to %.1f, want from the ready stage's edge %.1f to the thread lane %.1f", c.task, c.holder, c.x0, c.x1, l.taskX[i-1]+l.g.laneW, l.threadX[0])
		}
		if c.covered < 195*time.Millisecond || c.covered > 205*time.Millisecond || c.dotted {
			t.Errorf("%s→%s covered %v (dotted %v), want about 4u = 200ms, solid", c.task, c.holder, c.covered, c.dotted)
		}
	}
	if want := []string{"task1→task3", "task1→task2", "task2→task3"}; !slices.Equal(pairs, want) {
		t.Errorf("connectors %v, want %v", pairs, want)
	}
	// No waits, no marks, no line about them.
	var b bytes.Buffer
	if err := load(t, "multi-thread").WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	if s := b.String(); strings.Contains(s, `class="wait"`) || strings.Contains(s, "An arrow from a ready stage") {
		t.Error("multi-thread (P=3, no waits) has wait marks")
	}
}

// At P = 2 the compute that ended first covered the wait; the other held
// the other P: its connector is dotted, and the text names it.
func TestWaitsTwoPs(t *testing.T) {
	const u = time.Second
	seg := func(i int, s scenario.Stage, from, to time.Duration, thread int64) scenario.Segment {
		return scenario.Segment{Task: i, Stage: s, Start: from, End: to, Thread: thread, ThreadEnd: thread}
	}
	task := func(i int, computeAt, computeFor time.Duration, thread int64) scenario.Task {
		return scenario.Task{Index: i, End: computeAt + computeFor, Segments: []scenario.Segment{
			seg(i, scenario.StageConnect, 0, 2*u, thread), seg(i, scenario.StageResponse, 2*u, 10*u, thread),
			seg(i, scenario.StageReady, 10*u, computeAt, thread), seg(i, scenario.StageCompute, computeAt, computeAt+computeFor, thread),
		}}
	}
	tl := &scenario.Timeline{
		Params:   scenario.Params{Scenario: scenario.MultiThread, Compute: scenario.Hold, N: 3, Procs: 2, CPUs: 2, Unit: u},
		Makespan: 18 * u,
		Tasks:    []scenario.Task{task(1, 10*u, 4*u, 101), task(2, 10*u, 4*u+time.Millisecond, 102), task(3, 14*u, 4*u, 101)},
	}
	d := New(tl)
	got := parseWaits(t, d)
	if len(got) != 2 || got[0].holder != "task1" || got[0].dotted || got[1].holder != "task2" || !got[1].dotted || got[1].covered != 0 {
		t.Errorf("connectors %+v, want task3→task1 solid, task3→task2 dotted with nothing covered", got)
	}
	l := d.layout(SVGOptions{})
	if got[1].x1 != l.threadX[1] {
		t.Errorf("task3→task2 ends at x=%.1f, want task2's thread lane at %.1f", got[1].x1, l.threadX[1])
	}
	var b bytes.Buffer
	if err := d.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "task3 waited 4.0u: task1's compute 4.0u, while task2's compute held the other P"; !strings.Contains(b.String(), want) {
		t.Errorf("text has no %q:\n%s", want, b.String())
	}
}

// The terminal figure marks where each compute that held a ready task
// began, in the task's ready lane, and lists the waits explained.
func TestTextWaits(t *testing.T) {
	d := load(t, "single-thread")
	var b bytes.Buffer
	if err := d.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	rows := map[string]string{} // "10.0u" → the task lanes
	for _, line := range strings.Split(out, "\n") {
		if head, rest, ok := strings.Cut(line, "|"); ok {
			lanes, _, _ := strings.Cut(rest, "|")
			rows[strings.TrimSpace(head)] = lanes
		}
	}
	for _, tt := range []struct {
		at   string
		want string
	}{
		{"10.0u", ":->task3 :->task3 ######## "},
		{"10.5u", ":::::::: :::::::: ######## "},
		{"14.0u", ":->task2 ########          "},
	} {
		if rows[tt.at] != tt.want {
			t.Errorf("task lanes at %s = %q, want %q", tt.at, rows[tt.at], tt.want)
		}
	}
	for _, want := range []string{
		"->task3 in a ready lane: from here the task waited for task3's compute",
		"ready time explained:\n  task1 waited 8.0u: task3's compute 4.0u, task2's compute 4.0u\n  task2 waited 4.0u: task3's compute 4.0u\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text has no %q:\n%s", want, out)
		}
	}
}
