package client

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"go.opentelemetry.io/otel/trace"

	"asynctrace/scenario"
	"asynctrace/tracing"
)

// A Tokio run's record, as the article's programs write it with --record
// (peers/tokio/src/record.rs; docs/trace.md, "Tokio's runs"): one JSON
// object a line, the run first, the end last, and between them, in the
// order they happened, each task's events, stages and end. Times are wall
// clock nanoseconds since the Unix epoch, threads gettid's.

// peerRecordVersion is the format this reader reads.
const peerRecordVersion = 1

// peerRun is a Tokio run as its program recorded it.
type peerRun struct {
	program, runtimeVersion string
	tasks                   []peerTask // task i at i-1
	unit                    time.Duration
	threads                 int // the runtime's workers, or the pool's threads
	traceID                 trace.TraceID
	start, end              time.Time
	peakRSS                 int64 // the program's, as it read it (VmHWM); 0: not said
}

// peerTask is one task of a peerRun.
type peerTask struct {
	start, end        time.Time
	thread, threadEnd int
	done              bool
	err               string // why it failed, if it did
	stages            []stageRecord
	events            []peerEvent
	arrival           string        // the response's end: tracing.TimeKernel or TimeClock
	hold, wait        time.Duration // what the server said (asynctrace's), 0 if nothing
}

type peerEvent struct {
	name   string
	at     time.Time
	thread int
}

// peerLine is any line of the record; which fields it has depends on its
// kind.
type peerLine struct {
	Record         string  `json:"record"`
	Version        int     `json:"version"`
	Program        string  `json:"program"`
	Runtime        string  `json:"runtime"`
	RuntimeVersion string  `json:"runtime_version"`
	Tasks          int     `json:"tasks"`
	UnitNS         int64   `json:"unit_ns"`
	Threads        int     `json:"threads"`
	TraceID        string  `json:"trace_id"`
	Task           int     `json:"task"`
	Event          string  `json:"event"`
	Stage          string  `json:"stage"`
	AtNS           *int64  `json:"at_ns"`
	StartNS        *int64  `json:"start_ns"`
	EndNS          *int64  `json:"end_ns"`
	Thread         int     `json:"thread"`
	ThreadEnd      int     `json:"thread_end"`
	SpanID         string  `json:"span_id"`
	Arrival        string  `json:"arrival"`
	HoldNS         *int64  `json:"hold_ns"`
	WaitNS         *int64  `json:"wait_ns"`
	Error          *string `json:"error"`
	PeakRSSBytes   int64   `json:"peak_rss_bytes"`
}

// readPeerRecord reads a run's record, and says what is wrong with one
// that is malformed, truncated or out of order, rather than make up what
// it lacks.
func readPeerRecord(r io.Reader) (*peerRun, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var run *peerRun
	ended := false
	for n := 1; sc.Scan(); n++ {
		var l peerLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if ended {
			return nil, fmt.Errorf("line %d: %q after the end record", n, l.Record)
		}
		var err error
		switch {
		case run == nil && l.Record != "run":
			err = fmt.Errorf("the record begins with %q, not the run", l.Record)
		case l.Record == "run":
			if run != nil {
				err = errors.New("a second run record")
				break
			}
			run, err = l.run()
		case l.Record == "end":
			ended = true
			if l.EndNS == nil {
				err = errors.New("end without end_ns")
				break
			}
			run.end, run.peakRSS = time.Unix(0, *l.EndNS), l.PeakRSSBytes
			if run.end.Before(run.start) {
				err = errors.New("the run ends before it starts")
			}
		default:
			err = run.add(l)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	switch {
	case run == nil:
		return nil, errors.New("an empty record")
	case !ended:
		return nil, errors.New("truncated: no end record (did the program stop before it wrote one?)")
	}
	for i, t := range run.tasks {
		if !t.done {
			return nil, fmt.Errorf("truncated: %s has no end", scenario.TaskLabel(i+1))
		}
		if t.end.After(run.end) {
			return nil, fmt.Errorf("%s ends after the run", scenario.TaskLabel(i+1))
		}
	}
	return run, nil
}

func (l peerLine) run() (*peerRun, error) {
	switch {
	case l.Version != peerRecordVersion:
		return nil, fmt.Errorf("record version %d; this client reads %d", l.Version, peerRecordVersion)
	case l.Runtime != string(scenario.Tokio):
		return nil, fmt.Errorf("runtime %q, want %q", l.Runtime, scenario.Tokio)
	case l.Tasks < 1:
		return nil, fmt.Errorf("%d tasks", l.Tasks)
	case l.UnitNS <= 0:
		return nil, fmt.Errorf("unit %dns", l.UnitNS)
	case l.StartNS == nil:
		return nil, errors.New("run without start_ns")
	}
	id, err := trace.TraceIDFromHex(l.TraceID)
	if err != nil {
		return nil, fmt.Errorf("trace id %q: %w", l.TraceID, err)
	}
	return &peerRun{program: l.Program, runtimeVersion: l.RuntimeVersion, tasks: make([]peerTask, l.Tasks),
		unit: time.Duration(l.UnitNS), threads: l.Threads, traceID: id, start: time.Unix(0, *l.StartNS)}, nil
}

// add adds an event, a stage or a task's end to its task.
func (run *peerRun) add(l peerLine) error {
	if l.Task < 1 || l.Task > len(run.tasks) {
		return fmt.Errorf("task %d of a %d-task run", l.Task, len(run.tasks))
	}
	t := &run.tasks[l.Task-1]
	label := scenario.TaskLabel(l.Task)
	if t.done {
		return fmt.Errorf("%s: a %s record after its end", label, l.Record)
	}
	at := func(ns *int64, what string) (time.Time, error) {
		if ns == nil {
			return time.Time{}, fmt.Errorf("%s: %s without %s", label, l.Record, what)
		}
		v := time.Unix(0, *ns)
		if v.Before(run.start) {
			return v, fmt.Errorf("%s: %s at %s, before the run began", label, what, v.Sub(run.start))
		}
		return v, nil
	}
	// span is the record's start and end, the one not before the other.
	span := func(what string) (start, end time.Time, err error) {
		if start, err = at(l.StartNS, "start_ns"); err != nil {
			return
		}
		if end, err = at(l.EndNS, "end_ns"); err == nil && end.Before(start) {
			err = fmt.Errorf("%s: %s ends before it starts", label, what)
		}
		return
	}
	switch l.Record {
	case "event":
		switch l.Event {
		case tracing.EventStarted, tracing.EventWritten, tracing.EventRead, tracing.EventFinished:
		default:
			return fmt.Errorf("%s: unknown event %q", label, l.Event)
		}
		v, err := at(l.AtNS, "at_ns")
		if err != nil {
			return err
		}
		t.events = append(t.events, peerEvent{l.Event, v, l.Thread})
	case "stage":
		return t.addStage(label, l, span)
	case "task":
		start, end, err := span("the task")
		if err != nil {
			return err
		}
		if n := len(t.stages); n > 0 && t.stages[n-1].end.After(end) {
			return fmt.Errorf("%s ends before its %s", label, t.stages[n-1].stage)
		}
		t.start, t.end, t.thread, t.threadEnd, t.done = start, end, l.Thread, l.ThreadEnd, true
		if l.Error != nil {
			t.err = *l.Error
		} else if len(t.stages) < len(scenario.Stages) {
			return fmt.Errorf("%s ended without error after %d of its %d stages", label, len(t.stages), len(scenario.Stages))
		}
	default:
		return fmt.Errorf("unknown record %q", l.Record)
	}
	return nil
}

// addStage adds a task's next stage, which must be the next in the
// article's order, and begin no earlier than the one before ended.
func (t *peerTask) addStage(label string, l peerLine, span func(what string) (start, end time.Time, err error)) error {
	next := len(t.stages)
	if next >= len(scenario.Stages) {
		return fmt.Errorf("%s: a stage %q after its compute", label, l.Stage)
	}
	if want := scenario.Stages[next]; l.Stage != string(want) {
		return fmt.Errorf("%s: stage %q where %q comes next: out of order", label, l.Stage, want)
	}
	start, end, err := span(l.Stage)
	if err != nil {
		return err
	}
	if next > 0 && start.Before(t.stages[next-1].end) {
		return fmt.Errorf("%s: %s starts before its %s ended", label, l.Stage, t.stages[next-1].stage)
	}
	s := stageRecord{stage: scenario.Stages[next], start: start, end: end, thread: l.Thread, threadEnd: l.ThreadEnd}
	if s.stage == scenario.StageResponse {
		b, err := hex.DecodeString(l.SpanID)
		if err != nil || len(b) != len(s.span) {
			return fmt.Errorf("%s: response span id %q", label, l.SpanID)
		}
		copy(s.span[:], b)
		if !s.span.IsValid() {
			return fmt.Errorf("%s: response span id %q", label, l.SpanID)
		}
		switch l.Arrival {
		case tracing.TimeKernel, tracing.TimeClock:
			t.arrival = l.Arrival
		default:
			return fmt.Errorf("%s: arrival %q", label, l.Arrival)
		}
		if l.HoldNS != nil && l.WaitNS != nil {
			t.hold, t.wait = time.Duration(*l.HoldNS), time.Duration(*l.WaitNS)
		}
	}
	t.stages = append(t.stages, s)
	return nil
}
