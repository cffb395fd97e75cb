package diagram

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"asynctrace/scenario"
)

// stair is single-thread with n tasks drawn to the formula: connect 0–2u,
// response 2–10u, then the computes one after another on one thread.
func stair(n int) *Diagram {
	const u = time.Second
	tl := &scenario.Timeline{Params: scenario.Params{Scenario: scenario.SingleThread, Compute: scenario.Hold, N: n, Procs: 1, CPUs: 2, Unit: u}}
	for i := 1; i <= n; i++ {
		c := 10*u + time.Duration(i-1)*4*u
		seg := func(s scenario.Stage, a, b time.Duration) scenario.Segment {
			return scenario.Segment{Task: i, Stage: s, Start: a, End: b, Thread: 7, ThreadEnd: 7}
		}
		tl.Tasks = append(tl.Tasks, scenario.Task{Index: i, Goroutine: int64(i), Start: 0, End: c + 4*u, Segments: []scenario.Segment{
			seg(scenario.StageConnect, 0, 2*u), seg(scenario.StageResponse, 2*u, 10*u), seg(scenario.StageReady, 10*u, c), seg(scenario.StageCompute, c, c+4*u),
		}})
		tl.Makespan = c + 4*u
	}
	d := New(tl)
	d.TraceID = "t"
	return d
}

func TestOccupancy(t *testing.T) {
	d := stair(100)
	occ := d.Occupancy(int(d.Makespan / time.Second)) // a moment a unit, at u/2
	at := func(sec int) Occupancy { return occ[sec] }
	for _, tt := range []struct {
		sec     int
		stage   scenario.Stage
		want    int
		threads int
	}{
		{1, scenario.StageConnect, 100, 0},
		{5, scenario.StageResponse, 100, 0},
		{11, scenario.StageCompute, 1, 1},
		{11, scenario.StageReady, 99, 1},
		{400, scenario.StageReady, 2, 1}, // at 400.5u: task 98 computes, 99 and 100 wait
	} {
		if o := at(tt.sec); o.Tasks[tt.stage] != tt.want || o.Threads != tt.threads {
			t.Errorf("at %vs: %d %s, %d threads; want %d, %d", o.At.Seconds(), o.Tasks[tt.stage], tt.stage, o.Threads, tt.want, tt.threads)
		}
	}
}

// Past ManyTasks, the SVG and the terminal draw occupancy, not lanes.
func TestOccupancyRenderers(t *testing.T) {
	d := stair(100)
	var svg bytes.Buffer
	if err := d.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&svg)
	occupancy, lanes := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "rect" {
			for _, a := range el.Attr {
				if a.Name.Local == "class" && a.Value == "occupancy" {
					occupancy++
				}
				if a.Name.Local == "class" && a.Value == "lane" {
					lanes++
				}
			}
		}
	}
	if occupancy == 0 || lanes != 0 {
		t.Errorf("SVG of 100 tasks: %d occupancy rects, %d lanes; want occupancy only", occupancy, lanes)
	}
	var txt bytes.Buffer
	if err := d.WriteText(&txt, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(txt.String(), "\n") {
		if len(line) > 100 {
			t.Errorf("terminal line of %d columns: %q", len(line), line)
		}
	}
	if !strings.Contains(txt.String(), "| 1 thread(s)") || !strings.Contains(txt.String(), "100 across") {
		t.Errorf("terminal chart:\n%s", txt.String())
	}
}
