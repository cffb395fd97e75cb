package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"asynctrace/scenario"
)

func TestCause(t *testing.T) {
	dial := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("task3: %w", stageError{scenario.StageConnect, dial(syscall.ECONNREFUSED)}), "connect: refused (ECONNREFUSED: no server, or its listen queue full)"},
		{stageError{scenario.StageConnect, dial(syscall.EMFILE)}, "connect: out of file descriptors (EMFILE/ENFILE: raise ulimit -n)"},
		{stageError{scenario.StageConnect, dial(syscall.EADDRNOTAVAIL)}, "connect: out of local ports (EADDRNOTAVAIL)"},
		{stageError{scenario.StageConnect, dial(syscall.ETIMEDOUT)}, "connect: timed out in the kernel (ETIMEDOUT)"},
		{stageError{scenario.StageResponse, fmt.Errorf("the server closed the connection: %w", io.EOF)}, "response: closed by the server (reset or EOF: -max-conns, -request-timeout, or stopping)"},
		{stageError{scenario.StageResponse, fmt.Errorf("no echo: %w", os.ErrDeadlineExceeded)}, "response: no echo by the run's response deadline"},
		{stageError{scenario.StageCompute, context.Canceled}, "compute: cancelled"},
		{fmt.Errorf("task1: %w", io.ErrClosedPipe), "task: other"},
	}
	for _, tt := range tests {
		if got := Cause(tt.err); got != tt.want {
			t.Errorf("Cause(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
