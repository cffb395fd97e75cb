package client

import (
	"runtime/metrics"
	"sync"
)

// peak tracks the most OS threads and goroutines seen at the run's moments
// (task events, start and end). A sampling goroutine would not run while a
// hold keeps the only P, and would disturb what it measures.
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
