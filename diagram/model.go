// Package diagram draws the article's execution diagrams from real spans:
// time running down, a lane per task on the left, a lane per OS thread on
// the right, the stages in the article's colours, to scale. Build reads a
// run's timeline (package scenario's model) from its spans, the client's
// own or a trace fetched from Jaeger; WriteText and WriteSVG draw it; the
// timeline's Verify checks it.
package diagram

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"asynctrace/scenario"
	"asynctrace/tracing"
)

// StageReady is the ready stage's name, for the renderers' callers.
const StageReady = string(scenario.StageReady)

// Segment is a stage of a task on a lane, in time from the run's start.
type Segment struct {
	Task       string // task1…
	Stage      string // connect, response, ready, compute; delay, write on server lanes
	Start, End time.Duration
	// OS thread the stage started and ended on; equal unless the
	// goroutine moved during the stage (when is not known).
	Thread, ThreadEnd int64
}

// Moved says the goroutine changed OS thread during the stage.
func (s Segment) Moved() bool { return s.ThreadEnd != s.Thread }

// Lane is a column of the diagram.
type Lane struct {
	Label    string // task1, or the OS thread id
	ID       int64  // goroutine id of a task, OS thread id of a thread
	Locked   bool   // a task that owns its OS thread
	Start    time.Duration
	End      time.Duration
	Segments []Segment
}

// Diagram is one scenario run, drawn.
type Diagram struct {
	*scenario.Timeline // the run as measured: Verify checks it

	TraceID       string
	Expected      time.Duration // as the client recorded it
	Start         time.Time
	PeakOSThreads int // the client process's, as it recorded it

	TaskLanes   []Lane // task1…taskN
	ServerLanes []Lane // the server's delay and write for each task; empty without server spans
	ThreadLanes []Lane // OS threads, in order of first use (scenario.HoldsThread)
}

// Build makes the model of the trace in spans: the client's spans, and the
// server's where present. Thread lane spans in the trace are not read: the
// lanes are worked out again from the stages, by the same rule.
func Build(traceID string, spans []Span) (*Diagram, error) {
	tr := index(spans)
	if tr.root == nil {
		return nil, errors.New("no scenario root span in the trace")
	}
	root := tr.root
	tl := &scenario.Timeline{
		Params: scenario.Params{
			Scenario: scenario.Scenario(str(root, tracing.KeyScenario)),
			Compute:  scenario.Compute(str(root, tracing.KeyCompute)),
			N:        int(num(root, tracing.KeyTasks)),
			Procs:    int(num(root, tracing.KeyGOMAXPROCS)),
			CPUs:     int(num(root, tracing.KeyNumCPU)),
			Unit:     ms(num(root, tracing.KeyUnitMS)),
		},
		Makespan: root.End.Sub(root.Start),
	}
	d := &Diagram{Timeline: tl, TraceID: traceID, Start: root.Start, Expected: ms(num(root, tracing.KeyExpectedMS)), PeakOSThreads: int(num(root, tracing.KeyPeakOSThreads))}
	at := func(t time.Time) time.Duration { return t.Sub(root.Start) }

	for _, s := range tr.children[root.ID] {
		i, err := scenario.ParseTaskLabel(s.Name)
		if err != nil {
			continue // a thread lane
		}
		g, _ := s.Int(string(tracing.KeyThreadID))
		locked, _ := s.Attrs[string(tracing.KeyLockedThread)].(bool)
		task := scenario.Task{Index: i, Goroutine: g, Locked: locked, Start: at(s.Start), End: at(s.End)}
		server := Lane{Label: s.Name}
		for _, c := range tr.children[s.ID] {
			if !slices.Contains(scenario.Stages, scenario.Stage(c.Name)) {
				continue
			}
			tid, _ := c.Int(string(tracing.KeyOSThreadID))
			tend, ok := c.Int(string(tracing.KeyOSThreadIDEnd))
			if !ok {
				tend = tid
			}
			task.Segments = append(task.Segments, scenario.Segment{Task: i, Stage: scenario.Stage(c.Name), Start: at(c.Start), End: at(c.End), Thread: tid, ThreadEnd: tend})
			if c.Name == tracing.SpanResponse {
				server.Segments = tr.serverSegments(c, s.Name, at)
			}
		}
		slices.SortStableFunc(task.Segments, func(a, b scenario.Segment) int { return cmp.Compare(a.Start, b.Start) })
		tl.Tasks = append(tl.Tasks, task)
		d.ServerLanes = append(d.ServerLanes, server)
	}
	if len(tl.Tasks) == 0 {
		return nil, errors.New("no task spans under the root")
	}
	slices.SortFunc(tl.Tasks, func(a, b scenario.Task) int { return cmp.Compare(a.Index, b.Index) })
	slices.SortFunc(d.ServerLanes, func(a, b Lane) int { return cmp.Compare(taskIndex(a.Label), taskIndex(b.Label)) })
	// A run that failed part-way has fewer tasks than it meant to.
	if tl.N == 0 {
		tl.N = len(tl.Tasks)
	}
	if !slices.ContainsFunc(d.ServerLanes, func(l Lane) bool { return len(l.Segments) > 0 }) {
		d.ServerLanes = nil
	}
	d.lanes()
	return d, nil
}

// lanes lays the timeline out as the renderers draw it.
func (d *Diagram) lanes() {
	for _, t := range d.Timeline.Tasks {
		l := Lane{Label: t.Label(), ID: t.Goroutine, Locked: t.Locked, Start: t.Start, End: t.End}
		for _, s := range t.Segments {
			l.Segments = append(l.Segments, segment(s))
		}
		d.TaskLanes = append(d.TaskLanes, l)
	}
	for _, tl := range d.Timeline.ThreadLanes() {
		l := Lane{Label: strconv.FormatInt(tl.Thread, 10), ID: tl.Thread, Start: tl.Start, End: tl.End}
		for _, s := range tl.Segments {
			l.Segments = append(l.Segments, segment(s))
		}
		d.ThreadLanes = append(d.ThreadLanes, l)
	}
}

func segment(s scenario.Segment) Segment {
	return Segment{Task: scenario.TaskLabel(s.Task), Stage: string(s.Stage), Start: s.Start, End: s.End, Thread: s.Thread, ThreadEnd: s.ThreadEnd}
}

// spanTree is the spans of one trace, by id and by parent.
type spanTree struct {
	root     *Span
	children map[string][]*Span
}

func index(spans []Span) spanTree {
	byID := map[string]*Span{}
	for i := range spans {
		byID[spans[i].ID] = &spans[i]
	}
	tr := spanTree{children: map[string][]*Span{}}
	for i := range spans {
		s := &spans[i]
		if _, ok := byID[s.Parent]; ok {
			tr.children[s.Parent] = append(tr.children[s.Parent], s)
		} else if strings.HasPrefix(s.Name, tracing.ScenarioSpanPrefix) {
			tr.root = s
		}
	}
	return tr
}

// serverSegments are the server's delay and write under a response span.
func (tr spanTree) serverSegments(response *Span, task string, at func(time.Time) time.Duration) []Segment {
	var out []Segment
	for _, echo := range tr.children[response.ID] {
		if echo.Name != tracing.SpanEcho {
			continue
		}
		for _, c := range tr.children[echo.ID] {
			if c.Name == tracing.SpanDelay || c.Name == tracing.SpanWrite {
				out = append(out, Segment{Task: task, Stage: c.Name, Start: at(c.Start), End: at(c.End)})
			}
		}
	}
	slices.SortFunc(out, func(a, b Segment) int { return cmp.Compare(a.Start, b.Start) })
	return out
}

func taskIndex(label string) int {
	i, _ := scenario.ParseTaskLabel(label)
	return i
}

func str(s *Span, k attribute.Key) string {
	v, _ := s.Attrs[string(k)].(string)
	return v
}

func num(s *Span, k attribute.Key) float64 {
	v, _ := s.Float(string(k))
	return v
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
