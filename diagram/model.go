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
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"asynctrace/scenario"
	"asynctrace/tracing"
)

// Diagram is one scenario run, drawn.
type Diagram struct {
	*scenario.Timeline // the run as measured: Verify checks it

	TraceID       string
	Expected      time.Duration // as the client recorded it
	Start         time.Time
	PeakOSThreads int // the client process's, as it recorded it

	// Server has, for each of the Timeline's tasks in order, the
	// server's delay and write within its response; nil without server
	// spans.
	Server [][]scenario.Segment
	// Threads are the OS thread lanes (Timeline.ThreadLanes), in order of
	// first use.
	Threads []scenario.Lane
	// Note, if not empty, says where the run was measured and what the
	// figure cannot show (PrintedNote); the renderers print it.
	Note string
	// PlainServer: the client said its server echoed the preamble (a plain
	// echo server): the trace has no server spans, and none are awaited.
	PlainServer bool
}

// knobs says how the run was set up, for the renderers' titles.
func (d *Diagram) knobs() string {
	if d.Note != "" {
		return fmt.Sprintf("%d thread(s) computed, the compute blocking its thread", d.Procs)
	}
	threads := scenario.Threads(d.Runtime, d.Scenario, d.Procs)
	if d.Runtime == scenario.Tokio {
		threads = "Tokio, " + threads
	}
	return fmt.Sprintf("%s, compute %s", threads, d.Compute)
}

// New is the diagram of a timeline measured elsewhere (a Tokio run's
// printed lines, a test's): its thread lanes by the lane rule, no server
// segments.
func New(tl *scenario.Timeline) *Diagram {
	return &Diagram{Timeline: tl, Threads: tl.ThreadLanes()}
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
			Runtime:  scenario.Runtime(str(root, tracing.KeyRuntime)),
			Scenario: scenario.Scenario(str(root, tracing.KeyScenario)),
			Compute:  scenario.Compute(str(root, tracing.KeyCompute)),
			N:        int(num(root, tracing.KeyTasks)),
			Procs:    int(num(root, tracing.KeyGOMAXPROCS)),
			CPUs:     int(num(root, tracing.KeyNumCPU)),
			Unit:     scenario.FromMS(num(root, tracing.KeyUnitMS)),
		},
		Makespan: root.End.Sub(root.Start),
	}
	d := &Diagram{Timeline: tl, TraceID: traceID, Start: root.Start, Expected: scenario.FromMS(num(root, tracing.KeyExpectedMS)), PeakOSThreads: int(num(root, tracing.KeyPeakOSThreads)),
		PlainServer: slices.Contains(root.Events, tracing.EventPlainServer)}
	at := func(t time.Time) time.Duration { return t.Sub(root.Start) }

	for _, s := range tr.tasks() {
		if task, server, ok := tr.task(s, at); ok {
			tl.Tasks = append(tl.Tasks, task)
			d.Server = append(d.Server, server)
		}
	}
	if len(tl.Tasks) == 0 {
		return nil, errors.New("no task spans under the root")
	}
	// Tasks in task order, each with its server segments.
	order := make([]int, len(tl.Tasks))
	for k := range order {
		order[k] = k
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(tl.Tasks[a].Index, tl.Tasks[b].Index) })
	tasks, server := make([]scenario.Task, len(order)), make([][]scenario.Segment, len(order))
	for k, o := range order {
		tasks[k], server[k] = tl.Tasks[o], d.Server[o]
	}
	tl.Tasks, d.Server = tasks, server
	// A run that failed part-way has fewer tasks than it meant to.
	if tl.N == 0 {
		tl.N = len(tl.Tasks)
	}
	if !slices.ContainsFunc(d.Server, func(s []scenario.Segment) bool { return len(s) > 0 }) {
		d.Server = nil
	}
	d.Threads = tl.ThreadLanes()
	return d, nil
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

// task reads one task span: its stages in order, the network it saw, and
// the server's delay and write under its response.
func (tr spanTree) task(s *Span, at func(time.Time) time.Duration) (scenario.Task, []scenario.Segment, bool) {
	i, err := scenario.ParseTaskLabel(str(s, tracing.KeyTask))
	if err != nil {
		return scenario.Task{}, nil, false
	}
	g, _ := s.Int(string(tracing.KeyThreadID))
	locked, _ := s.Attrs[string(tracing.KeyLockedThread)].(bool)
	task := scenario.Task{Index: i, Goroutine: g, Locked: locked, Start: at(s.Start), End: at(s.End)}
	var server []scenario.Segment
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
		switch c.Name {
		case tracing.SpanConnect:
			task.Handshake = scenario.FromMS(num(c, tracing.KeyHandshakeMS))
		case tracing.SpanResponse:
			server = tr.serverSegments(c, i, at)
			tr.network(&task, c)
		}
	}
	slices.SortStableFunc(task.Segments, func(a, b scenario.Segment) int { return cmp.Compare(a.Start, b.Start) })
	return task, server, true
}

// tasks are the task spans: under the root's tasks span, or, in traces
// from before there was one, under the root itself. Thread lane spans are
// not read: the lanes are worked out again from the stages.
func (tr spanTree) tasks() []*Span {
	var out []*Span
	for _, s := range tr.children[tr.root.ID] {
		switch {
		case s.Name == tracing.SpanTasks:
			out = append(out, tr.children[s.ID]...)
		case s.Attrs[string(tracing.KeyLockedThread)] != nil:
			out = append(out, s)
		}
	}
	return out
}

// network reads a task's round trip and the server's hold: from the
// server's own echo span where the trace has it (the response less the
// echo, each on its own host's clock; the hold the server measured), else
// as the client recorded them on its response span.
func (tr spanTree) network(t *scenario.Task, response *Span) {
	t.RoundTrip = scenario.FromMS(num(response, tracing.KeyRoundTripMS))
	t.ServerHold = scenario.FromMS(num(response, tracing.KeyServerHoldMS))
	for _, echo := range tr.children[response.ID] {
		if echo.Name != tracing.SpanEcho {
			continue
		}
		t.RoundTrip = max(0, response.End.Sub(response.Start)-echo.End.Sub(echo.Start))
		if h := scenario.FromMS(num(echo, tracing.KeyHoldMS)); h > 0 {
			t.ServerHold = h
		}
	}
}

// serverSegments are the server's delay and write under a response span.
func (tr spanTree) serverSegments(response *Span, task int, at func(time.Time) time.Duration) []scenario.Segment {
	var out []scenario.Segment
	for _, echo := range tr.children[response.ID] {
		if echo.Name != tracing.SpanEcho {
			continue
		}
		for _, c := range tr.children[echo.ID] {
			if c.Name == tracing.SpanDelay || c.Name == tracing.SpanWrite {
				out = append(out, scenario.Segment{Task: task, Stage: scenario.Stage(c.Name), Start: at(c.Start), End: at(c.End)})
			}
		}
	}
	slices.SortFunc(out, func(a, b scenario.Segment) int { return cmp.Compare(a.Start, b.Start) })
	return out
}

func str(s *Span, k attribute.Key) string {
	v, _ := s.Attrs[string(k)].(string)
	return v
}

func num(s *Span, k attribute.Key) float64 {
	v, _ := s.Float(string(k))
	return v
}

// ServerSpans says how many of the server's stage spans (delay and write,
// two a task) the trace holds, and how many the client's requests caused.
func (d *Diagram) ServerSpans() (have, want int) {
	for _, segs := range d.Server {
		have += len(segs)
	}
	if d.PlainServer {
		return have, 0
	}
	return have, 2 * len(d.Tasks)
}

// EchoSlack is how far the server's echo may lie outside its response and
// still count as inside: Jaeger's microseconds, rounded at both ends.
// (Jaeger itself, with clock skew adjustment off, its default, warns of
// any amount.)
const EchoSlack = time.Millisecond

// Verify is the timeline's checks (scenario.Timeline.Verify), and, where
// the trace has the server's spans, that each echo, from its delay's start
// to its write's end, lies inside its task's response: the server's clock
// against the client's, across hosts.
func (d *Diagram) Verify(exp scenario.Expectation) []scenario.Check {
	checks := d.Timeline.Verify(exp)
	have, want := d.ServerSpans()
	switch {
	case d.PlainServer:
		checks = append(checks, scenario.Check{Name: "server spans", OK: true, Detail: "none: the server echoed the preamble, a plain echo server"})
		return checks
	case have < want:
		checks = append(checks, scenario.Check{Name: "server spans", OK: false, Detail: fmt.Sprintf("%d of the %d delay and write spans the requests caused are in the trace", have, want)})
		return checks
	}
	var outside []string
	worst := time.Duration(0)
	for i, t := range d.Tasks {
		resp, ok := t.Segment(scenario.StageResponse)
		segs := d.Server[i]
		if !ok || len(segs) == 0 {
			continue
		}
		echoStart, echoEnd := segs[0].Start, segs[len(segs)-1].End
		out := max(resp.Start-echoStart, echoEnd-resp.End, 0)
		worst = max(worst, out)
		if out > EchoSlack {
			outside = append(outside, fmt.Sprintf("%s by %v", t.Label(), out))
		}
	}
	detail := fmt.Sprintf("every echo inside its response (allowed %v outside; largest %v)", EchoSlack, worst)
	if len(outside) > 0 {
		detail = fmt.Sprintf("echoes outside their response, beyond %v: %s (the two hosts' clocks differ?)", EchoSlack, strings.Join(outside, ", "))
	}
	checks = append(checks, scenario.Check{Name: "echo inside response", OK: len(outside) == 0, Detail: detail})
	return checks
}
