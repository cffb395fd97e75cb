package diagram

import (
	"bytes"
	"encoding/xml"
	"math"
	"strconv"
	"testing"
	"time"

	"asynctrace/scenario"
	"asynctrace/tracing"
)

// rect is a segment of an SVG parsed back.
type rect struct {
	lane, label, stage, fill string
	x, y, w, h               float64
	startUS, endUS           int64
}

func parseSVG(t *testing.T, d *Diagram) (segments []rect, root xml.StartElement) {
	t.Helper()
	var buf bytes.Buffer
	if err := d.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
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
		if el.Name.Local == "svg" {
			root = el
		}
		if el.Name.Local != "rect" || attr(el, "class") != "segment" {
			continue
		}
		f := func(k string) float64 { v, _ := strconv.ParseFloat(attr(el, k), 64); return v }
		i := func(k string) int64 { v, _ := strconv.ParseInt(attr(el, k), 10, 64); return v }
		segments = append(segments, rect{
			lane: attr(el, "data-lane"), label: attr(el, "data-label"), stage: attr(el, "data-stage"), fill: attr(el, "fill"),
			x: f("x"), y: f("y"), w: f("width"), h: f("height"), startUS: i("data-start-us"), endUS: i("data-end-us"),
		})
	}
	if root.Name.Local != "svg" {
		t.Fatal("no <svg> element: not well-formed XML")
	}
	return segments, root
}

func attr(el xml.StartElement, name string) string {
	for _, a := range el.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func TestSVGGeometry(t *testing.T) {
	for _, sc := range scenario.All {
		d := load(t, string(sc))
		segs, root := parseSVG(t, d)
		if attr(root, "xmlns") != "http://www.w3.org/2000/svg" {
			t.Errorf("%s: xmlns %q", sc, attr(root, "xmlns"))
		}
		pxPerUS := float64(svgPxPerUnit) / float64(d.Unit.Microseconds())
		for _, r := range segs {
			// To scale: y from the start time, height from the duration.
			wantY := svgTop + float64(r.startUS)*pxPerUS
			wantH := float64(r.endUS-r.startUS) * pxPerUS
			if r.lane == "server" {
				wantH = math.Max(wantH, 2) // a write of microseconds stays visible
			}
			if math.Abs(r.y-wantY) > 0.01 || math.Abs(r.h-wantH) > 0.01 {
				t.Errorf("%s %s/%s: y=%.2f h=%.2f, want %.2f, %.2f", sc, r.lane, r.stage, r.y, r.h, wantY, wantH)
			}
			want := map[string]string{
				tracing.SpanConnect: ColorConnect, tracing.SpanResponse: ColorResponse, tracing.SpanCompute: ColorCompute,
				string(scenario.StageReady): ColorReady, tracing.SpanDelay: ColorDelay, tracing.SpanWrite: ColorWrite,
			}[r.stage]
			if r.fill != want {
				t.Errorf("%s %s: fill %s, want %s", sc, r.stage, r.fill, want)
			}
		}
		// Per task lane: connect, response, ready, compute from top to bottom;
		// connect lasts 2u and compute 4u: half the height.
		byLane := map[string][]rect{}
		for _, r := range segs {
			if r.lane == "task" {
				byLane[r.label] = append(byLane[r.label], r)
			}
		}
		var lastX float64
		for i := 1; i <= 3; i++ {
			rs := byLane[scenario.TaskLabel(i)]
			var conn, comp rect
			for j, r := range rs {
				// y and h are written to 0.01 px: three roundings of 0.005.
				if j > 0 && r.y < rs[j-1].y+rs[j-1].h-0.016 {
					t.Errorf("%s task%d: %s above the end of %s", sc, i, r.stage, rs[j-1].stage)
				}
				if r.x != rs[0].x {
					t.Errorf("%s task%d: segments in different columns", sc, i)
				}
				switch r.stage {
				case tracing.SpanConnect:
					conn = r
				case tracing.SpanCompute:
					comp = r
				}
			}
			if ratio := comp.h / conn.h; ratio < 1.9 || ratio > 2.1 {
				t.Errorf("%s task%d: compute/connect height %.2f, want 2 (4u / 2u)", sc, i, ratio)
			}
			if rs[0].x <= lastX {
				t.Errorf("%s: task%d not right of task%d", sc, i, i-1)
			}
			lastX = rs[0].x
		}
		// Thread lanes are right of every task lane.
		for _, r := range segs {
			if r.lane == "thread" && r.x <= lastX {
				t.Errorf("%s: thread lane at x=%.0f, left of a task lane", sc, r.x)
			}
		}
	}
}

// single-thread: three orange blocks in series on one thread lane, the
// article's figure.
func TestSVGSingleThreadStair(t *testing.T) {
	d := load(t, "single-thread")
	segs, _ := parseSVG(t, d)
	var computes []rect
	for _, r := range segs {
		if r.lane == "thread" {
			computes = append(computes, r)
		}
	}
	if len(computes) != 3 {
		t.Fatalf("%d segments on thread lanes, want 3 computes", len(computes))
	}
	for i, c := range computes {
		if c.stage != tracing.SpanCompute || c.fill != ColorCompute || c.x != computes[0].x || c.label != strconv.FormatInt(d.Threads[0].Thread, 10) {
			t.Errorf("thread segment %d: %+v", i, c)
		}
		if i > 0 && c.y < computes[i-1].y+computes[i-1].h-0.01 {
			t.Errorf("compute %d overlaps compute %d", i+1, i)
		}
		if h := c.h / svgPxPerUnit; h < 3.99 || h > 4.1 {
			t.Errorf("compute %d is %.2fu high, want 4u", i+1, h)
		}
	}
	if d.Unit != 50*time.Millisecond {
		t.Errorf("unit %v", d.Unit)
	}
}
