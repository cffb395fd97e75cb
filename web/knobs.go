package web

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"asynctrace/client"
	"asynctrace/scenario"
)

// The knobs' bounds. A run the page starts is a child process on this
// machine: it must end in minutes and fit in the machine's limits.
const (
	MaxTasks    = 10000
	MinUnit     = time.Millisecond
	MaxUnit     = 2 * time.Second
	MaxProcs    = 256
	MaxExpected = 5 * time.Minute // the longest run the page starts
)

// Knobs are a run's settings, named as the client's flags are; the page's
// URL carries them as query parameters of those names.
type Knobs struct {
	Runtime  scenario.Runtime  `json:"runtime"` // go, or tokio: the article's own programs
	Scenario scenario.Scenario `json:"scenario"`
	Tasks    int               `json:"tasks"`
	Unit     time.Duration     `json:"-"`
	Procs    int               `json:"procs"`   // GOMAXPROCS, Tokio's workers or rayon's threads; 0: the default
	Compute  scenario.Compute  `json:"compute"` // "": the scenario's default
}

// DefaultKnobs are the article's: single-thread, three tasks, at a unit
// short enough to watch (22u = 1.1 s).
var DefaultKnobs = Knobs{Runtime: scenario.Go, Scenario: scenario.SingleThread, Tasks: 3, Unit: 50 * time.Millisecond}

// knobNames are the parameters ParseKnobs reads: the client's flag names.
var knobNames = []string{"runtime", "scenario", "tasks", "unit", "procs", "compute"}

// FieldErrors says what is wrong with each knob, by parameter name.
type FieldErrors map[string]string

func (e FieldErrors) Error() string {
	// The knobs in the form's order, then the parameters that are none.
	keys := slices.Clone(knobNames)
	var others []string
	for k := range e {
		if !slices.Contains(knobNames, k) {
			others = append(others, k)
		}
	}
	slices.Sort(others)
	s := ""
	for _, k := range append(keys, others...) {
		if m, ok := e[k]; ok {
			if s != "" {
				s += "; "
			}
			s += k + ": " + m
		}
	}
	return s
}

// ParseKnobs reads the knobs from v (a query or a form): missing ones take
// DefaultKnobs' values; every present one must be exactly one value of its
// kind within its bounds. A parameter that is no knob is an error too,
// named: a misspelt knob must not run the default.
func ParseKnobs(v url.Values) (Knobs, error) {
	k := DefaultKnobs
	errs := FieldErrors{}
	for name := range v {
		if !slices.Contains(knobNames, name) {
			errs[clip(name)] = "not a knob: the knobs are " + strings.Join(knobNames, ", ")
		}
	}
	get := func(name string) (string, bool) {
		vals, ok := v[name]
		if !ok || len(vals) == 1 && vals[0] == "" {
			return "", false
		}
		if len(vals) > 1 {
			errs[name] = "given more than once"
			return "", false
		}
		return vals[0], true
	}
	if s, ok := get("runtime"); ok {
		r, err := scenario.ParseRuntime(s)
		if err != nil {
			errs["runtime"] = fmt.Sprintf("%q is none of %s", clip(s), scenario.Names(scenario.Runtimes))
		}
		k.Runtime = r
	}
	if s, ok := get("scenario"); ok {
		sc, err := scenario.Parse(s)
		if err != nil {
			errs["scenario"] = fmt.Sprintf("%q is none of %s", clip(s), scenario.Names(scenario.All))
		}
		k.Scenario = sc
	}
	// whole reads a whole-number knob within [lo, hi].
	whole := func(name string, lo, hi int, loMeans string) (int, bool) {
		s, ok := get(name)
		if !ok {
			return 0, false
		}
		n, err := strconv.Atoi(s)
		switch {
		case err != nil:
			errs[name] = fmt.Sprintf("%q is not a whole number", clip(s))
		case n < lo || n > hi:
			errs[name] = fmt.Sprintf("%d is not between %d%s and %d", n, lo, loMeans, hi)
		}
		return n, true
	}
	if n, ok := whole("tasks", 1, MaxTasks, ""); ok {
		k.Tasks = n
	}
	if s, ok := get("unit"); ok {
		u, err := time.ParseDuration(s)
		switch {
		case err != nil:
			errs["unit"] = fmt.Sprintf("%q is not a duration such as 50ms or 1s", clip(s))
		case u < MinUnit || u > MaxUnit:
			errs["unit"] = fmt.Sprintf("%v is not between %v and %v", u, MinUnit, MaxUnit)
		}
		k.Unit = u
	}
	if n, ok := whole("procs", 0, MaxProcs, " (the scenario's default)"); ok {
		k.Procs = n
	}
	if s, ok := get("compute"); ok {
		c, err := scenario.ParseCompute(s)
		if err != nil {
			errs["compute"] = fmt.Sprintf("%q is none of %s", clip(s), scenario.Names(scenario.Computes))
		}
		k.Compute = c
	}
	if len(errs) > 0 {
		return k, errs
	}
	return k, nil
}

// Check says whether the page may start the run on a machine with limits
// l (client.ReadLimits): its expected makespan within MaxExpected, and
// the machine's limits (client.Preflight), with the thread limit the child
// is given.
func (k Knobs) Check(l client.Limits) error {
	if k.Runtime == scenario.Tokio {
		// The article's programs compute as the article does: which
		// modes have a program, the client says.
		if _, _, err := client.PeerProgram(k.Scenario, cmp.Or(k.Compute, scenario.Hold)); err != nil {
			return FieldErrors{"compute": err.Error()}
		}
	}
	p := k.params()
	if exp, formula := p.Expected(); exp > MaxExpected {
		return FieldErrors{"tasks": fmt.Sprintf("%s with %d tasks at u = %v is expected to take %v (%s); the page runs at most %v: fewer tasks or a smaller unit",
			k.Scenario, k.Tasks, k.Unit, exp.Round(time.Second), formula, MaxExpected)}
	}
	cfg := client.Config{Runtime: k.Runtime, Scenario: k.Scenario, Tasks: k.Tasks, Unit: k.Unit, Procs: k.Procs, Compute: k.Compute}
	l.MaxThreads = cmp.Or(k.maxThreads(), goMaxThreads)
	if _, err := client.Preflight(cfg, l); err != nil {
		return FieldErrors{"tasks": err.Error()}
	}
	return nil
}

// params are the run's parameters, defaults filled in by the client.
func (k Knobs) params() scenario.Params {
	return client.Params(client.Config{Runtime: k.Runtime, Scenario: k.Scenario, Tasks: k.Tasks, Unit: k.Unit, Procs: k.Procs, Compute: k.Compute})
}

// goMaxThreads is Go's limit on a program's OS threads, unless
// runtime/debug.SetMaxThreads changes it: the limit a child starts with.
// (Package client has no constant for it; it reads the limit of its own
// process, client.ReadLimits.)
const goMaxThreads = 10000

// maxThreads is the child's -max-threads, 0 where Go's limit will do:
// os-threads needs a thread per task and the runtime's own; past Go's
// 10,000 the page raises the limit, as docs/running.md tells a user of the
// client to.
func (k Knobs) maxThreads() int {
	if k.Scenario == scenario.OSThreads && k.Tasks+client.Headroom > goMaxThreads {
		return k.Tasks + 2*client.Headroom
	}
	return 0
}

// Query is the knobs as the page's URL carries them.
func (k Knobs) Query() url.Values {
	v := url.Values{}
	v.Set("runtime", string(cmp.Or(k.Runtime, scenario.Go)))
	v.Set("scenario", string(k.Scenario))
	v.Set("tasks", strconv.Itoa(k.Tasks))
	v.Set("unit", k.Unit.String())
	v.Set("procs", strconv.Itoa(k.Procs))
	if k.Compute != "" {
		v.Set("compute", string(k.Compute))
	}
	return v
}

// userArgs are the client's flags for the knobs, as a person would give
// them (the defaults left out): the one place the page spells the
// client's knob flags, for the command it shows and the child's.
func (k Knobs) userArgs() []string {
	var a []string
	if k.Runtime == scenario.Tokio {
		a = append(a, "-runtime", string(k.Runtime))
	}
	a = append(a, "-scenario", string(k.Scenario), "-tasks", strconv.Itoa(k.Tasks), "-unit", k.Unit.String())
	if k.Procs != 0 {
		a = append(a, "-procs", strconv.Itoa(k.Procs))
	}
	if k.Compute != "" {
		a = append(a, "-compute", string(k.Compute))
	}
	if m := k.maxThreads(); m > 0 {
		a = append(a, "-max-threads", strconv.Itoa(m))
	}
	return a
}

// ChildArgs are the child's command line: the knobs' flags (userArgs), each
// from a parsed and checked knob, never a string from the request; and
// what the page reads of the run.
func (k Knobs) ChildArgs(addr, svgDir string) []string {
	a := append([]string{"-addr", addr}, k.userArgs()...)
	a = append(a, "-json", "-svg", svgDir, "-svg-compact", "-jaeger-ui", "")
	if k.Tasks <= client.LineTasks {
		a = append(a, "-v") // the article's lines, on stderr
	} else {
		a = append(a, "-progress-every", "250ms") // the page shows each
	}
	return a
}

// clip shortens what a request sent, for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
