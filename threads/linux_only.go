//go:build !linux

package threads

// asynctrace reads OS thread ids (gettid), sleeps in clock_nanosleep and
// reads socket timestamps: Linux APIs. Elsewhere, run it with docker
// compose (cmd/diagram, which only reads Jaeger, builds everywhere). The
// undefined name below is the compile-time message.
var _ = asynctrace_is_linux_only__run_it_with_docker_compose
