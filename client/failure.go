package client

import (
	"cmp"
	"context"
	"errors"
	"io"
	"os"
	"slices"
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
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled" // by the caller, or the caller's deadline
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "out of file descriptors (EMFILE/ENFILE)"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "out of local ports (EADDRNOTAVAIL)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused (ECONNREFUSED: no server, or its listen queue full)"
	case errors.Is(err, syscall.ETIMEDOUT):
		return "timed out in the kernel (ETIMEDOUT)"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed by the server (reset or EOF: past its connection limit or request timeout, or stopping)"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "no echo by the run's response deadline"
	}
	return "other"
}

// FailureExamples is how many errors of each cause a Result keeps, the
// first ones.
const FailureExamples = 3

// Failure is the tasks of a run that failed of one cause.
type Failure struct {
	Cause    string   // Cause: the stage and the limit it hit
	Tasks    int      // how many
	Examples []string // the first FailureExamples of their errors, in task order
}

// ByCause is the run's failures grouped by cause, the most frequent
// first.
func (r Result) ByCause() []Failure {
	by := make([]Failure, 0, len(r.Failures))
	for c, n := range r.Failures {
		by = append(by, Failure{Cause: c, Tasks: n, Examples: r.FailureExamples[c]})
	}
	slices.SortFunc(by, func(a, b Failure) int { return cmp.Or(cmp.Compare(b.Tasks, a.Tasks), cmp.Compare(a.Cause, b.Cause)) })
	return by
}

// failures are the errors of the tasks that failed, in task order; their
// count by cause; and the first few errors of each cause.
func failures(errs []error) (lines []string, counts map[string]int, examples map[string][]string) {
	for _, err := range errs {
		if err == nil {
			continue
		}
		if counts == nil {
			counts, examples = map[string]int{}, map[string][]string{}
		}
		lines = append(lines, err.Error())
		c := Cause(err)
		counts[c]++
		if len(examples[c]) < FailureExamples {
			examples[c] = append(examples[c], err.Error())
		}
	}
	return lines, counts, examples
}
