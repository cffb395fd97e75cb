package diagram

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// findChromium: $CHROMIUM, or a Chromium or Chrome on the PATH.
func findChromium() string {
	if c := os.Getenv("CHROMIUM"); c != "" {
		return c
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// A real browser draws the single-thread SVG as the article's figure: three
// orange blocks in series on the one thread lane.
func TestSVGInChromium(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		t.Skip("no chromium found (Debian's package chromium, which .ci/run installs, or $CHROMIUM): cannot render the SVG in a browser")
	}
	d := load(t, "single-thread")
	dir := t.TempDir()
	svg := filepath.Join(dir, "single-thread.svg")
	f, err := os.Create(svg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteSVG(f); err != nil {
		t.Fatal(err)
	}
	f.Close()

	l := d.layout(SVGOptions{})
	shot := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Flags as for a machine without network, running as root.
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--hide-scrollbars", "--force-device-scale-factor=1",
		fmt.Sprintf("--window-size=%.0f,%.0f", l.width, l.height), "--screenshot="+shot, "file://"+svg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", chromium, err, out)
	}
	pf, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil {
		t.Fatal(err)
	}

	// Walk down the thread lane, near its left edge (clear of the labels),
	// and count the runs of the compute colour.
	x := int(l.threadX[0]) + 6
	var runs []image.Point // start and end y of each orange run
	in := false
	for y := svgTop; y < int(l.y(d.Makespan))+5; y++ {
		orange := near(img, x, y, 0xc8, 0x71, 0x37)
		switch {
		case orange && !in:
			runs = append(runs, image.Point{X: y, Y: y})
			in = true
		case orange:
			runs[len(runs)-1].Y = y
		default:
			in = false
		}
	}
	if len(runs) != 3 {
		t.Fatalf("%d orange runs down the thread lane at x=%d, want 3: %v", len(runs), x, runs)
	}
	// Each about 4u high, the first from 10u: where the model put them.
	for i, r := range runs {
		seg := d.Threads[0].Segments[i]
		if wantTop := int(l.y(seg.Start)); abs(r.X-wantTop) > 2 {
			t.Errorf("block %d starts at y=%d, want %d", i+1, r.X, wantTop)
		}
		if h := float64(r.Y-r.X+1) / svgPxPerUnit; h < 3.8 || h > 4.2 {
			t.Errorf("block %d is %.2fu high, want 4u", i+1, h)
		}
	}
	// The task lanes show the same: task lane 1's connect is the article's blue.
	if cx, cy := int(l.taskX[0])+6, int(l.y(d.Tasks[0].Segments[0].Start))+3; !near(img, cx, cy, 0x37, 0xab, 0xc8) {
		t.Errorf("task1's connect at (%d,%d) is %v, want #37abc8", cx, cy, img.At(cx, cy))
	}
}

func near(img image.Image, x, y int, r, g, b uint32) bool {
	cr, cg, cb, _ := img.At(x, y).RGBA()
	d := func(a, b uint32) bool { return abs(int(a>>8)-int(b)) <= 12 }
	return d(cr, r) && d(cg, g) && d(cb, b)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
