// Package diagram draws the article's execution diagrams from real spans:
// time running down, a lane per task on the left, a lane per OS thread on
// the right, the stages in the article's colours, to scale. It builds one
// model (Build) from the client's own spans or a trace fetched from Jaeger,
// renders it for a terminal (WriteText) or as SVG (WriteSVG), and checks it
// against its scenario's expected timeline (Verify).
package diagram

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"asynctrace/client"
	"asynctrace/tracing"
)

// Stages drawn, beyond the span names of the trace contract.
const (
	// StageReady is the end of a response span after the server had
	// written the reply: the bytes were there, the goroutine was waiting
	// for a thread. Only known where the trace has the server's spans.
	StageReady = "ready"
)

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

// Diagram is one scenario run.
type Diagram struct {
	TraceID    string
	Scenario   client.Scenario
	Compute    client.Compute
	Tasks      int
	GOMAXPROCS int
	NumCPU     int
	Unit       time.Duration
	Makespan   time.Duration
	Expected   time.Duration // as the client recorded it
	Start      time.Time

	TaskLanes   []Lane // task1…taskN
	ServerLanes []Lane // the server's delay and write for each task; empty without server spans
	ThreadLanes []Lane // OS threads, in order of first use
}

// Build makes the model of the trace in spans: the client's spans, and the
// server's where present.
func Build(traceID string, spans []Span) (*Diagram, error) {
	byID := map[string]*Span{}
	children := map[string][]*Span{}
	for i := range spans {
		s := &spans[i]
		byID[s.ID] = s
	}
	var root *Span
	for i := range spans {
		s := &spans[i]
		if _, ok := byID[s.Parent]; ok {
			children[s.Parent] = append(children[s.Parent], s)
		} else if strings.HasPrefix(s.Name, tracing.ScenarioSpanName("")) {
			root = s
		}
	}
	if root == nil {
		return nil, errors.New("no scenario root span in the trace")
	}
	d := &Diagram{TraceID: traceID, Start: root.Start, Makespan: root.End.Sub(root.Start)}
	d.Scenario = client.Scenario(str(root, tracing.KeyScenario))
	d.Compute = client.Compute(str(root, tracing.KeyCompute))
	d.Tasks = int(num(root, tracing.KeyTasks))
	d.GOMAXPROCS = int(num(root, tracing.KeyGOMAXPROCS))
	d.NumCPU = int(num(root, tracing.KeyNumCPU))
	d.Unit = ms(num(root, tracing.KeyUnitMS))
	d.Expected = ms(num(root, tracing.KeyExpectedMS))
	at := func(t time.Time) time.Duration { return t.Sub(root.Start) }

	var tasks []*Span
	for _, s := range children[root.ID] {
		if _, err := taskIndex(s.Name); err == nil {
			tasks = append(tasks, s)
		}
	}
	slices.SortFunc(tasks, func(a, b *Span) int {
		ai, _ := taskIndex(a.Name)
		bi, _ := taskIndex(b.Name)
		return cmp.Compare(ai, bi)
	})
	if len(tasks) == 0 {
		return nil, errors.New("no task spans under the root")
	}
	// A run that failed part-way has fewer tasks than it meant to.
	if d.Tasks == 0 {
		d.Tasks = len(tasks)
	}

	threads := map[int64]*Lane{}
	var threadOrder []int64
	occupy := func(seg Segment) {
		l, ok := threads[seg.Thread]
		if !ok {
			l = &Lane{Label: strconv.FormatInt(seg.Thread, 10), ID: seg.Thread}
			threads[seg.Thread] = l
			threadOrder = append(threadOrder, seg.Thread)
		}
		l.Segments = append(l.Segments, seg)
	}

	for _, task := range tasks {
		g, _ := task.Int(string(tracing.KeyThreadID))
		locked, _ := task.Attrs[string(tracing.KeyLockedThread)].(bool)
		lane := Lane{Label: task.Name, ID: g, Locked: locked, Start: at(task.Start), End: at(task.End)}
		server := Lane{Label: task.Name}
		stages := map[string]*Span{}
		for _, s := range children[task.ID] {
			stages[s.Name] = s
		}
		for _, name := range []string{tracing.SpanConnect, tracing.SpanResponse, tracing.SpanCompute} {
			s := stages[name]
			if s == nil {
				continue
			}
			tid, _ := s.Int(string(tracing.KeyOSThreadID))
			tend, ok := s.Int(string(tracing.KeyOSThreadIDEnd))
			if !ok {
				tend = tid
			}
			seg := Segment{Task: task.Name, Stage: name, Start: at(s.Start), End: at(s.End), Thread: tid, ThreadEnd: tend}

			var written time.Duration // when the server's reply was written
			if name == tracing.SpanResponse {
				for _, echo := range children[s.ID] {
					if echo.Name != tracing.SpanEcho {
						continue
					}
					for _, c := range children[echo.ID] {
						if c.Name == tracing.SpanDelay || c.Name == tracing.SpanWrite {
							server.Segments = append(server.Segments, Segment{Task: task.Name, Stage: c.Name, Start: at(c.Start), End: at(c.End)})
						}
						if c.Name == tracing.SpanWrite {
							written = at(c.End)
						}
					}
				}
			}
			// Where the reply was there well before the goroutine ran
			// again, show the wait for a thread on its own.
			if written > seg.Start && seg.End-written > readyThreshold(d.Unit) {
				ready := seg
				seg.End, ready.Start, ready.Stage = written, written, StageReady
				seg.ThreadEnd = seg.Thread // the move, if any, is the ready part's
				lane.Segments = append(lane.Segments, seg, ready)
			} else {
				lane.Segments = append(lane.Segments, seg)
			}
			// DESIGN.md, "Diagrams": compute holds its thread; connect and
			// response only where the task is locked to its thread.
			if name == tracing.SpanCompute || locked {
				occupy(seg)
			}
		}
		slices.SortFunc(server.Segments, func(a, b Segment) int { return cmp.Compare(a.Start, b.Start) })
		d.TaskLanes = append(d.TaskLanes, lane)
		d.ServerLanes = append(d.ServerLanes, server)
	}
	if !slices.ContainsFunc(d.ServerLanes, func(l Lane) bool { return len(l.Segments) > 0 }) {
		d.ServerLanes = nil
	}
	for _, id := range threadOrder {
		l := threads[id]
		slices.SortFunc(l.Segments, func(a, b Segment) int { return cmp.Compare(a.Start, b.Start) })
		d.ThreadLanes = append(d.ThreadLanes, *l)
	}
	slices.SortStableFunc(d.ThreadLanes, func(a, b Lane) int { return cmp.Compare(a.Segments[0].Start, b.Segments[0].Start) })
	return d, nil
}

// readyThreshold: shorter waits for a thread are scheduling noise.
func readyThreshold(unit time.Duration) time.Duration {
	return max(time.Millisecond, unit/20)
}

func taskIndex(name string) (int, error) {
	if !strings.HasPrefix(name, "task") {
		return 0, fmt.Errorf("not a task: %q", name)
	}
	return strconv.Atoi(strings.TrimPrefix(name, "task"))
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
