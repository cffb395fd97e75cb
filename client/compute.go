package client

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"asynctrace/scenario"
	"asynctrace/threads"
)

// block blocks for d in compute mode m (docs/design.md, "Compute modes")
// and returns when the stage ended, and on which OS thread.
//
// hold reads both before anything can yield: after a long hold, sysmon has
// asked for preemption, and the goroutine is descheduled at its next
// function call, to resume later and perhaps on another thread, which would
// make the stage look longer than it was, or look as if it moved.
//
// syscall cannot: syscall.Syscall6 returns through runtime.exitsyscall,
// which, when the P was handed to another thread meanwhile and none is
// free, queues the goroutine before the call returns (measured under
// GOMAXPROCS=1: three such sleeps to one deadline returned 0.08, 20 and
// 40 ms after it). That wait is the scheduler's, not the compute's, so the
// stage ends at the absolute deadline the sleep was given, which is when
// clock_nanosleep's sleep ended; the thread is the one it resumed on.
func block(ctx context.Context, m scenario.Compute, d time.Duration) (end time.Time, osThread int, err error) {
	switch m {
	case scenario.Hold, scenario.Syscall:
		start := time.Now()
		m0 := monotonic()
		m1, tid := sleepUntil(m0+d.Nanoseconds(), m == scenario.Hold)
		if m == scenario.Syscall {
			m1 = m0 + d.Nanoseconds()
		}
		return start.Add(time.Duration(m1 - m0)), tid, nil
	case scenario.CPU:
		spin(d)
	default:
		err = wait(ctx, d)
	}
	return time.Now(), threads.OSThreadID(), err
}

// wait is a context-aware sleep.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// CPU work: a fixed number of xorshift steps, calibrated once per process
// to take d on an idle core. Only a fixed amount of work is CPU work: a
// loop that spins until a wall-clock deadline takes as long whatever the
// scheduler does, and so shows nothing.
var (
	calibrateOnce sync.Once
	stepsPerMS    float64
	sink          atomic.Uint64
)

// Calibrate measures the CPU work rate; Run calls it before a scenario so
// that the measurement is not part of any stage.
func Calibrate() {
	calibrateOnce.Do(func() {
		n := uint64(1 << 16)
		for {
			t := time.Now()
			sink.Store(xorshift(n))
			if el := time.Since(t); el >= 20*time.Millisecond {
				// Best of three: a busy machine only slows the loop down.
				best := el
				for range 3 {
					t := time.Now()
					sink.Store(xorshift(n))
					best = min(best, time.Since(t))
				}
				stepsPerMS = float64(n) / (float64(best) / float64(time.Millisecond))
				return
			}
			n *= 2
		}
	})
}

func spin(d time.Duration) {
	Calibrate()
	sink.Store(xorshift(uint64(stepsPerMS * float64(d) / float64(time.Millisecond))))
}

//go:noinline
func xorshift(n uint64) uint64 {
	x := uint64(88172645463325252)
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}
