//go:build !linux

package sockstamp

// The kernel's socket timestamps are a Linux API: see threads/linux_only.go.
// The undefined name below is the compile-time message.
var _ = asynctrace_is_linux_only__run_it_with_docker_compose
