package scenario

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Stage is a stage of a task. Every task goes through Stages in order.
type Stage string

const (
	// StageConnect waits 2u (the simulated network delay) and dials the
	// server.
	StageConnect Stage = "connect"
	// StageResponse writes the request and waits until the echo's bytes reach
	// the client's socket; the server holds them 8u.
	StageResponse Stage = "response"
	// StageReady runs from the arrival of the echo until the task's goroutine
	// has run again, read it and closed the connection: the bytes are there,
	// the task waits for a thread.
	StageReady Stage = "ready"
	// StageCompute blocks for 4u in the run's compute mode.
	StageCompute Stage = "compute"
)

// Stages in the order every task goes through them.
var Stages = []Stage{StageConnect, StageResponse, StageReady, StageCompute}

// The server's stages, within a task's response: it holds the request 8u,
// then writes it back.
const (
	StageDelay Stage = "delay"
	StageWrite Stage = "write"
)

// Stage lengths in units u (the article's seconds). Ready has no length of
// its own: it is what the scheduler adds.
const (
	ConnectUnits = 2 // c
	DelayUnits   = 8 // w, on the server
	ComputeUnits = 4 // p
)

// ServerDelay is the delay the server must use for the expected makespans
// to hold: 8 units.
func ServerDelay(unit time.Duration) time.Duration { return DelayUnits * unit }

// MS is d in milliseconds, as the trace's and the JSON's *_ms figures
// give durations.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// FromMS is the inverse of MS.
func FromMS(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// HoldsThread is the lane rule: whether a task's stage occupies the OS
// thread it runs on, and so is drawn on that thread's lane. Compute does
// (it blocks the thread, or spins on it), unless it sleeps (time.Sleep
// parks the goroutine). Connect, response and ready do only where the task
// is locked to its thread; elsewhere the goroutine is parked (or queued)
// and the thread is free for others.
func HoldsThread(s Stage, locked bool, m Compute) bool {
	return locked || s == StageCompute && m != Sleep
}

// LaneTasks is the most tasks a run has for its tasks and threads to be
// drawn lane by lane, and named one by one in its trace (task1, thread 1);
// above it, lanes per task do not scale, and neither do names.
const LaneTasks = 24

// TaskLabel is the label of task i (1-based): "task1". It is what the task
// sends the server, and the name of its span.
func TaskLabel(i int) string { return "task" + strconv.Itoa(i) }

// ParseTaskLabel is the inverse of TaskLabel.
func ParseTaskLabel(s string) (int, error) {
	n, ok := strings.CutPrefix(s, "task")
	if !ok {
		return 0, fmt.Errorf("not a task label: %q", s)
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 1 || strconv.Itoa(i) != n {
		return 0, fmt.Errorf("not a task label: %q", s)
	}
	return i, nil
}
