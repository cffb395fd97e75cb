// Package client runs the article's scenarios against the echo server: n
// tasks of three stages each (connect, response, compute), every task and
// stage a span, one trace per scenario. DESIGN.md, "Scenarios" and "Compute
// modes", is the specification; this package is its only implementation.
package client

import (
	"fmt"
	"runtime"
	"strings"
	"time"
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

// Scenarios lists every scenario, in the article's order.
var Scenarios = []Scenario{Sync, Sequential, SingleThread, MultiThread, OSThreads}

// ParseScenario accepts a scenario's name.
func ParseScenario(s string) (Scenario, error) {
	for _, sc := range Scenarios {
		if string(sc) == s {
			return sc, nil
		}
	}
	return "", fmt.Errorf("unknown scenario %q (want one of %s)", s, Names(Scenarios))
}

// DefaultCompute is the compute mode that reproduces the article's figure.
func (s Scenario) DefaultCompute() Compute {
	if s == OSThreads {
		return Syscall // a blocked OS thread, as rayon's
	}
	return Hold
}

// DefaultProcs is the GOMAXPROCS the scenario runs with unless told.
func (s Scenario) DefaultProcs() int {
	if s == SingleThread {
		return 1
	}
	return runtime.NumCPU()
}

// locked says whether each task owns an OS thread.
func (s Scenario) locked() bool { return s == Sync || s == OSThreads }

// Stage durations in units (DESIGN.md, "The task").
const (
	connectUnits = 2 // c
	delayUnits   = 8 // w, on the server
	computeUnits = 4 // p
)

// ServerDelay is the delay the server must use for the expected makespans
// to hold: 8 units.
func ServerDelay(unit time.Duration) time.Duration { return delayUnits * unit }

// Expected is the makespan DESIGN.md's table gives for a run, and the
// formula it came from. cpus is the number of cores (C).
func Expected(s Scenario, m Compute, tasks, procs, cpus int, unit time.Duration) (time.Duration, string) {
	n := tasks
	c, w, p := connectUnits*unit, delayUnits*unit, computeUnits*unit
	if s == Sync || s == Sequential {
		return time.Duration(n) * (c + w + p), "n(c+w+p)"
	}
	overlapped := func(batches int, formula string) (time.Duration, string) {
		return c + w + time.Duration(batches)*p, formula
	}
	switch m {
	case Syscall, Sleep:
		return overlapped(1, "c+w+p")
	case CPU:
		if s == OSThreads {
			return overlapped(ceilDiv(n, cpus), "c+w+⌈n/C⌉·p")
		}
		return overlapped(ceilDiv(n, min(procs, cpus)), "c+w+⌈n/min(P,C)⌉·p")
	default: // Hold: a holding goroutine keeps its P; with P=1, n·p
		return overlapped(ceilDiv(n, procs), "c+w+⌈n/P⌉·p")
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Names joins scenario or compute mode names for messages and usage.
func Names[T ~string](names []T) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}
