package client

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sleepUntil sleeps until the CLOCK_MONOTONIC deadline and returns the
// clock when it woke, and the OS thread it woke on; raw: through
// RawSyscall, so that the scheduler is not told (hold). The runtime's
// preemption signal interrupts the sleep about every 10ms; an absolute
// deadline makes restarting it exact (a relative restart drifted +25ms per
// 4s: docs/design.md, "Measured facts"). nosplit: no preemption check
// between waking and reading the clock; but with raw false, Syscall6
// itself may wait for a P before it returns (block says what then).
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
