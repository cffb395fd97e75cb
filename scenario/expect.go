package scenario

import (
	"slices"
	"time"
)

// Params are the knobs of one run: what the expected makespan depends on.
type Params struct {
	Runtime  Runtime // who ran the tasks; "" is Go
	Scenario Scenario
	Compute  Compute
	N        int           // tasks, n
	Procs    int           // GOMAXPROCS, P
	CPUs     int           // cores of the machine that ran it, C
	Unit     time.Duration // u
}

// Expected is the makespan the run should take, and the formula it came
// from (docs/design.md, "Expected makespans"). c = 2u, w = 8u, p = 4u.
func (p Params) Expected() (time.Duration, string) {
	n := p.N
	c, w, q := ConnectUnits*p.Unit, DelayUnits*p.Unit, ComputeUnits*p.Unit
	if p.Scenario.Serial() {
		return time.Duration(n) * (c + w + q), "n(c+w+p)"
	}
	if p.pooled() {
		// rayon: a pool thread takes a whole task, connect to compute,
		// and the next only after it.
		return time.Duration(ceilDiv(n, max(1, p.Procs))) * (c + w + q), "⌈n/P⌉·(c+w+p)"
	}
	b, formula := p.atOnce()
	return c + w + time.Duration(ceilDiv(n, b))*q, formula
}

// pooled says the tasks are a pool's: rayon's threads each run whole
// tasks, one after another (Tokio's os-threads), where Go gives every task
// an OS thread of its own.
func (p Params) pooled() bool { return p.Runtime == Tokio && p.Scenario == OSThreads }

// atOnce is how many computes run at once when every reply arrives
// together, and the makespan formula that follows.
func (p Params) atOnce() (int, string) {
	procs, cpus := max(1, p.Procs), max(1, p.CPUs)
	switch p.Compute {
	case Syscall, Sleep:
		// The P is handed over (syscall) or the goroutine parks (sleep):
		// nothing waits for a thread.
		return max(1, p.N), "c+w+p"
	case CPU:
		if p.Scenario == OSThreads {
			return cpus, "c+w+⌈n/C⌉·p"
		}
		return min(procs, cpus), "c+w+⌈n/min(P,C)⌉·p"
	default:
		// A hold keeps its P: P computes at once; with P = 1, n·p.
		return procs, "c+w+⌈n/P⌉·p"
	}
}

// SysmonRetake is the longest a P stays with a goroutine blocked in a
// system call before the runtime hands it to another thread: sysmon, which
// does the handing over, sleeps up to 10ms between looks when the program
// is idle (runtime/proc.go). A syscall compute gives its P up, but not at
// once (docs/design.md, "Measured facts").
const SysmonRetake = 10 * time.Millisecond

// ExpectedReady is the total time the tasks should spend ready (reply
// there, waiting for a thread), how far above it the scheduler may go, and
// whether the model predicts it at all. With every reply arriving at c+w
// and b computes at a time, the task in batch k waits k·p, so the total is
// p·Σ⌊i/b⌋ over the n tasks. With syscall, b is n, but a task waits until
// sysmon hands a P over: up to SysmonRetake·Σ⌊i/P⌋ more. Serial runs never
// wait; CPU work is time-sliced, so its waits are not predicted.
func (p Params) ExpectedReady() (want, over time.Duration, ok bool) {
	switch {
	case p.Scenario.Serial(), p.pooled():
		return 0, 0, true // a task's thread is waiting for its reply
	case p.Compute == CPU:
		return 0, 0, false
	}
	b, _ := p.atOnce()
	want = time.Duration(batches(p.N, b)) * ComputeUnits * p.Unit
	if p.Compute == Syscall {
		over = time.Duration(batches(p.N, max(1, p.Procs))) * SysmonRetake
	}
	return want, over, true
}

// batches is Σ⌊i/b⌋ for i < n: how many batches of b wait before each task,
// added up.
func batches(n, b int) int {
	sum := 0
	for i := range n {
		sum += i / b
	}
	return sum
}

// ReadyGiven is the total ready time the model predicts for replies that
// arrived at the given times (since the run began), rather than all at
// c+w: the tasks take the compute slots (b of them, p long) in the order
// their replies came, and each waits for a free one. It is what Verify
// checks against, so that a reply delayed by a busy machine does not count
// as the scheduler's doing. ok is false where ExpectedReady's is.
func (p Params) ReadyGiven(arrivals []time.Duration) (time.Duration, bool) {
	if _, _, ok := p.ExpectedReady(); !ok {
		return 0, false
	}
	if p.Scenario.Serial() || p.pooled() {
		return 0, true
	}
	b, _ := p.atOnce()
	if b >= len(arrivals) {
		return 0, true // a slot for every task
	}
	// Slots all p long and taken in arrival order free up in the order
	// they were taken: the i-th task starts when it arrives, or when the
	// (i-b)-th ends. Linear, where a search for the freest slot made a
	// 10,000-task run with a slot each quadratic.
	order := slices.Clone(arrivals)
	slices.Sort(order)
	starts := make([]time.Duration, len(order))
	var sum time.Duration
	for i, at := range order {
		starts[i] = at
		if i >= b {
			starts[i] = max(at, starts[i-b]+ComputeUnits*p.Unit)
		}
		sum += starts[i] - at
	}
	return sum, true
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
