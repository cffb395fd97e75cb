package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
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
		{stageError{scenario.StageConnect, dial(syscall.EMFILE)}, "connect: out of file descriptors (EMFILE/ENFILE)"},
		{stageError{scenario.StageConnect, dial(syscall.EADDRNOTAVAIL)}, "connect: out of local ports (EADDRNOTAVAIL)"},
		{stageError{scenario.StageConnect, dial(syscall.ETIMEDOUT)}, "connect: timed out in the kernel (ETIMEDOUT)"},
		{stageError{scenario.StageResponse, fmt.Errorf("the server closed the connection: %w", io.EOF)}, "response: closed by the server (reset or EOF: past its connection limit or request timeout, or stopping)"},
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

// Failures group the errors by cause, the most frequent first, with the
// first few of each: what a run of thousands of failed tasks prints.
func TestFailures(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	errs := make([]error, 1000)
	for i := range errs {
		switch {
		case i == 7:
			errs[i] = fmt.Errorf("task%d: %w", i+1, stageError{scenario.StageResponse, io.EOF})
		case i%2 == 0:
			errs[i] = fmt.Errorf("task%d: %w", i+1, stageError{scenario.StageConnect, refused})
		}
	}
	lines, counts, examples := failures(errs)
	by := Result{Failures: counts, FailureExamples: examples}.ByCause()
	if len(lines) != 501 || len(by) != 2 {
		t.Fatalf("failures: %d lines, %d causes; want 501, 2", len(lines), len(by))
	}
	if by[0].Tasks != 500 || !strings.HasPrefix(by[0].Cause, "connect: refused") || len(by[0].Examples) != FailureExamples ||
		!strings.HasPrefix(by[0].Examples[0], "task1: ") || !strings.HasPrefix(by[0].Examples[2], "task5: ") {
		t.Errorf("the first cause: %+v, want 500 refused, task1, task3, task5", by[0])
	}
	if by[1].Tasks != 1 || !strings.HasPrefix(by[1].Examples[0], "task8: ") {
		t.Errorf("the second cause: %+v, want task8's EOF", by[1])
	}
}
