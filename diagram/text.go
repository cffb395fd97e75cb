package diagram

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"asynctrace/scenario"
)

// The article's colours (its legend: connecting, waiting to read, working),
// and a lighter grey for the wait for a thread that its drawings hide.
const (
	ColorConnect  = "#37abc8"
	ColorResponse = "#b3b3b3"
	ColorCompute  = "#c87137"
	ColorReady    = "#e3e3e3"
	ColorDelay    = "#dddddd"
	ColorWrite    = "#555555"
)

// stageStyle is how a stage is drawn: its legend label, its colour, and a
// character that reads without colour.
type stageStyle struct {
	label string
	color string
	char  byte
}

var styles = map[scenario.Stage]stageStyle{
	scenario.StageConnect:  {"connecting", ColorConnect, '='},
	scenario.StageResponse: {"waiting to read", ColorResponse, '.'},
	scenario.StageReady:    {"ready, waiting for a thread", ColorReady, ':'},
	scenario.StageCompute:  {"working", ColorCompute, '#'},
	scenario.StageDelay:    {"server delay", ColorDelay, '-'},
	scenario.StageWrite:    {"server write", ColorWrite, 'w'},
}

// TextOptions shape the terminal diagram.
type TextOptions struct {
	Width int  // columns, default 100
	Rows  int  // time rows, default: half a unit each, at most 48
	Color bool // ANSI colours, for a terminal
}

// WriteText draws the diagram for a terminal: time runs down; task lanes
// on the left, OS thread lanes on the right.
func (d *Diagram) WriteText(w io.Writer, opt TextOptions) error {
	if opt.Width <= 0 {
		opt.Width = 100
	}
	if d.many() {
		return d.writeOccupancyText(w, opt)
	}
	step := d.textStep(opt.Rows)
	rows := max(1, int(math.Ceil(float64(d.Makespan)/float64(step))))

	const timeW = 9 // "  22.0u |"
	lanes := len(d.Tasks) + len(d.Threads)
	laneW := min(8, max(1, (opt.Width-timeW-3)/max(1, lanes)-1))

	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d tasks, %s: makespan %v (expected %v)\n",
		d.Scenario, len(d.Tasks), d.knobs(), d.Makespan.Round(time.Millisecond), d.Expected)
	if d.Note != "" {
		fmt.Fprintln(&b, d.Note)
	}
	fmt.Fprintf(&b, "time runs down, one row = %s\n", d.fmtUnits(step))

	// Headers: task labels, then OS thread ids (or T1… with a key if narrow).
	header := func(label string) string {
		if len(label) > laneW {
			label = label[len(label)-laneW:]
		}
		return fmt.Sprintf("%-*s ", laneW, label)
	}
	var key []string
	b.WriteString(strings.Repeat(" ", timeW))
	for _, t := range d.Tasks {
		b.WriteString(header(t.Label()))
	}
	b.WriteString("| ")
	for i, l := range d.Threads {
		label := strconv.FormatInt(l.Thread, 10)
		if len(label) > laneW {
			label = fmt.Sprintf("T%d", i+1)
			key = append(key, fmt.Sprintf("%s = OS thread %d", label, l.Thread))
		}
		b.WriteString(header(label))
	}
	b.WriteString("\n")

	waits := d.waits()
	marks := waitMarks(waits, step)
	for r := range rows {
		from, to := time.Duration(r)*step, time.Duration(r+1)*step
		fmt.Fprintf(&b, "%7s |", d.fmtUnits(from))
		for _, t := range d.Tasks {
			b.WriteString(cell(t.Segments, from, to, laneW, opt.Color, marks[t.Index][r]))
		}
		b.WriteString("| ")
		for _, l := range d.Threads {
			b.WriteString(cell(l.Segments, from, to, laneW, opt.Color, ""))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%7s  end of the run\n", d.fmtUnits(d.Makespan))
	d.textLegend(&b, opt.Color, key)
	textWaits(&b, waits, d.Unit, opt.Width)
	_, err := io.WriteString(w, b.String())
	return err
}

// textLegend writes what the characters mean, and the lanes' key.
func (d *Diagram) textLegend(b *strings.Builder, color bool, key []string) {
	var legend []string
	for _, st := range scenario.Stages {
		if st == scenario.StageReady && d.Note != "" {
			continue // printed lines know no ready time
		}
		s := styles[st]
		legend = append(legend, paint(string(s.char), s.color, color)+" "+s.label)
	}
	b.WriteString(strings.Join(legend, "  ") + "\n")
	if d.hasMoves() {
		b.WriteString("> the goroutine moved to another OS thread during this stage\n")
	}
	for _, k := range key {
		b.WriteString(k + "\n")
	}
}

// cell is one lane in one row: the stage that covers most of [from, to);
// in a ready stage, mark if it fits ("->task3").
func cell(segments []scenario.Segment, from, to time.Duration, width int, color bool, mark string) string {
	var best *scenario.Segment
	var bestCover time.Duration
	for i := range segments {
		s := &segments[i]
		cover := min(s.End, to) - max(s.Start, from)
		if cover > bestCover {
			best, bestCover = s, cover
		}
	}
	if best == nil || bestCover < (to-from)/4 {
		return strings.Repeat(" ", width) + " "
	}
	st := styles[best.Stage]
	text := strings.Repeat(string(st.char), width)
	if best.Stage == scenario.StageReady && mark != "" && len(mark) < width {
		text = ":" + mark + text[len(mark)+1:]
	}
	if best.Moved() && best.End <= to {
		text = text[:width-1] + ">"
	}
	return paint(text, st.color, color) + " "
}

func (d *Diagram) hasMoves() bool {
	for _, t := range d.Tasks {
		for _, s := range t.Segments {
			if s.Moved() {
				return true
			}
		}
	}
	return false
}

// textStep: half a unit per row, unless that makes too many rows.
func (d *Diagram) textStep(rows int) time.Duration {
	if rows > 0 {
		return max(time.Microsecond, d.Makespan/time.Duration(rows))
	}
	if d.Unit > 0 {
		for _, s := range []time.Duration{d.Unit / 2, d.Unit, 2 * d.Unit} {
			if d.Makespan/s <= 48 {
				return s
			}
		}
	}
	return max(time.Microsecond, d.Makespan/48)
}

// fmtUnits writes a time in units where the unit is known.
func (d *Diagram) fmtUnits(t time.Duration) string {
	if d.Unit > 0 {
		return fmt.Sprintf("%.1fu", float64(t)/float64(d.Unit))
	}
	return t.Round(time.Millisecond).String()
}

// AutoColor says whether text written to w should be coloured: w is a
// terminal and NO_COLOR is not set.
func AutoColor(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// paint colours text's background on a terminal, with black or white text
// as the colour needs.
func paint(text, hex string, on bool) string {
	if !on {
		return text
	}
	var r, g, bl int
	fmt.Sscanf(hex, "#%02x%02x%02x", &r, &g, &bl)
	fg := "30"
	if r*299+g*587+bl*114 < 128000 {
		fg = "97"
	}
	return fmt.Sprintf("\x1b[48;2;%d;%d;%dm\x1b[%sm%s\x1b[0m", r, g, bl, fg, text)
}
