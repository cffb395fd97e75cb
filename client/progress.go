package client

import (
	"fmt"
	"sync/atomic"
	"time"

	"asynctrace/tracing"
)

// LineTasks: runs of up to this many tasks print the article's four lines
// a task by default; larger ones a progress line (cmd/client, cmd/web).
const LineTasks = 48

// Progress is how far a run has come: how many tasks have passed each of
// the article's moments, and how many failed.
type Progress struct {
	Tasks                        int
	Started, Written, Read, Done int
	Failed                       int
	Elapsed, Expected            time.Duration
}

// String is the progress line:
// "2.1s of 2.8s expected: 10000 tasks, 10000 started, 9800 sent, 120 read, 0 done".
func (p Progress) String() string {
	s := fmt.Sprintf("%v of %v expected: %d tasks, %d started, %d sent, %d read, %d done",
		p.Elapsed.Round(100*time.Millisecond), p.Expected.Round(100*time.Millisecond), p.Tasks, p.Started, p.Written, p.Read, p.Done)
	if p.Failed > 0 {
		s += fmt.Sprintf(", %d failed", p.Failed)
	}
	return s
}

// counts are the runner's progress counters, one per moment.
type counts struct {
	started, written, read, done, failed atomic.Int64
}

func (c *counts) event(name string) {
	switch name {
	case tracing.EventStarted:
		c.started.Add(1)
	case tracing.EventWritten:
		c.written.Add(1)
	case tracing.EventRead:
		c.read.Add(1)
	case tracing.EventFinished:
		c.done.Add(1)
	}
}

func (r *runner) progress() Progress {
	c := &r.counts
	return Progress{
		Tasks: len(r.records), Started: int(c.started.Load()), Written: int(c.written.Load()),
		Read: int(c.read.Load()), Done: int(c.done.Load()), Failed: int(c.failed.Load()),
		Elapsed: time.Since(r.start), Expected: r.expected,
	}
}

// Every calls f every d from a goroutine of its own until the func it
// returns is called, which calls f once more and returns when f has run
// for the last time. The progress line, the peak sampler and the heap
// profile of the commands (cli.PeakHeapProfile) use it. Its
// goroutine does not run while a hold keeps the only P: f comes late
// then, as the article's lines would.
func Every(d time.Duration, f func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				f()
			case <-quit:
				f()
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}
