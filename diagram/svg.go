package diagram

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"asynctrace/scenario"
)

// SVG geometry, in pixels.
const (
	svgPxPerUnit = 16  // to scale: the same for every run with a unit
	svgPlotH     = 640 // the whole run, where the unit is unknown
	svgTop       = 92
	svgLeft      = 84
	svgLaneW     = 74
	svgServerW   = 12
	svgLaneGap   = 10
	svgGroupGap  = 46
	svgBottom    = 100
)

// SVGOptions change how WriteSVGWith draws.
type SVGOptions struct {
	// Compact draws narrow lanes with no text in them and no legend, for
	// figures side by side (cmd/web's Compare): the time scale and the
	// plot's top are the full figure's, so that compact figures of runs
	// with the same unit share one time axis.
	Compact bool
}

// geometry is the lanes' sizes, in pixels.
type geometry struct {
	left, laneW, serverW, laneGap, groupGap, minWidth float64
	bottom                                            float64
	labels, legend                                    bool
}

func (o SVGOptions) geometry() geometry {
	if o.Compact {
		return geometry{left: 64, laneW: 34, serverW: 6, laneGap: 4, groupGap: 20, bottom: 24}
	}
	return geometry{left: svgLeft, laneW: svgLaneW, serverW: svgServerW, laneGap: svgLaneGap, groupGap: svgGroupGap,
		minWidth: 600, bottom: svgBottom, labels: true, legend: true}
}

// layout places the diagram's lanes and maps time to y.
type layout struct {
	d              *Diagram
	g              geometry
	pxPerNs        float64
	taskX, threadX []float64
	width, height  float64
	waits          []scenario.Wait // drawn as connectors from ready stages to what held them
}

func (d *Diagram) layout(o SVGOptions) layout {
	g := o.geometry()
	l := layout{d: d, g: g}
	if d.Unit > 0 {
		l.pxPerNs = svgPxPerUnit / float64(d.Unit)
	} else {
		l.pxPerNs = svgPlotH / float64(max(d.Makespan, time.Millisecond))
	}
	x := g.left
	for range d.Tasks {
		l.taskX = append(l.taskX, x)
		x += g.laneW + g.laneGap
		if d.Server != nil {
			x += g.serverW + 2
		}
	}
	x += g.groupGap - g.laneGap
	for range d.Threads {
		l.threadX = append(l.threadX, x)
		x += g.laneW + g.laneGap
	}
	l.width = max(x+10, g.minWidth)
	if g.legend {
		l.width = max(l.width, 12+legendWidth(d)+10)
	}
	l.height = l.y(d.Makespan) + g.bottom
	l.waits = d.waits()
	if g.legend && len(l.waits) > 0 {
		l.height += 13 // the connectors' line in the legend
	}
	return l
}

func (l layout) y(t time.Duration) float64 { return svgTop + float64(t)*l.pxPerNs }

// WriteSVG draws both views side by side (for more than ManyTasks tasks,
// their occupancy instead), as the article does: task lanes
// (with the server's delay and write beside each, where the trace has
// them) on the left, OS thread lanes on the right, to scale, in the
// article's colours, with ticks at the measured stage ends.
func (d *Diagram) WriteSVG(w io.Writer) error { return d.WriteSVGWith(w, SVGOptions{}) }

// WriteSVGWith is WriteSVG with options.
func (d *Diagram) WriteSVGWith(w io.Writer, o SVGOptions) error {
	if d.many() {
		return d.writeOccupancySVG(w)
	}
	l := d.layout(o)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif" font-size="11">`+"\n",
		l.width, l.height, l.width, l.height)
	title := fmt.Sprintf("asynctrace %s, trace %s", d.Scenario, d.TraceID)
	if d.Note != "" {
		title = fmt.Sprintf("%s: %s", d.Scenario, d.Note)
	}
	p("<title>%s</title>\n", esc(title))
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	d.svgTitle(p, l.g)
	d.svgLanes(p, l)
	d.svgTicks(p, l)
	d.svgSegments(&b, l)
	d.svgWaits(&b, l)
	if l.g.legend {
		d.svgLegend(p, l)
	}
	p("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// svgTitle writes the figure's title: the run's knobs and makespan.
func (d *Diagram) svgTitle(p func(string, ...any), g geometry) {
	if !g.labels {
		p(`<text x="8" y="22" font-size="14" font-weight="bold">%s</text>`+"\n", esc(string(d.Scenario)))
		p(`<text x="8" y="40">%s</text>`+"\n", esc(fmt.Sprintf("P=%d · %s · %s", d.Procs, d.Compute, fmtSec(d.Makespan))))
		return
	}
	p(`<text x="12" y="22" font-size="15" font-weight="bold">%s</text>`+"\n",
		esc(fmt.Sprintf("%s: %d tasks, %s", d.Scenario, len(d.Tasks), d.knobs())))
	sub := fmt.Sprintf("makespan %s, expected %s", fmtSec(d.Makespan), fmtSec(d.Expected))
	if d.Unit > 0 {
		sub += fmt.Sprintf(" · u = %v", d.Unit)
	}
	if d.Note != "" {
		p(`<text x="12" y="40">%s · Tokio's run, from its printed lines</text>`+"\n", esc(sub))
		return
	}
	p(`<text x="12" y="40">%s · trace %s</text>`+"\n", esc(sub), esc(d.TraceID))
}

// svgLanes writes the group headings, and each lane's label and
// background.
func (d *Diagram) svgLanes(p func(string, ...any), l layout) {
	g := l.g
	laneFont, tasks, threads := "", "Tasks (goroutines)", "OS threads"
	if d.Note != "" || d.Runtime == scenario.Tokio {
		tasks = "Tasks" // no goroutines: another runtime's run
	}
	if !g.labels {
		laneFont, tasks, threads = ` font-size="9"`, "tasks", "threads"
	}
	p(`<text x="%.1f" y="62" font-weight="bold">%s</text>`+"\n", g.left, tasks)
	if len(l.threadX) > 0 {
		p(`<text x="%.1f" y="62" font-weight="bold">%s</text>`+"\n", l.threadX[0], threads)
	}
	plotH := l.y(d.Makespan) - svgTop
	lane := func(kind, label, heading string, x float64) {
		p(`<text x="%.1f" y="80" text-anchor="middle"%s>%s</text>`+"\n", x+g.laneW/2, laneFont, esc(heading))
		p(`<rect class="lane" data-lane="%s" data-label="%s" x="%.1f" y="%d" width="%.0f" height="%.1f" fill="#f6f6f6"/>`+"\n", kind, esc(label), x, svgTop, g.laneW, plotH)
	}
	for i, t := range d.Tasks {
		heading := t.Label()
		if g.labels && t.Goroutine != 0 {
			heading = fmt.Sprintf("%s · g%d", t.Label(), t.Goroutine)
		}
		lane("task", t.Label(), heading, l.taskX[i])
	}
	for i, th := range d.Threads {
		label := strconv.FormatInt(th.Thread, 10)
		lane("thread", label, label, l.threadX[i])
	}
}

// svgTicks writes ticks at the measured stage ends, on an axis at the
// left, with a faint rule across the lanes.
func (d *Diagram) svgTicks(p func(string, ...any), l layout) {
	axisX := l.g.left - 10
	end := l.y(d.Makespan) + 14
	p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", axisX, svgTop, axisX, end)
	p(`<path d="M %.1f %.1f l -4 -9 l 8 0 z" fill="#333"/>`+"\n", axisX, end+2)
	lastY := -100.0
	endY := l.y(d.Makespan)
	for _, t := range d.tickTimes() {
		y := l.y(t)
		label := t == d.Makespan || y-lastY >= 12 && endY-y >= 12
		p(`<line class="tick" data-us="%d" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", t.Microseconds(), axisX-4, y, axisX, y)
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-opacity="0.08"/>`+"\n", axisX, y, l.width-10, y)
		if label {
			p(`<text x="%.1f" y="%.1f" text-anchor="end" font-size="10">%s</text>`+"\n", axisX-6, y+3.5, fmtSec(t))
			lastY = y
		}
	}
}

// svgSegments draws every stage: on its task's lane, the server's beside
// it, and those that held a thread on the thread's lane.
func (d *Diagram) svgSegments(b *strings.Builder, l layout) {
	g := l.g
	for i, t := range d.Tasks {
		col := column{kind: "task", label: t.Label(), x: l.taskX[i], width: g.laneW, labels: g.labels}
		for _, s := range t.Segments {
			col.segment(b, l, s)
		}
		if d.Server != nil {
			col := column{kind: "server", label: t.Label(), x: l.taskX[i] + g.laneW + 2, width: g.serverW}
			for _, s := range d.Server[i] {
				col.segment(b, l, s)
			}
		}
	}
	for i, th := range d.Threads {
		col := column{kind: "thread", label: strconv.FormatInt(th.Thread, 10), x: l.threadX[i], width: g.laneW, labels: g.labels}
		for _, s := range th.Segments {
			col.segment(b, l, s)
		}
	}
}

// svgLegend writes the stages' colours and the lane rule in words.
func (d *Diagram) svgLegend(p func(string, ...any), l layout) {
	y := l.y(d.Makespan) + 34
	x := 12.0
	for _, st := range legendStages(d) {
		s := styles[st]
		p(`<rect class="legend" data-stage="%s" x="%.1f" y="%.1f" width="14" height="14" fill="%s" stroke="#333" stroke-width="0.8"/>`+"\n", st, x, y, s.color)
		p(`<text x="%.1f" y="%.1f">%s</text>`+"\n", x+19, y+11, esc(s.label))
		x += legendItemWidth(s.label)
	}
	p(`<text x="12" y="%.1f" font-size="10" fill="#555">Time runs down. A stage holds an OS thread lane while it holds the thread:</text>`+"\n", y+32)
	p(`<text x="12" y="%.1f" font-size="10" fill="#555">compute, unless it sleeps; connect, response and ready only where the task is locked to its thread.</text>`+"\n", y+45)
	next := y + 58
	if len(l.waits) > 0 {
		p(`<text x="12" y="%.1f" font-size="10" fill="#555">An arrow from a ready stage points at the compute that held the thread or P its task could run on (dotted: another P).</text>`+"\n", next)
		next += 13
	}
	if d.Note != "" {
		p(`<text x="12" y="%.1f" font-size="10" fill="#555">%s.</text>`+"\n", next, esc(d.Note))
	}
}

// WriteSVGFile writes the SVG to path, making its directory if need be.
func (d *Diagram) WriteSVGFile(path string) error { return d.WriteSVGFileWith(path, SVGOptions{}) }

// WriteSVGFileWith is WriteSVGFile with options.
func (d *Diagram) WriteSVGFileWith(path string, o SVGOptions) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := d.WriteSVGWith(f, o); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// column is where segments are drawn: a lane, or the server's strip
// beside a task's lane.
type column struct {
	kind, label string // task, server or thread; the lane's label
	x           float64
	width       float64
	labels      bool // write the stage and its length inside
}

func (c column) segment(b *strings.Builder, l layout, s scenario.Segment) {
	laneKind, laneLabel, x, width, labels := c.kind, c.label, c.x, c.width, c.labels
	st := styles[s.Stage]
	y0, y1 := l.y(s.Start), l.y(s.End)
	h := y1 - y0
	if laneKind == "server" {
		h = max(h, 2) // a write of microseconds stays visible
	}
	stroke := `stroke="#333333" stroke-width="0.8"`
	if s.Moved() {
		stroke = `stroke="#000000" stroke-width="1" stroke-dasharray="3 2"`
	}
	fmt.Fprintf(b, `<rect class="segment" data-lane="%s" data-label="%s" data-task="%s" data-stage="%s" data-start-us="%d" data-end-us="%d" data-thread="%d" data-thread-end="%d" x="%.1f" y="%.2f" width="%.0f" height="%.2f" fill="%s" %s/>`+"\n",
		laneKind, esc(laneLabel), scenario.TaskLabel(s.Task), s.Stage, s.Start.Microseconds(), s.End.Microseconds(), s.Thread, s.ThreadEnd, x, y0, width, h, st.color, stroke)
	if !labels {
		return
	}
	fg := "#000000"
	if s.Stage == scenario.StageCompute || s.Stage == scenario.StageConnect {
		fg = "#ffffff"
	}
	cx := x + width/2
	// As many lines as fit, most useful first.
	lines := []string{fmtSec(s.End - s.Start)}
	if h >= 28 {
		lines = []string{stageTitle(s.Stage), fmtSec(s.End - s.Start)}
	}
	if h >= 42 && laneKind == "thread" {
		lines = append(lines, scenario.TaskLabel(s.Task))
	}
	if s.Moved() && h >= 42 {
		lines = append(lines, fmt.Sprintf("→ thread %d", s.ThreadEnd))
	}
	if h < 14 {
		lines = nil
	}
	top := y0 + h/2 - float64(len(lines)-1)*6.5 + 4
	for i, line := range lines {
		fmt.Fprintf(b, `<text x="%.1f" y="%.2f" text-anchor="middle" fill="%s" font-size="10">%s</text>`+"\n", cx, top+float64(i)*13, fg, esc(line))
	}
}

func legendStages(d *Diagram) []scenario.Stage {
	if d.Note != "" {
		return slices.DeleteFunc(slices.Clone(scenario.Stages), func(s scenario.Stage) bool { return s == scenario.StageReady })
	}
	if d.Server != nil {
		return append(slices.Clone(scenario.Stages), scenario.StageDelay, scenario.StageWrite)
	}
	return scenario.Stages
}

// legendItemWidth: a swatch and its label, at about 6px a character.
func legendItemWidth(label string) float64 { return 28 + 6*float64(len(label)) }

func legendWidth(d *Diagram) float64 {
	w := 0.0
	for _, st := range legendStages(d) {
		w += legendItemWidth(styles[st].label)
	}
	return w
}

// stageTitle: the article's words.
func stageTitle(stage scenario.Stage) string {
	switch stage {
	case scenario.StageConnect:
		return "Connecting"
	case scenario.StageResponse:
		return "Waiting to read"
	case scenario.StageCompute:
		return "Working"
	case scenario.StageReady:
		return "Ready"
	}
	return string(stage)
}

// tickTimes: every task stage's end, and the run's.
func (d *Diagram) tickTimes() []time.Duration {
	var ts []time.Duration
	for _, t := range d.Tasks {
		for _, s := range t.Segments {
			ts = append(ts, s.End)
		}
	}
	ts = append(ts, d.Makespan)
	slices.Sort(ts)
	return slices.Compact(ts)
}

func fmtSec(t time.Duration) string {
	if t >= time.Second {
		return fmt.Sprintf("%.3f s", t.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(t)/float64(time.Millisecond))
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
