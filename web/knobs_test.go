package web

import (
	"errors"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"asynctrace/client"
	"asynctrace/scenario"
)

func TestParseKnobs(t *testing.T) {
	k, err := ParseKnobs(url.Values{})
	if err != nil || k != DefaultKnobs {
		t.Errorf("no parameters: %+v, %v; want the defaults %+v", k, err, DefaultKnobs)
	}
	k, err = ParseKnobs(mustQuery(t, "scenario=os-threads&tasks=10000&unit=200ms&procs=64&compute=sleep"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Knobs{Runtime: scenario.Go, Scenario: scenario.OSThreads, Tasks: 10000, Unit: 200 * time.Millisecond, Procs: 64, Compute: scenario.Sleep}); k != want {
		t.Errorf("knobs %+v, want %+v", k, want)
	}
	k, err = ParseKnobs(mustQuery(t, "runtime=tokio&scenario=multi-thread&procs=3"))
	if want := (Knobs{Runtime: scenario.Tokio, Scenario: scenario.MultiThread, Tasks: 3, Unit: 50 * time.Millisecond, Procs: 3}); err != nil || k != want {
		t.Errorf("runtime=tokio: %+v, %v; want %+v", k, err, want)
	}

	// Every knob, with what a hostile or careless request sends: the error
	// names the knob.
	for _, tt := range []struct{ query, field string }{
		{"scenario=bogus", "scenario"},
		{"scenario=single-thread+-max-threads+1", "scenario"},
		{"scenario=SYNC", "scenario"},
		{"tasks=0", "tasks"},
		{"tasks=10001", "tasks"},
		{"tasks=-3", "tasks"},
		{"tasks=1e9", "tasks"},
		{"tasks=3+-v", "tasks"},
		{"tasks=3%0A-addr", "tasks"},
		{"tasks=99999999999999999999999", "tasks"},
		{"tasks=3&tasks=4", "tasks"},
		{"unit=0s", "unit"},
		{"unit=1h", "unit"},
		{"unit=500us", "unit"},
		{"unit=50", "unit"},
		{"unit=50ms+-addr+evil:1", "unit"},
		{"unit=-1s", "unit"},
		{"procs=-1", "procs"},
		{"procs=257", "procs"},
		{"procs=1%3Brm", "procs"},
		{"compute=fast", "compute"},
		{"runtime=rust", "runtime"},
		{"runtime=Tokio", "runtime"},
		{"runtime=tokio&runtime=go", "runtime"},
		{"runtime=tokio+-addr+evil:1", "runtime"},
		{"compute=hold%0A-v", "compute"},
		{"compute=--help", "compute"},
		// A parameter that is no knob: misspelt, or a flag of the client's
		// the page sets itself.
		{"task=5000", "task"},
		{"scenario=sync&Tasks=3", "Tasks"},
		{"addr=10.0.0.1:1", "addr"},
		{"run=1", "run"},
		{strings.Repeat("x", 100) + "=1", strings.Repeat("x", 40) + "…"},
	} {
		_, err := ParseKnobs(mustQuery(t, tt.query))
		var fe FieldErrors
		if !errors.As(err, &fe) || fe[tt.field] == "" {
			t.Errorf("%s: %v, want an error on %s", tt.query, err, tt.field)
		}
		if len(err.Error()) > 400 {
			t.Errorf("%s: error of %d bytes: the request's value is not clipped", tt.query, len(err.Error()))
		}
	}
}

func mustQuery(t *testing.T, q string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Check refuses what would run for hours, or what the machine's limits
// stop, with one message naming the knob.
func TestKnobsCheck(t *testing.T) {
	k := Knobs{Scenario: scenario.Sync, Tasks: 10000, Unit: time.Second}
	l := client.ReadLimits()
	err := k.Check(l)
	var fe FieldErrors
	if !errors.As(err, &fe) || !strings.Contains(fe["tasks"], "expected to take") {
		t.Errorf("sync, 10,000 tasks at 1s: %v, want the expected time named on tasks", err)
	}
	if err := DefaultKnobs.Check(l); err != nil {
		t.Errorf("the defaults: %v", err)
	}
	// os-threads past Go's thread limit: the page raises it for the child.
	k = Knobs{Scenario: scenario.OSThreads, Tasks: 10000, Unit: 10 * time.Millisecond, Compute: scenario.Sleep}
	a := k.ChildArgs("127.0.0.1:1", "/tmp/x")
	i := slices.Index(a, "-max-threads")
	if i < 0 || a[i+1] != "10128" {
		t.Errorf("os-threads 10,000 tasks: args %v, want -max-threads 10128", a)
	}
}

// Tokio's runs: a compute mode the article's programs do not have is
// refused on the compute knob, saying so (client.PeerProgram's words);
// the expected makespan is Tokio's, its defaults the client's (hold; a
// worker or rayon thread per core).
func TestKnobsCheckTokio(t *testing.T) {
	l := client.ReadLimits()
	for _, tt := range []struct {
		k    Knobs
		says string // "": accepted
	}{
		{Knobs{Runtime: scenario.Tokio, Scenario: scenario.SingleThread, Tasks: 3, Unit: time.Millisecond}, ""},
		{Knobs{Runtime: scenario.Tokio, Scenario: scenario.OSThreads, Tasks: 3, Unit: time.Millisecond, Compute: scenario.Hold}, ""},
		{Knobs{Runtime: scenario.Tokio, Scenario: scenario.MultiThread, Tasks: 3, Unit: time.Millisecond, Compute: scenario.Sleep}, ""},
		{Knobs{Runtime: scenario.Tokio, Scenario: scenario.SingleThread, Tasks: 3, Unit: time.Millisecond, Compute: scenario.Sleep}, "has no Tokio program"},
		{Knobs{Runtime: scenario.Tokio, Scenario: scenario.MultiThread, Tasks: 3, Unit: time.Millisecond, Compute: scenario.CPU}, "has no Tokio program"},
		{Knobs{Runtime: scenario.Tokio, Scenario: scenario.OSThreads, Tasks: 3, Unit: time.Millisecond, Compute: scenario.Syscall}, "has no Tokio program"},
	} {
		err := tt.k.Check(l)
		var fe FieldErrors
		switch {
		case tt.says == "" && err != nil:
			t.Errorf("%+v: %v", tt.k, err)
		case tt.says != "" && (!errors.As(err, &fe) || !strings.Contains(fe["compute"], tt.says)):
			t.Errorf("%+v: %v, want on compute %q", tt.k, err, tt.says)
		}
	}
	// rayon's two threads run the tasks two at a time: 28u; Go's
	// os-threads gives each task its thread: 14u.
	for rt, want := range map[scenario.Runtime]time.Duration{scenario.Go: 14 * time.Second, scenario.Tokio: 28 * time.Second} {
		k := Knobs{Runtime: rt, Scenario: scenario.OSThreads, Tasks: 3, Unit: time.Second, Procs: 2}
		if exp, formula := k.params().Expected(); exp != want {
			t.Errorf("%s os-threads, 2 threads: expected %v (%s), want %v", rt, exp, formula, want)
		}
	}
	if p := (Knobs{Runtime: scenario.Tokio, Scenario: scenario.OSThreads, Tasks: 3, Unit: time.Second}).params(); p.Compute != scenario.Hold || p.Procs != runtime.NumCPU() {
		t.Errorf("Tokio os-threads' defaults: compute %s, %d threads; want hold, one per core", p.Compute, p.Procs)
	}
}

// The child's command line holds only the client's flags, each valued
// from a parsed knob; the article's lines (-v) only where there are few.
func TestKnobsArgs(t *testing.T) {
	k := Knobs{Scenario: scenario.MultiThread, Tasks: 3, Unit: 50 * time.Millisecond, Procs: 3, Compute: scenario.Hold}
	got := strings.Join(k.ChildArgs("127.0.0.1:9", "/d"), " ")
	want := "-addr 127.0.0.1:9 -scenario multi-thread -tasks 3 -unit 50ms -procs 3 -compute hold -json -svg /d -svg-compact -jaeger-ui  -v"
	if got != want {
		t.Errorf("args:\n %s\nwant\n %s", got, want)
	}
	k.Runtime = scenario.Tokio
	if got := strings.Join(k.ChildArgs("127.0.0.1:9", "/d"), " "); got != "-addr 127.0.0.1:9 -runtime tokio "+strings.TrimPrefix(want, "-addr 127.0.0.1:9 ") {
		t.Errorf("Tokio's args: %s", got)
	}
	k.Runtime = scenario.Go
	k.Tasks = client.LineTasks + 1
	if a := k.ChildArgs("a", "b"); slices.Contains(a, "-v") || !slices.Contains(a, "-progress-every") {
		t.Errorf("%d tasks: %v; want the progress line, four times a second", k.Tasks, a)
	}
}
