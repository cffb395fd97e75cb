package diagram

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"asynctrace/jaeger"
	"asynctrace/scenario"
	"asynctrace/tracing"
)

// testdata/<scenario>.json: real traces as Jaeger's API returned them, at
// u = 50ms (written by the end-to-end suite with ASYNCTRACE_DIAGRAMS_OUT).
func loadTrace(t *testing.T, scenario string) *jaeger.Trace {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", scenario+".json"))
	if err != nil {
		t.Fatal(err)
	}
	traces, err := jaeger.Decode(b)
	if err != nil || len(traces) != 1 {
		t.Fatalf("testdata %s: %v, %d traces", scenario, err, len(traces))
	}
	return &traces[0]
}

func build(t *testing.T, tr *jaeger.Trace) *Diagram {
	t.Helper()
	d, err := Build(tr.TraceID, FromJaeger(tr))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func load(t *testing.T, scenario string) *Diagram { return build(t, loadTrace(t, scenario)) }

func stages(segments []scenario.Segment) []string {
	var s []string
	for _, seg := range segments {
		s = append(s, string(seg.Stage))
	}
	return s
}

func TestBuildSingleThread(t *testing.T) {
	d := load(t, "single-thread")
	if d.Scenario != scenario.SingleThread || d.Compute != scenario.Hold || d.Procs != 1 || d.Unit != 50*time.Millisecond || len(d.Tasks) != 3 {
		t.Fatalf("header: %+v", d.Params)
	}
	// The stair: one OS thread lane, three computes one after another.
	if len(d.Threads) != 1 {
		t.Fatalf("%d thread lanes, want 1", len(d.Threads))
	}
	th := d.Threads[0]
	if got := stages(th.Segments); !slices.Equal(got, []string{"compute", "compute", "compute"}) {
		t.Errorf("thread lane stages %v, want three computes", got)
	}
	for i := 1; i < len(th.Segments); i++ {
		if th.Segments[i].Start < th.Segments[i-1].End {
			t.Errorf("compute %d starts before compute %d ends", i+1, i)
		}
	}
	// Every task went through the four stages; two waited for the thread
	// with their reply there, 4u and 8u.
	for _, task := range d.Tasks {
		if got := stages(task.Segments); !slices.Equal(got, []string{"connect", "response", "ready", "compute"}) {
			t.Errorf("%s stages %v", task.Label(), got)
		}
		if task.Locked {
			t.Errorf("%s locked in single-thread", task.Label())
		}
	}
	if got := d.StageTotal(scenario.StageReady); (got - 12*d.Unit).Abs() > 3*d.Unit/10 {
		t.Errorf("ready in all %v, want about 12u", got)
	}
	// The server's delay and write for each task.
	if len(d.Server) != 3 {
		t.Fatalf("%d tasks with server segments, want 3", len(d.Server))
	}
	for i, segs := range d.Server {
		if got := stages(segs); !slices.Equal(got, []string{tracing.SpanDelay, tracing.SpanWrite}) {
			t.Errorf("server segments of task%d: %v", i+1, got)
		}
	}
}

func TestBuildLocked(t *testing.T) {
	for _, tt := range []struct {
		scenario    string
		wantThreads int
	}{{"os-threads", 3}, {"sync", 1}} {
		d := load(t, tt.scenario)
		if len(d.Threads) != tt.wantThreads {
			t.Errorf("%s: %d thread lanes, want %d", tt.scenario, len(d.Threads), tt.wantThreads)
		}
		// Locked tasks hold their thread through every stage.
		n := 0
		for _, l := range d.Threads {
			n += len(l.Segments)
		}
		if n != 12 {
			t.Errorf("%s: %d segments on thread lanes, want all 12 stages", tt.scenario, n)
		}
		for _, task := range d.Tasks {
			if !task.Locked {
				t.Errorf("%s: %s not locked", tt.scenario, task.Label())
			}
		}
	}
}

func TestBuildMultiThread(t *testing.T) {
	d := load(t, "multi-thread")
	n := 0
	for _, l := range d.Threads {
		for _, s := range l.Segments {
			if s.Stage != scenario.StageCompute {
				t.Errorf("%s on a thread lane of an unlocked task", s.Stage)
			}
			n++
		}
	}
	if n != 3 || len(d.Threads) < 2 {
		t.Errorf("%d computes on %d thread lanes, want 3 on several", n, len(d.Threads))
	}
}

// A compute whose goroutine moved: it stays on the lane of the thread it
// started on, marked with the thread it ended on.
func TestBuildMovedCompute(t *testing.T) {
	tr := loadTrace(t, "multi-thread")
	moved := false
	for i, s := range tr.Spans {
		if s.OperationName == tracing.SpanCompute && !moved {
			tr.Spans[i].Tags = append(tr.Spans[i].Tags, jaeger.Tag{Key: string(tracing.KeyOSThreadIDEnd), Type: "int64", Value: float64(424242)})
			moved = true
		}
	}
	d := build(t, tr)
	found := false
	for _, l := range d.Threads {
		for _, s := range l.Segments {
			if s.Moved() {
				found = true
				if s.ThreadEnd != 424242 || l.Thread != s.Thread {
					t.Errorf("moved compute: lane %d, thread %d → %d", l.Thread, s.Thread, s.ThreadEnd)
				}
			}
		}
	}
	if !found {
		t.Error("no moved compute on the thread lanes")
	}
}

// A trace without a root, or without tasks, is an error, not a panic.
func TestBuildIncomplete(t *testing.T) {
	if _, err := Build("x", []Span{{ID: "1", Name: "task1"}}); err == nil {
		t.Error("Build without a root span: no error")
	}
	if _, err := Build("x", []Span{{ID: "1", Name: tracing.ScenarioSpanName(scenario.Sync)}}); err == nil {
		t.Error("Build without task spans: no error")
	}
}
