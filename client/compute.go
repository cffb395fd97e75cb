package client

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Compute is how a task's compute stage blocks (DESIGN.md, "Compute modes").
// The article's computation is std::thread::sleep inside async code: it
// blocks the OS thread, and so the executor, without using the CPU. Go gives
// four different answers to "block for 4u".
type Compute string

const (
	// Hold sleeps in a raw system call the scheduler is not told about: the
	// goroutine keeps its OS thread and its P, as Tokio's worker does.
	Hold Compute = "hold"
	// Syscall sleeps in an ordinary system call: the runtime hands the P to
	// another thread, as Tokio's block_in_place would.
	Syscall Compute = "syscall"
	// CPU spins through a calibrated amount of work: preemption
	// time-slices it with the other goroutines.
	CPU Compute = "cpu"
	// Sleep parks the goroutine (time.Sleep), like tokio::time::sleep.
	Sleep Compute = "sleep"
)

// Computes lists the modes.
var Computes = []Compute{Hold, Syscall, CPU, Sleep}

// ParseCompute accepts a mode's name.
func ParseCompute(s string) (Compute, error) {
	for _, m := range Computes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown compute mode %q (want one of %s)", s, Names(Computes))
}

// run blocks for d in mode m and returns when the stage ended, and on which
// OS thread. For hold and syscall both are read before anything can yield:
// after a long hold, sysmon has asked for preemption, and the goroutine is
// descheduled at its next function call, to resume later and perhaps on
// another thread, which would make the stage look longer than it was, or
// look as if it moved.
func (m Compute) run(ctx context.Context, d time.Duration) (end time.Time, osThread int, err error) {
	switch m {
	case Hold, Syscall:
		start := time.Now()
		m0 := monotonic()
		m1, tid := sleepUntil(m0+d.Nanoseconds(), m == Hold)
		return start.Add(time.Duration(m1 - m0)), tid, nil
	case CPU:
		spin(d)
	default:
		err = wait(ctx, d)
	}
	return time.Now(), unix.Gettid(), err
}

// sleepUntil sleeps until the CLOCK_MONOTONIC deadline and returns the
// clock when it woke, and the OS thread it woke on. The runtime's preemption signal interrupts the sleep
// about every 10ms; an absolute deadline makes restarting it exact (a
// relative restart drifted +25ms per 4s). nosplit: no preemption check
// between waking and reading the clock.
//
//go:nosplit
func sleepUntil(deadline int64, raw bool) (int64, int) {
	ts := unix.NsecToTimespec(deadline)
	for {
		var errno syscall.Errno
		if raw {
			_, _, errno = syscall.RawSyscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		} else {
			_, _, errno = syscall.Syscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		}
		if errno != unix.EINTR {
			break
		}
	}
	now := monotonic()
	tid, _, _ := syscall.RawSyscall(unix.SYS_GETTID, 0, 0, 0)
	return now, int(tid)
}

// monotonic reads CLOCK_MONOTONIC, the clock of time.Now's monotonic
// reading, through a raw system call that cannot yield.
//
//go:nosplit
func monotonic() int64 {
	var ts unix.Timespec
	syscall.RawSyscall(unix.SYS_CLOCK_GETTIME, unix.CLOCK_MONOTONIC, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Sec*1e9 + ts.Nsec
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

// Calibrate measures the CPU work rate; run calls it before a scenario so
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
