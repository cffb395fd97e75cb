//go:build !linux

package tracing

// asynctrace reads OS thread ids (gettid), sleeps in clock_nanosleep and
// reads socket timestamps: Linux APIs. Elsewhere, run it with docker
// compose. The undefined name below is the compile-time message.
var _ = asynctrace_is_linux_only__run_it_with_docker_compose
