package threads

import "golang.org/x/sys/unix"

// OSThreadID is the calling OS thread's id (gettid).
func OSThreadID() int { return unix.Gettid() }
