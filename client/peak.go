package client

import (
	"runtime/metrics"
	"sync"
	"time"
)

// peakEvery is how often a run samples its OS threads and goroutines.
const peakEvery = 10 * time.Millisecond

// peak tracks the most OS threads and goroutines seen during a run:
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
}

func (p *peak) sample() {
	s := [2]metrics.Sample{{Name: "/sched/threads/total:threads"}, {Name: "/sched/goroutines:goroutines"}}
	metrics.Read(s[:])
	p.mu.Lock()
	defer p.mu.Unlock()
	p.threads = max(p.threads, int(s[0].Value.Uint64()))
	p.goroutines = max(p.goroutines, int(s[1].Value.Uint64()))
}

func (p *peak) get() (threads, goroutines int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.threads, p.goroutines
}
