package diagram

import (
	"fmt"
	"io"
	"strings"
	"time"

	"asynctrace/scenario"
)

// ManyTasks is the most tasks drawn lane by lane; above it the renderers
// draw the run's occupancy instead: lanes per task do not scale.
const ManyTasks = scenario.LaneTasks

// Occupancy is one moment of a run: how many tasks were in each stage, and
// how many OS threads were held by a stage (the lane rule).
type Occupancy struct {
	At      time.Duration
	Tasks   map[scenario.Stage]int
	Threads int
}

// Occupancy samples the run at n moments, evenly from its start to its
// end (each at the middle of its slice of time).
func (d *Diagram) Occupancy(n int) []Occupancy {
	n = max(1, n)
	step := d.Makespan / time.Duration(n)
	out := make([]Occupancy, n)
	for i := range out {
		out[i] = Occupancy{At: time.Duration(i)*step + step/2, Tasks: map[scenario.Stage]int{}}
	}
	// Each segment adds one to the moments it covers.
	index := func(t time.Duration) int {
		if step <= 0 {
			return 0
		}
		return int((t - step/2 + step - 1) / step) // the first moment at or after t
	}
	for _, t := range d.Timeline.Tasks {
		for _, s := range t.Segments {
			for i := max(0, index(s.Start)); i < n && out[i].At < s.End; i++ {
				out[i].Tasks[s.Stage]++
			}
		}
	}
	for _, l := range d.Threads {
		held := make([]bool, n)
		for _, s := range l.Segments {
			for i := max(0, index(s.Start)); i < n && out[i].At < s.End; i++ {
				held[i] = true
			}
		}
		for i, h := range held {
			if h {
				out[i].Threads++
			}
		}
	}
	return out
}

// many says whether the run is drawn as occupancy.
func (d *Diagram) many() bool { return len(d.Tasks) > ManyTasks }

// writeOccupancySVG draws a run of many tasks: time runs down, as in the
// article's figures; on the left, at each moment, how many tasks were in
// each stage, stacked across the width in the article's colours; on the
// right, how many OS threads a stage held. The picture of C10k: thousands
// of tasks waiting, a handful of threads.
func (d *Diagram) writeOccupancySVG(w io.Writer) error {
	const (
		rows, rowH       = 200, 3.0
		top, left        = 92.0, 84.0
		tasksW, threadsW = 420.0, 160.0
		gap              = 46.0
	)
	occ := d.Occupancy(rows)
	n := len(d.Tasks)
	maxThreads := 0
	for _, o := range occ {
		maxThreads = max(maxThreads, o.Threads)
	}
	width, height := left+tasksW+gap+threadsW+60, top+rows*rowH+110
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif" font-size="11">`+"\n", width, height, width, height)
	p("<title>%s</title>\n", esc(fmt.Sprintf("asynctrace %s, trace %s", d.Scenario, d.TraceID)))
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	p(`<text x="12" y="22" font-size="15" font-weight="bold">%s</text>`+"\n",
		esc(fmt.Sprintf("%s: %d tasks, %s", d.Scenario, n, d.knobs())))
	p(`<text x="12" y="40">%s</text>`+"\n", esc(fmt.Sprintf("makespan %s, expected %s · trace %s", fmtSec(d.Makespan), fmtSec(d.Expected), d.TraceID)))
	p(`<text x="%.1f" y="62" font-weight="bold">Tasks in each stage (of %d)</text>`+"\n", left, n)
	held := fmt.Sprintf("at most %d at once", maxThreads)
	if maxThreads == 0 {
		held = "none"
	}
	if d.PeakOSThreads > 0 {
		held += fmt.Sprintf("; the process: %d", d.PeakOSThreads)
	}
	p(`<text x="%.1f" y="50" font-weight="bold">OS threads held by a stage</text>`+"\n", left+tasksW+gap)
	p(`<text x="%.1f" y="64">%s</text>`+"\n", left+tasksW+gap, esc(held))
	for _, x := range []float64{left, left + tasksW/2, left + tasksW} {
		p(`<text x="%.1f" y="80" text-anchor="middle" font-size="10">%d</text>`+"\n", x, int(float64(n)*(x-left)/tasksW+0.5))
	}
	p(`<text x="%.1f" y="80" font-size="10">0</text><text x="%.1f" y="80" text-anchor="end" font-size="10">%d</text>`+"\n", left+tasksW+gap, left+tasksW+gap+threadsW, max(1, maxThreads))

	for i, o := range occ {
		y := top + float64(i)*rowH
		x := left
		for _, st := range scenario.Stages {
			c := o.Tasks[st]
			if c == 0 {
				continue
			}
			wd := tasksW * float64(c) / float64(n)
			p(`<rect class="occupancy" data-stage="%s" data-count="%d" data-us="%d" x="%.2f" y="%.1f" width="%.2f" height="%.1f" fill="%s"/>`+"\n",
				st, c, o.At.Microseconds(), x, y, wd, rowH, styles[st].color)
			x += wd
		}
		if o.Threads > 0 {
			p(`<rect class="threads" data-count="%d" data-us="%d" x="%.1f" y="%.1f" width="%.2f" height="%.1f" fill="%s"/>`+"\n",
				o.Threads, o.At.Microseconds(), left+tasksW+gap, y, threadsW*float64(o.Threads)/float64(max(1, maxThreads)), rowH, ColorCompute)
		}
	}
	// The time axis, ticks every unit (or tenth of the run).
	axisX, bottom := left-10, top+rows*rowH
	p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", axisX, top, axisX, bottom+14)
	p(`<path d="M %.1f %.1f l -4 -9 l 8 0 z" fill="#333"/>`+"\n", axisX, bottom+16)
	tick := d.Unit
	if tick <= 0 || d.Makespan/tick > 40 {
		tick = max(d.Makespan/10, time.Millisecond)
	}
	for t := time.Duration(0); t <= d.Makespan; t += tick {
		y := top + float64(t)/float64(max(d.Makespan, 1))*rows*rowH
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", axisX-4, y, axisX, y)
		p(`<text x="%.1f" y="%.1f" text-anchor="end" font-size="10">%s</text>`+"\n", axisX-6, y+3.5, fmtSec(t))
	}
	y, x := bottom+34, 12.0
	for _, st := range scenario.Stages {
		s := styles[st]
		p(`<rect class="legend" data-stage="%s" x="%.1f" y="%.1f" width="14" height="14" fill="%s" stroke="#333" stroke-width="0.8"/>`+"\n", st, x, y, s.color)
		p(`<text x="%.1f" y="%.1f">%s</text>`+"\n", x+19, y+11, esc(s.label))
		x += legendItemWidth(s.label)
	}
	p(`<text x="12" y="%.1f" font-size="10" fill="#555">Time runs down. Left: how many tasks were in each stage at each moment. Right: how many OS threads a stage held</text>`+"\n", y+32)
	p(`<text x="12" y="%.1f" font-size="10" fill="#555">(compute, unless it sleeps; connect, response and ready where the task is locked to its thread). More than %d tasks are drawn this way.</text>`+"\n", y+45, ManyTasks)
	p("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeOccupancyText is the terminal's compact chart of the same.
func (d *Diagram) writeOccupancyText(w io.Writer, opt TextOptions) error {
	rows := opt.Rows
	if rows <= 0 {
		rows = 24
	}
	barW := max(10, min(opt.Width, 100)-30)
	occ := d.Occupancy(rows)
	n := len(d.Tasks)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d tasks, %s: makespan %v (expected %v)\n",
		d.Scenario, n, d.knobs(), d.Makespan.Round(time.Millisecond), d.Expected)
	fmt.Fprintf(&b, "time runs down; tasks in each stage (%d across), and OS threads held by a stage", n)
	if d.PeakOSThreads > 0 {
		fmt.Fprintf(&b, " (the process peaked at %d)", d.PeakOSThreads)
	}
	b.WriteString("\n")
	for _, o := range occ {
		fmt.Fprintf(&b, "%7s |", d.fmtUnits(o.At))
		used := 0
		for _, st := range scenario.Stages {
			c := o.Tasks[st]
			cells := (c*barW + n/2) / max(1, n)
			cells = min(cells, barW-used)
			used += cells
			s := styles[st]
			if cells > 0 {
				b.WriteString(paint(strings.Repeat(string(s.char), cells), s.color, opt.Color))
			}
		}
		fmt.Fprintf(&b, "%s| %d thread(s)\n", strings.Repeat(" ", barW-used), o.Threads)
	}
	var legend []string
	for _, st := range scenario.Stages {
		s := styles[st]
		legend = append(legend, paint(string(s.char), s.color, opt.Color)+" "+s.label)
	}
	b.WriteString(strings.Join(legend, "  ") + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}
