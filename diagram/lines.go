package diagram

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"time"

	"asynctrace/scenario"
)

// PrintedNote marks a diagram read from printed lines: what it cannot show.
const PrintedNote = "Tokio's run, measured by its own prints: no ready time can be known from them"

// articleLine is one of the lines the article's programs print, as Rust
// formats a ThreadId and a Duration:
//
//	OS Thread ThreadId(2) - task1 started: 17.055µs
var articleLine = regexp.MustCompile(`^OS Thread ThreadId\((\d+)\) - (task\d+) (started|written|read|finished): (\S+)$`)

// ReadPrinted reads the lines a run of the article's programs printed
// (peers/tokio, or the article's own output) into a diagram drawn like
// asynctrace's: started→written is connect, written→read is response,
// read→finished is compute, and the thread ids give the thread lanes. The
// lines say nothing of when a reply arrived, so there is no ready stage:
// a task whose reply waited for its thread shows it as a longer response.
// Lines of other kinds (a server's, a blank) are skipped.
//
// The scenario is the one the lines show, unless sc names it: the tasks
// one after another on one thread (sync), all on one thread (single-
// thread), each task on a thread of its own throughout (os-threads), or
// moving between a pool's threads (multi-thread); its P is the number of
// threads that computed.
func ReadPrinted(r io.Reader, unit time.Duration, sc scenario.Scenario) (*Diagram, error) {
	type event struct {
		at     time.Duration
		thread int64
	}
	tasks := map[int]map[string]event{}
	s := bufio.NewScanner(r)
	for s.Scan() {
		m := articleLine.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		thread, _ := strconv.ParseInt(m[1], 10, 64)
		i, err := scenario.ParseTaskLabel(m[2])
		if err != nil {
			return nil, err
		}
		at, err := time.ParseDuration(m[4])
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s.Text(), err)
		}
		if tasks[i] == nil {
			tasks[i] = map[string]event{}
		}
		tasks[i][m[3]] = event{at, thread}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(tasks) == 0 {
		return nil, errors.New("no line like the article's (OS Thread ThreadId(1) - task1 started: 3.994µs)")
	}

	tl := &scenario.Timeline{Params: scenario.Params{Compute: scenario.Hold, Unit: unit}}
	for i, ev := range tasks {
		var segs []scenario.Segment
		for _, st := range []struct {
			stage    scenario.Stage
			from, to string
		}{{scenario.StageConnect, "started", "written"}, {scenario.StageResponse, "written", "read"}, {scenario.StageCompute, "read", "finished"}} {
			a, okA := ev[st.from]
			b, okB := ev[st.to]
			if !okA || !okB {
				return nil, fmt.Errorf("task%d: no %q or %q line", i, st.from, st.to)
			}
			segs = append(segs, scenario.Segment{Task: i, Stage: st.stage, Start: a.at, End: b.at, Thread: a.thread, ThreadEnd: b.thread})
		}
		tl.Tasks = append(tl.Tasks, scenario.Task{Index: i, Start: ev["started"].at, End: ev["finished"].at, Segments: segs})
		tl.Makespan = max(tl.Makespan, ev["finished"].at)
	}
	slices.SortFunc(tl.Tasks, func(a, b scenario.Task) int { return cmp.Compare(a.Index, b.Index) })
	tl.N = len(tl.Tasks)
	if sc == "" {
		sc = printedScenario(tl.Tasks)
	}
	tl.Scenario = sc
	computing := map[int64]bool{}
	for k := range tl.Tasks {
		tl.Tasks[k].Locked = sc.Locked()
		c, _ := tl.Tasks[k].Segment(scenario.StageCompute)
		computing[c.Thread] = true
	}
	tl.Procs, tl.CPUs = len(computing), len(computing)
	d := New(tl)
	d.Expected, _ = tl.Params.Expected()
	d.Note = PrintedNote
	return d, nil
}

// printedScenario is the article's scenario that tasks show.
func printedScenario(tasks []scenario.Task) scenario.Scenario {
	threads, serial, ownThread := map[int64]bool{}, true, true
	for k, t := range tasks {
		if k > 0 && t.Start < tasks[k-1].End {
			serial = false
		}
		for _, s := range t.Segments {
			threads[s.Thread], threads[s.ThreadEnd] = true, true
			if s.Thread != t.Segments[0].Thread || s.ThreadEnd != t.Segments[0].Thread {
				ownThread = false
			}
		}
	}
	switch {
	case len(threads) == 1 && serial:
		return scenario.Sync
	case len(threads) == 1:
		return scenario.SingleThread
	case ownThread && len(threads) == len(tasks):
		return scenario.OSThreads
	}
	return scenario.MultiThread
}
