package client

import (
	"runtime/metrics"
	"sync"
	"time"
)

// peakEvery is how often a run samples its OS threads and goroutines.
const peakEvery = 10 * time.Millisecond

// peak tracks the most OS threads, goroutines and stack memory seen
// during a run:
// sampled every peakEvery (Run, with every) and at the run's start, once
// its tasks are spawned, and at its end. Reading them takes a runtime
// lock: at every task event, 40,000 reads from 10,000 locked threads
// queued on it, and starting os-threads' tasks took seconds
// (docs/results.md). The sampler does not run while a hold keeps the only
// P; the OS threads a run creates stay until it ends (an idle thread is
// kept, not destroyed), so the sample at the end still counts them.
type peak struct {
	mu                  sync.Mutex
	threads, goroutines int
	stacks              int64
}

// readPeakMetrics reads the OS threads, goroutines and stack memory (the
// goroutines' stacks, and each OS thread's own runtime stacks) now.
func readPeakMetrics() (threads, goroutines int, stacks int64) {
	s := [3]metrics.Sample{{Name: "/sched/threads/total:threads"}, {Name: "/sched/goroutines:goroutines"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s[:])
	return int(s[0].Value.Uint64()), int(s[1].Value.Uint64()), int64(s[2].Value.Uint64())
}

func (p *peak) sample() {
	threads, goroutines, stacks := readPeakMetrics()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.threads = max(p.threads, threads)
	p.goroutines = max(p.goroutines, goroutines)
	p.stacks = max(p.stacks, stacks)
}

func (p *peak) get() (threads, goroutines int, stacks int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.threads, p.goroutines, p.stacks
}
