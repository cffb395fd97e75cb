package scenario

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Segment is one stage of one task as measured, in time since the run
// began.
type Segment struct {
	Task       int // 1-based
	Stage      Stage
	Start, End time.Duration
	// OS thread the stage started and ended on; they differ where the
	// goroutine moved during the stage (when is not known).
	Thread, ThreadEnd int64
}

// Len is the segment's duration.
func (s Segment) Len() time.Duration { return s.End - s.Start }

// Moved says the goroutine changed OS thread during the stage.
func (s Segment) Moved() bool { return s.ThreadEnd != s.Thread }

// Task is one task as measured.
type Task struct {
	Index      int   // 1-based
	Goroutine  int64 // the goroutine that ran it
	Locked     bool  // it owned its OS thread
	Start, End time.Duration
	Segments   []Segment // its stages, in the order they ran

	// The network, as the task saw it (0: not measured): the dial's
	// handshake, and its request's round trip (its response less the time
	// the server says it waited, or TCP's smoothed RTT where the server
	// says nothing).
	Handshake, RoundTrip time.Duration
	// ServerHold is how long the server says it held the request, from
	// its accept to its reply, on its own clock (0: it did not say).
	ServerHold time.Duration
}

// Network is the task's time on the network: its handshake and its
// request's round trip.
func (t Task) Network() time.Duration { return t.Handshake + t.RoundTrip }

// Label is the task's label, "task1".
func (t Task) Label() string { return TaskLabel(t.Index) }

// Segment returns the task's stage s.
func (t Task) Segment(s Stage) (Segment, bool) {
	i := slices.IndexFunc(t.Segments, func(g Segment) bool { return g.Stage == s })
	if i < 0 {
		return Segment{}, false
	}
	return t.Segments[i], true
}

// Lane is one OS thread: the stages that held it (HoldsThread), in time
// order, from the first one's start to the last one's end.
type Lane struct {
	Thread     int64
	Start, End time.Duration
	Segments   []Segment
}

// Timeline is one run as measured: its parameters, its makespan, its tasks
// in task order.
type Timeline struct {
	Params
	Makespan time.Duration
	Tasks    []Task
}

// ThreadLanes applies the lane rule: every stage that holds its thread
// goes on the lane of the OS thread it started on. Lanes come in the order
// of their first stage.
func (tl *Timeline) ThreadLanes() []Lane {
	byThread := map[int64]*Lane{}
	var lanes []*Lane
	for _, t := range tl.Tasks {
		for _, s := range t.Segments {
			if !HoldsThread(s.Stage, t.Locked, tl.Compute) {
				continue
			}
			l := byThread[s.Thread]
			if l == nil {
				l = &Lane{Thread: s.Thread, Start: s.Start, End: s.End}
				byThread[s.Thread] = l
				lanes = append(lanes, l)
			}
			l.Segments = append(l.Segments, s)
			l.Start, l.End = min(l.Start, s.Start), max(l.End, s.End)
		}
	}
	out := make([]Lane, len(lanes))
	for i, l := range lanes {
		slices.SortStableFunc(l.Segments, func(a, b Segment) int { return cmp.Compare(a.Start, b.Start) })
		out[i] = *l
	}
	slices.SortStableFunc(out, func(a, b Lane) int { return cmp.Compare(a.Start, b.Start) })
	return out
}

// StageTotal is the time all tasks spent in stage s.
func (tl *Timeline) StageTotal(s Stage) time.Duration {
	var sum time.Duration
	for _, t := range tl.Tasks {
		if g, ok := t.Segment(s); ok {
			sum += g.Len()
		}
	}
	return sum
}

// Network is how much of the makespan the network took, as the tasks
// measured it: in a serial run every task's handshake and round trip,
// one after another; elsewhere the tasks wait for theirs together, and the
// makespan is the last task's: its network counts. (The slowest network
// of all need not: at 10,000 tasks the slowest dial, a second in the
// burst, belongs to a task that then ended well before the last.)
func (tl *Timeline) Network() time.Duration {
	if len(tl.Tasks) == 0 {
		return 0
	}
	if tl.Scenario.Serial() {
		var sum time.Duration
		for _, t := range tl.Tasks {
			sum += t.Network()
		}
		return sum
	}
	return tl.Last().Network()
}

// Last is the task that ended last (the first of them, in a tie): the one
// that makes the makespan.
func (tl *Timeline) Last() Task {
	last := tl.Tasks[0]
	for _, t := range tl.Tasks[1:] {
		if t.End > last.End {
			last = t
		}
	}
	return last
}

// Spread is when the tasks' stage s began or ended (end), the first and
// the last of them; false if no task went through s.
func (tl *Timeline) Spread(s Stage, end bool) (first, last time.Duration, ok bool) {
	for _, t := range tl.Tasks {
		g, found := t.Segment(s)
		if !found {
			continue
		}
		at := g.Start
		if end {
			at = g.End
		}
		if !ok {
			first, last, ok = at, at, true
		}
		first, last = min(first, at), max(last, at)
	}
	return first, last, ok
}

// ServerHeld is how long the server held the requests, as measured (the
// delay expected of it is ServerDelay): the shortest hold the server
// reported, on its own clock; where it reported none, the shortest
// response less its round trip, as the client saw it.
func (tl *Timeline) ServerHeld() (time.Duration, bool) {
	var held, seen time.Duration
	foundHeld, foundSeen := false, false
	for _, t := range tl.Tasks {
		if t.ServerHold > 0 && (!foundHeld || t.ServerHold < held) {
			held, foundHeld = t.ServerHold, true
		}
		if s, ok := t.Segment(StageResponse); ok && (!foundSeen || s.Len()-t.RoundTrip < seen) {
			seen, foundSeen = s.Len()-t.RoundTrip, true
		}
	}
	if foundHeld {
		return held, true
	}
	return seen, foundSeen
}

// UnitMismatch says, in one line naming both units, whether the server
// held the requests for other than 8 of the run's units, by more than
// tolerance (and 5ms); "" if it did not. What to do about it (start the
// server with the client's unit) is for the commands to say. The
// network's round trip is not part of the hold (Timeline.ServerHeld).
func (tl *Timeline) UnitMismatch(tolerance float64) string {
	d, ok := tl.ServerHeld()
	want := ServerDelay(tl.Unit)
	if !ok || tl.Unit <= 0 {
		return ""
	}
	slack := max(time.Duration(tolerance*float64(want)), 5*time.Millisecond)
	if d >= want-2*time.Millisecond && d <= want+slack {
		return ""
	}
	serverUnit := roundUnit(d / DelayUnits)
	return fmt.Sprintf("the server held requests %v, not 8u = %v: its unit is %v, the client's %v",
		roundUnit(d), want, serverUnit, tl.Unit)
}

// roundUnit rounds a measured duration to a unit a person would type.
func roundUnit(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}
