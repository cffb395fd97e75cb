package diagram

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"asynctrace/scenario"
)

// waits are the run's ready times explained (scenario.Timeline.Waits),
// for the marks from each ready stage to what held it; none where the
// figure draws occupancy instead of lanes (and none come from a Tokio
// run's printed lines, which have no ready stage).
func (d *Diagram) waits() []scenario.Wait {
	if d.many() {
		return nil
	}
	return d.Waits()
}

// shared says the holder only shared the busy instants with one that
// ended sooner: it held another P, and took no share of the wait.
func shared(h scenario.Holder) bool { return h.Covered < 50*time.Microsecond }

// svgWaits draws, from each ready stage, a connector to every compute
// that held the thread or P its task could run on: level, near the start
// of the part of the wait the compute covered (time runs down in both
// halves), from the
// ready stage's right edge to the compute's lane, an arrowhead at the
// compute. Holders that only held another P are drawn dotted.
func (d *Diagram) svgWaits(b *strings.Builder, l layout) {
	for k, w := range l.waits {
		ti := slices.IndexFunc(d.Tasks, func(t scenario.Task) bool { return t.Index == w.Task })
		if ti < 0 {
			continue
		}
		x0 := l.taskX[ti] + l.g.laneW
		for _, h := range w.Holders {
			th := slices.IndexFunc(d.Threads, func(ln scenario.Lane) bool { return ln.Thread == h.Thread })
			if th < 0 {
				continue
			}
			x1 := l.threadX[th]
			// Near the top of the part of the wait the compute covered,
			// clear of the stages' labels (centred in them); waits that
			// share moments a few pixels apart, so that their
			// connectors do not lie on one another.
			top, bottom := l.y(max(w.Ready.Start, h.Start)), l.y(min(w.Ready.End, h.End))
			y := min(top+5+6*float64(k), (top+bottom)/2)
			dash, colour := "", "#222222"
			if shared(h) {
				dash, colour = ` stroke-dasharray="2 2"`, "#555555"
			}
			fmt.Fprintf(b, `<g class="wait" data-task="%s" data-holder="%s" data-stage="%s" data-thread="%d" data-covered-us="%d" data-overlap-us="%d">`+"\n",
				scenario.TaskLabel(w.Task), scenario.TaskLabel(h.Task), h.Stage, h.Thread, h.Covered.Microseconds(), h.Overlap.Microseconds())
			fmt.Fprintf(b, "<title>%s</title>\n", esc(waitTitle(w, h, d.Unit)))
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.2f" x2="%.1f" y2="%.2f" stroke="#ffffff" stroke-opacity="0.8" stroke-width="3.5"/>`+"\n", x0, y, x1-6, y)
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.2f" x2="%.1f" y2="%.2f" stroke="%s" stroke-width="1.2"%s/>`+"\n", x0, y, x1-6, y, colour, dash)
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.2f" r="2.5" fill="%s"/>`+"\n", x0, y, colour)
			fmt.Fprintf(b, `<path d="M %.1f %.2f l -7 -4 l 0 8 z" fill="%s"/>`+"\n", x1, y, colour)
			b.WriteString("</g>\n")
		}
	}
}

// waitTitle is a connector's tooltip: "task1 waited for task3's compute:
// 4.0u of its 8.0u".
func waitTitle(w scenario.Wait, h scenario.Holder, unit time.Duration) string {
	name := fmt.Sprintf("%s's %s", scenario.TaskLabel(h.Task), h.Stage)
	switch {
	case shared(h):
		return fmt.Sprintf("%s held another P for %s of %s's wait", name, fmtWaitPart(h.Overlap, unit), scenario.TaskLabel(w.Task))
	case h.Handoff:
		return fmt.Sprintf("%s waited for sysmon to hand over the P of %s: %s of its %s", scenario.TaskLabel(w.Task), name,
			fmtWaitPart(h.Covered, unit), fmtWaitPart(w.Ready.Len(), unit))
	}
	return fmt.Sprintf("%s waited for %s: %s of its %s", scenario.TaskLabel(w.Task), name, fmtWaitPart(h.Covered, unit), fmtWaitPart(w.Ready.Len(), unit))
}

// fmtWaitPart writes a part of a wait in units where the unit is known.
func fmtWaitPart(t, unit time.Duration) string {
	if unit > 0 && t >= unit/20 {
		return fmt.Sprintf("%.1fu", float64(t)/float64(unit))
	}
	return fmtSec(t)
}

// waitMarks places, for each task (by index), a mark in the row of its
// ready lane where each compute that held it began to: "->task3". The
// row is the first mostly in that part of the wait; two marks that fall
// in one row go one under the other.
func waitMarks(waits []scenario.Wait, step time.Duration) map[int]map[int]string {
	marks := map[int]map[int]string{}
	for _, w := range waits {
		rows := map[int]string{}
		for _, h := range w.Holders {
			if shared(h) {
				continue
			}
			r := int((max(w.Ready.Start, h.Start) + step/2) / step)
			for rows[r] != "" {
				r++
			}
			if time.Duration(r)*step < w.Ready.End {
				rows[r] = "->" + scenario.TaskLabel(h.Task)
			}
		}
		marks[w.Task] = rows
	}
	return marks
}

// textWaits writes what the marks mean, and each wait explained in a
// line (wrapped to width).
func textWaits(b *strings.Builder, waits []scenario.Wait, unit time.Duration, width int) {
	if len(waits) == 0 {
		return
	}
	b.WriteString("->task3 in a ready lane: from here the task waited for task3's compute (it held the thread or P)\n")
	b.WriteString("ready time explained:\n")
	for _, w := range waits {
		line := "  "
		for _, word := range strings.Fields(w.Explain(unit)) {
			if len(line)+1+len(word) > width && strings.TrimSpace(line) != "" {
				b.WriteString(line + "\n")
				line = "   "
			}
			if strings.TrimSpace(line) != "" {
				line += " "
			}
			line += word
		}
		b.WriteString(line + "\n")
	}
}
