// Package scenario is the model of asynctrace: the article's scenarios and
// compute modes, the stages of a task and their lengths in units, the
// makespan each scenario is expected to take, the thread-lane rule, and what
// a scenario's measured timeline must show (Verify). It is a leaf: no
// project imports, no system calls. The client runs it, the diagrams draw
// and check it, the end-to-end suite asserts it. docs/design.md, "Scenarios",
// explains it.
package scenario

import (
	"fmt"
	"strings"
)

// Scenario is one way of running the tasks.
type Scenario string

// The scenarios, in the article's order.
const (
	Sync         Scenario = "sync"          // one goroutine locked to its OS thread, tasks in a loop
	Sequential   Scenario = "sequential"    // a goroutine per task, each awaited before the next
	SingleThread Scenario = "single-thread" // all tasks at once, GOMAXPROCS=1
	MultiThread  Scenario = "multi-thread"  // all tasks at once, GOMAXPROCS=P
	OSThreads    Scenario = "os-threads"    // all tasks at once, each locked to its own OS thread
)

// All lists every scenario, in the article's order.
var All = []Scenario{Sync, Sequential, SingleThread, MultiThread, OSThreads}

// Parse accepts a scenario's name.
func Parse(s string) (Scenario, error) {
	for _, sc := range All {
		if string(sc) == s {
			return sc, nil
		}
	}
	return "", fmt.Errorf("unknown scenario %q (want one of %s)", s, Names(All))
}

// Locked says whether each task owns an OS thread for its whole life
// (runtime.LockOSThread): the article's std client and rayon.
func (s Scenario) Locked() bool { return s == Sync || s == OSThreads }

// Serial says whether the tasks run one after another.
func (s Scenario) Serial() bool { return s == Sync || s == Sequential }

// DefaultCompute is the compute mode that reproduces the article's figure.
func (s Scenario) DefaultCompute() Compute {
	if s == OSThreads {
		return Syscall // a blocked OS thread, as rayon's
	}
	return Hold
}

// DefaultProcs is the GOMAXPROCS the scenario runs with unless told, for
// n tasks on a machine with cpus CPUs: 1 for single-thread; for
// os-threads a P per task, so that every task's thread can run Go code
// when its task is ready, as each of rayon's threads can, but at most
// MaxOSThreadProcs (at least cpus); else cpus.
func (s Scenario) DefaultProcs(n, cpus int) int {
	switch s {
	case SingleThread:
		return 1
	case OSThreads:
		return max(1, min(n, MaxOSThreadProcs), cpus)
	}
	return max(1, cpus)
}

// MaxOSThreadProcs caps os-threads' default GOMAXPROCS: 10,000 Ps on 2
// cores made a 10,000-task run take nearly nine times its formula, and
// timed most of its tasks out.
const MaxOSThreadProcs = 64

// Runtime is what ran a run's tasks: Go's scheduler (asynctrace's own
// client), or the article's Rust programs on Tokio and rayon (peers/tokio).
type Runtime string

const (
	Go    Runtime = "go"
	Tokio Runtime = "tokio"
)

// Runtimes lists them, Go first.
var Runtimes = []Runtime{Go, Tokio}

// ParseRuntime accepts a runtime's name.
func ParseRuntime(s string) (Runtime, error) {
	for _, r := range Runtimes {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown runtime %q (want one of %s)", s, Names(Runtimes))
}

// Threads says what P is in a run of s on rt, and how many: Go's
// GOMAXPROCS ("GOMAXPROCS=3"), Tokio's workers ("3 workers"), rayon's
// threads ("2 rayon threads"), the one thread of the article's
// synchronous client ("1 thread").
func Threads(rt Runtime, s Scenario, p int) string {
	if rt != Tokio {
		return fmt.Sprintf("GOMAXPROCS=%d", p)
	}
	what := "worker"
	switch s {
	case OSThreads:
		what = "rayon thread"
	case Sync:
		what = "thread"
	}
	if p != 1 {
		what += "s"
	}
	return fmt.Sprintf("%d %s", p, what)
}

// Compute is how a task's compute stage blocks. The article's computation
// is std::thread::sleep inside async code: it blocks the OS thread, and so
// the executor, without using the CPU. Go gives four different answers to
// "block for 4u"; package client implements them.
type Compute string

const (
	// Hold sleeps in a raw system call the scheduler is not told about: the
	// goroutine keeps its OS thread and its P, as Tokio's worker does.
	Hold Compute = "hold"
	// Syscall sleeps in an ordinary system call: the runtime hands the P to
	// another thread, as Tokio's block_in_place would.
	Syscall Compute = "syscall"
	// CPU spins through a calibrated amount of work: preemption
	// time-slices it with the other goroutines.
	CPU Compute = "cpu"
	// Sleep parks the goroutine (time.Sleep), like tokio::time::sleep.
	Sleep Compute = "sleep"
)

// Computes lists the modes.
var Computes = []Compute{Hold, Syscall, CPU, Sleep}

// ParseCompute accepts a mode's name.
func ParseCompute(s string) (Compute, error) {
	for _, m := range Computes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown compute mode %q (want one of %s)", s, Names(Computes))
}

// Names joins scenario, mode or stage names for messages and usage.
func Names[T ~string](names []T) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}
