package diagram

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"asynctrace/scenario"
)

// A run's spans and its execution trace, recorded together by
// `client -exectrace` against a real server and Jaeger (u = 50ms).
func loadExec(t *testing.T, name string) (*Diagram, *ExecTrace) {
	t.Helper()
	d := load(t, filepath.Join("exectrace", name))
	f, err := os.Open(filepath.Join("testdata", "exectrace", name+".trace"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, err := ReadExecTrace(f)
	if err != nil {
		t.Fatal(err)
	}
	return d, x
}

func execFailed(c ExecCheck) string { return strings.Join(scenario.Failed(c.Checks), ", ") }

func TestCheckExecTrace(t *testing.T) {
	for _, name := range []string{"single-thread", "multi-thread"} {
		d, x := loadExec(t, name)
		c := d.CheckExecTrace(x)
		if f := execFailed(c); f != "" {
			t.Errorf("%s: failed %s:\n%v", name, f, c.Checks)
		}
		if len(c.Checks) != 4 {
			t.Errorf("%s: %d checks, want 4: %v", name, len(c.Checks), c.Checks)
		}
		t.Logf("%s: largest span-region difference %v, ready-runnable %v", name, c.RegionDiff, c.ReadyDiff)
	}
}

// The checks fail where the spans and the scheduler disagree.
func TestCheckExecTraceBroken(t *testing.T) {
	// A compute span 5 ms longer than its region.
	d, x := loadExec(t, "single-thread")
	seg := &d.Tasks[0].Segments[len(d.Tasks[0].Segments)-1]
	seg.End += 5 * time.Millisecond
	if f := execFailed(d.CheckExecTrace(x)); f != "exec regions" {
		t.Errorf("a compute 5ms too long: failed %q, want exec regions", f)
	}

	// A ready span 50 ms longer than the goroutine was runnable.
	d, x = loadExec(t, "single-thread")
	for i, s := range d.Tasks[1].Segments {
		if s.Stage == scenario.StageReady {
			d.Tasks[1].Segments[i].Start -= 50 * time.Millisecond
		}
	}
	if f := execFailed(d.CheckExecTrace(x)); !strings.Contains(f, "exec ready") {
		t.Errorf("a ready span 50ms too long: failed %q, want exec ready", f)
	}

	// Spans of goroutines the execution trace does not have.
	d, x = loadExec(t, "multi-thread")
	for i := range d.Tasks {
		d.Tasks[i].Goroutine += 1000
	}
	if f := execFailed(d.CheckExecTrace(x)); !strings.Contains(f, "exec regions") || !strings.Contains(f, "exec at once") {
		t.Errorf("other goroutines: failed %q, want exec regions and exec at once", f)
	}

	// Another trace's spans: no task logs its id.
	d, x = loadExec(t, "multi-thread")
	d.TraceID = strings.Repeat("0", 31) + "1"
	if f := execFailed(d.CheckExecTrace(x)); !strings.Contains(f, "exec tasks") {
		t.Errorf("another trace id: failed %q, want exec tasks", f)
	}

	// The single-thread run checked as if it had three Ps: the scheduler
	// ran one goroutine at a time, not the three computes the model wants.
	d, x = loadExec(t, "single-thread")
	d.Procs = 3
	if f := execFailed(d.CheckExecTrace(x)); f != "exec at once" {
		t.Errorf("one P checked as three: failed %q, want exec at once", f)
	}
}

func TestReadExecTraceGarbage(t *testing.T) {
	if _, err := ReadExecTrace(strings.NewReader("not a trace")); err == nil {
		t.Error("garbage read as an execution trace")
	}
}
