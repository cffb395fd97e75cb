package client

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"

	"asynctrace/scenario"
)

// stageError is a task's failure in one of its stages.
type stageError struct {
	stage scenario.Stage
	err   error
}

func (e stageError) Error() string { return string(e.stage) + ": " + e.err.Error() }
func (e stageError) Unwrap() error { return e.err }

// Cause names the limit a task's failure hit, for the summary's count of
// failures by cause: the stage, and what stopped it ("connect: refused
// (ECONNREFUSED)"), so that a run of thousands of tasks says whether the
// machine (file descriptors, ports, the listen queue), the server or the
// run's own deadline failed it.
func Cause(err error) string {
	stage := "task"
	if se, ok := errors.AsType[stageError](err); ok {
		stage = string(se.stage)
	}
	return stage + ": " + limit(err)
}

func limit(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "out of file descriptors (EMFILE/ENFILE: raise ulimit -n)"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "out of local ports (EADDRNOTAVAIL)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused (ECONNREFUSED: no server, or its listen queue full)"
	case errors.Is(err, syscall.ETIMEDOUT):
		return "timed out in the kernel (ETIMEDOUT)"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed by the server (reset or EOF: -max-conns, -request-timeout, or stopping)"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "no echo by the run's response deadline"
	}
	return "other"
}
