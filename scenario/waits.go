package scenario

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Wait is one task's ready time explained: its reply was there, and the
// task waited for a thread; Holders are what held the thread(s), or Go's
// P(s), it could have run on (docs/design.md, "Who made a task wait").
// The parts add up: the Holders' Covered plus Unexplained is the ready
// segment's length, and Handoff is the part of the Covered that was
// sysmon's hand-off of a P.
type Wait struct {
	Task  int     // 1-based
	Ready Segment // the task's ready stage
	// Holders are the stages that held a thread or P the task could have run
	// on while every one of them was held, in the order they began.
	Holders []Holder
	// Handoff is how much of the wait was a syscall compute's P waiting
	// for sysmon to hand it to another thread (SysmonRetake): the Holders
	// marked Handoff, added up.
	Handoff time.Duration
	// Unexplained is what nothing in the run explains (a busy machine, a
	// garbage collection, the other goroutines' own short runs between
	// their stages): never put on a stage.
	Unexplained time.Duration
}

// Holder is a stage of another task that held a thread, or a P, the waiting
// task could have run on.
type Holder struct {
	Segment // the holding stage (a compute): task, times, OS thread
	// Covered is the hold's share of the wait. Each instant of the wait
	// when every thread or P the task could use was held goes to one
	// hold: of those under way then, the one that ended first, since the
	// task could run no sooner than it ended (shortening another would
	// not have shortened the wait). So the Holders' Covered add up, with no
	// instant counted twice. Under one P, or on one thread, it is the
	// hold's whole overlap with the wait.
	Covered time.Duration
	// Overlap is how long the hold was under way while every thread or P
	// the task could use was held, within the wait: at least Covered; more
	// where P > 1 and it shared those instants with other holds.
	Overlap time.Duration
	// Handoff marks a syscall compute: it held its P only until sysmon
	// handed the P over, and its Covered is that hand-off's time.
	Handoff bool
}

// Explained is the part of the wait the holds explain.
func (w Wait) Explained() time.Duration { return w.Ready.Len() - w.Unexplained }

// MinWait is the shortest ready time Waits lists: a goroutine woken with
// a P free takes some microseconds to run.
const MinWait = time.Millisecond

// Waits explains the ready time of every task that waited at least
// MinWait, in task order. What "held" means follows the lane rule and the
// run's P (docs/design.md, "Who made a task wait"):
//
//   - Go, hold: a compute holds its thread and its P; a task waits while
//     every P is held, and the computes under way then explain it (one
//     P: every other task's compute during the wait).
//   - Go, cpu: the same with min(P, CPUs): the computes are time-sliced.
//   - Go, syscall: a compute holds its P only until sysmon hands it over,
//     at most SysmonRetake after it began: that part is Handoff.
//   - Go, sleep: a compute holds nothing; any wait is unexplained, as is
//     any in os-threads with a P per task.
//   - Tokio: the task waited for the worker that later ran it (its ready
//     segment's ThreadEnd); the computes blocking that worker during the
//     wait explain it. Tokio's single-thread runtime has one worker. Where
//     that worker held nothing during the wait (it was idle, and nobody
//     had polled the I/O driver for the task's event: the stair of
//     docs/go-vs-tokio.md), the computes blocking the other workers then
//     explain it.
//
// Its cost grows with the holders each wait overlaps: in a run of
// thousands of tasks under few Ps, a wait overlaps thousands of computes
// (10,000 tasks at P = 2: 40 s). Above LaneTasks tasks, take WaitTotals.
func (tl *Timeline) Waits() []Wait {
	r := newWaitRule(tl.Params, tl.Tasks)
	var out []Wait
	for _, t := range tl.Tasks {
		if ready, ok := t.Segment(StageReady); ok && ready.Len() >= MinWait {
			out = append(out, r.explain(ready))
		}
	}
	return out
}

// holding is a stage that may hold a thread or P, over the time it held it.
type holding struct {
	seg        Segment
	start, end time.Duration
	handoff    bool
}

// waitRule is what could hold each task from running, from a run's
// parameters: pools of holders (Go's Ps: one pool; Tokio: one per worker
// thread), and how many must be under way at once for a task in the pool
// to wait.
type waitRule struct {
	need      int
	perThread bool
	handoff   bool // every holding is a syscall's P until sysmon hands it over
	pools     map[int64][]holding
	all       []holding // every pool's: Tokio's, where the task's worker held nothing
}

func newWaitRule(p Params, tasks []Task) waitRule {
	r := waitRule{need: max(1, p.Procs), pools: map[int64][]holding{}}
	if p.Runtime == Tokio {
		r.need, r.perThread = 1, true
	} else if p.Compute == CPU && p.CPUs > 0 {
		r.need = min(r.need, p.CPUs)
	}
	if p.Compute == Sleep {
		return r // a sleeping compute parks its goroutine: it holds nothing
	}
	for _, t := range tasks {
		c, ok := t.Segment(StageCompute)
		if !ok {
			continue
		}
		h := holding{seg: c, start: c.Start, end: c.End}
		if p.Compute == Syscall && !r.perThread {
			h.end, h.handoff, r.handoff = min(c.End, c.Start+SysmonRetake), true, true
		}
		key := int64(0)
		if r.perThread {
			key = c.Thread
			r.all = append(r.all, h)
		}
		r.pools[key] = append(r.pools[key], h)
	}
	return r
}

// held says whether any of hs, another task's, held its thread during
// ready.
func held(hs []holding, ready Segment) bool {
	return slices.ContainsFunc(hs, func(h holding) bool {
		return h.seg.Task != ready.Task && h.start < ready.End && h.end > ready.Start && h.start < h.end
	})
}

// pool is the holders that could keep ready from running.
func (r waitRule) pool(ready Segment) []holding {
	if !r.perThread {
		return r.pools[0]
	}
	hs := r.pools[cmp.Or(ready.ThreadEnd, ready.Thread)]
	if !held(hs, ready) {
		return r.all // its worker was idle: the others' computes kept the driver unpolled
	}
	return hs
}

// explain sweeps the wait: at each instant where at least need holders
// of other tasks are under way, the one that ends first takes it, and
// each of them counts it in its Overlap.
func (r waitRule) explain(ready Segment) Wait {
	type edge struct {
		at    time.Duration
		i     int
		start bool
	}
	var hs []holding
	var edges []edge
	for _, h := range r.pool(ready) {
		if h.seg.Task == ready.Task || h.end <= ready.Start || h.start >= ready.End || h.start >= h.end {
			continue
		}
		i := len(hs)
		hs = append(hs, h)
		edges = append(edges, edge{max(h.start, ready.Start), i, true}, edge{min(h.end, ready.End), i, false})
	}
	// Edges at one instant bound no time between them: their order
	// there does not matter.
	slices.SortStableFunc(edges, func(a, b edge) int { return cmp.Compare(a.at, b.at) })
	covered, overlap := make([]time.Duration, len(hs)), make([]time.Duration, len(hs))
	var active []int
	prev := ready.Start
	for _, e := range edges {
		if d := e.at - prev; d > 0 && len(active) >= r.need {
			first := slices.MinFunc(active, func(a, b int) int {
				return cmp.Or(cmp.Compare(hs[a].end, hs[b].end), cmp.Compare(hs[a].seg.Task, hs[b].seg.Task))
			})
			covered[first] += d
			for _, i := range active {
				overlap[i] += d
			}
		}
		prev = e.at
		if e.start {
			active = append(active, e.i)
		} else {
			active = slices.DeleteFunc(active, func(i int) bool { return i == e.i })
		}
	}
	w := Wait{Task: ready.Task, Ready: ready, Unexplained: ready.Len()}
	for i, h := range hs {
		if overlap[i] == 0 {
			continue
		}
		w.Holders = append(w.Holders, Holder{Segment: h.seg, Covered: covered[i], Overlap: overlap[i], Handoff: h.handoff})
		w.Unexplained -= covered[i]
		if h.handoff {
			w.Handoff += covered[i]
		}
	}
	slices.SortStableFunc(w.Holders, func(a, b Holder) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.Task, b.Task))
	})
	return w
}

// Explain is the wait in one line, in units of unit (0: as durations),
// the holders in the order they began: "task2 waited 8.0u: task3's
// compute 4.0u, task1's compute 4.0u". A holder that shared every instant
// with one that ended sooner is named as holding another P; a hand-off by
// sysmon, and an unexplained part that shows at the line's precision, are
// named with their lengths.
func (w Wait) Explain(unit time.Duration) string {
	var held, handoffs, others []string
	for _, h := range w.Holders {
		name := fmt.Sprintf("%s's %s", TaskLabel(h.Task), h.Stage)
		switch {
		case h.Covered < 50*time.Microsecond: // would read 0.0ms
			others = append(others, name)
		case h.Handoff:
			handoffs = append(handoffs, fmt.Sprintf("from %s %s", name, fmtWait(h.Covered, unit)))
		default:
			held = append(held, fmt.Sprintf("%s %s", name, fmtWait(h.Covered, unit)))
		}
	}
	var parts []string
	if len(held) > 0 {
		parts = append(parts, strings.Join(held, ", "))
	}
	if len(handoffs) > 0 {
		parts = append(parts, "the P's hand-off by sysmon "+strings.Join(handoffs, ", "))
	}
	if len(others) > 0 {
		ps := "the other P"
		if len(others) > 1 {
			ps += "s"
		}
		while := fmt.Sprintf("while %s held %s", strings.Join(others, " and "), ps)
		if len(parts) == 0 {
			parts = append(parts, while)
		} else {
			parts[len(parts)-1] += ", " + while
		}
	}
	// The unexplained part is named where it shows at the line's
	// precision: a tenth of a unit, or MinWait in a wait too short for
	// units.
	least := MinWait
	if unit > 0 && w.Ready.Len() >= unit/20 {
		least = max(MinWait, unit/20)
	}
	if w.Unexplained >= least || len(parts) == 0 {
		parts = append(parts, "unexplained "+fmtWait(w.Unexplained, unit))
	}
	return fmt.Sprintf("%s waited %s: %s", TaskLabel(w.Task), fmtWait(w.Ready.Len(), unit), strings.Join(parts, "; "))
}

// fmtWait writes a time in units to a tenth, or, where that would read
// 0.0u, in milliseconds.
func fmtWait(d, unit time.Duration) string {
	if unit <= 0 {
		return d.Round(10 * time.Microsecond).String()
	}
	if d >= unit/20 {
		return fmt.Sprintf("%.1fu", units(d, unit))
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

// WaitTotals is Waits without the holders, for every task with a ready
// stage (however short), in task order: how much of each wait the run
// explains, how much was sysmon's hand-off, and the rest. It takes
// O(n log n) for n tasks, where Waits grows with the holders each wait
// overlaps (under one P, the last task's are all the others'): Verify
// uses it, and so can a summary of thousands of tasks.
func (tl *Timeline) WaitTotals() []Wait { return newWaitRule(tl.Params, tl.Tasks).totals(tl.Tasks) }

// totals is WaitTotals by the rule r, summed once per pool. It counts a
// task's own compute as a holder, which Waits does not; only a malformed
// timeline has it overlap its ready stage.
func (r waitRule) totals(tasks []Task) []Wait {
	busy := map[int64]busySet{}
	for key, hs := range r.pools {
		busy[key] = newBusySet(hs, r.need)
	}
	all := newBusySet(r.all, r.need)
	var out []Wait
	for _, t := range tasks {
		ready, ok := t.Segment(StageReady)
		if !ok {
			continue
		}
		key := int64(0)
		if r.perThread {
			key = cmp.Or(ready.ThreadEnd, ready.Thread)
		}
		covered := busy[key].within(ready.Start, ready.End)
		if r.perThread && covered == 0 {
			covered = all.within(ready.Start, ready.End) // its worker was idle (pool)
		}
		w := Wait{Task: t.Index, Ready: ready, Unexplained: ready.Len() - covered}
		if r.handoff {
			w.Handoff = w.Explained()
		}
		out = append(out, w)
	}
	return out
}

// busySet is the instants where at least a number of holdings are under
// way, as disjoint intervals in order, with their lengths summed before
// each (sum[i] is the length of the first i).
type busySet struct {
	iv  []interval
	sum []time.Duration
}

func newBusySet(hs []holding, need int) busySet {
	type edge struct {
		at    time.Duration
		delta int
	}
	var edges []edge
	for _, h := range hs {
		if h.start < h.end {
			edges = append(edges, edge{h.start, +1}, edge{h.end, -1})
		}
	}
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Compare(a.at, b.at) })
	b := busySet{sum: []time.Duration{0}}
	n := 0
	for i, e := range edges {
		n += e.delta
		if i+1 == len(edges) || edges[i+1].at == e.at || n < need {
			continue
		}
		from, to := e.at, edges[i+1].at
		if k := len(b.iv); k > 0 && b.iv[k-1].end == from {
			b.iv[k-1].end = to
			b.sum[k] += to - from
			continue
		}
		b.iv = append(b.iv, interval{from, to})
		b.sum = append(b.sum, b.sum[len(b.sum)-1]+to-from)
	}
	return b
}

// within is how much of [from, to) the set covers.
func (b busySet) within(from, to time.Duration) time.Duration {
	lo, _ := slices.BinarySearchFunc(b.iv, from, func(v interval, t time.Duration) int { return cmp.Compare(v.end, t+1) })
	hi, _ := slices.BinarySearchFunc(b.iv, to, func(v interval, t time.Duration) int { return cmp.Compare(v.start, t) })
	if lo >= hi {
		return 0
	}
	return b.sum[hi] - b.sum[lo] - max(0, from-b.iv[lo].start) - max(0, b.iv[hi-1].end-to)
}
