// Package cli is what the commands share: one way to exit, and one way to
// parse and check flags, so that a bad command line says why and shows the
// usage, and tests can call a command's run function directly.
package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// Command is a command's body: main calls it once, tests call it directly.
type Command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs the command and exits once: 0 on success or -h, 2 on a bad command line
// (already reported with the usage), 1 on failure (reported here, unless
// the command already said what failed).
func Main(name string, run Command) {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	var usage UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &usage):
		os.Exit(2)
	case errors.Is(err, ErrReported):
		os.Exit(1)
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// ErrReported: the command has said what failed; exit 1 without more.
var ErrReported = errors.New("failure already reported")

// UsageError is a bad command line, reported with the usage.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// NewFlagSet returns a flag set that reports to stderr and whose usage
// starts with summary.
func NewFlagSet(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n\n%s\n\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args, refuses positional arguments, and runs check on the
// values; any error comes back as a UsageError, reported with the usage,
// except flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string, check func() error) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return UsageError{err} // the flag package has reported it
	}
	err := check()
	if fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintln(fs.Output(), err)
		fs.Usage()
		return UsageError{err}
	}
	return nil
}

// StartCPUProfile writes a CPU profile (go tool pprof) to path until the
// func it returns is called; "" profiles nothing.
func StartCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// PeakHeapProfile keeps the heap profile (go tool pprof) taken after the
// garbage collection that found the most live heap, until the func it
// returns writes it to path; "" profiles nothing. A heap profile says what
// was live at the last collection: taken at the end of a run, it misses
// what the run held at its peak (spans waiting for export, tasks in
// flight). It looks every 10ms, on the ticker every gives (client.Every:
// this package builds everywhere, for cmd/diagram, and client does not),
// so a collection within 10ms of a larger one may be missed: the profile
// is of a collection at about the peak.
func PeakHeapProfile(path string, every func(time.Duration, func()) (stop func())) (stop func() error) {
	if path == "" {
		return func() error { return nil }
	}
	var h heapPeak
	stopLooking := every(10*time.Millisecond, h.look) // and a last look
	return func() error {
		stopLooking()
		return os.WriteFile(path, h.profile.Bytes(), 0o644)
	}
}

// heapPeak is the heap profile of the collection that found the most live
// heap so far.
type heapPeak struct {
	profile     bytes.Buffer
	live, cycle uint64 // of that collection; the last one looked at
}

// look takes the heap profile if a collection has run since the last look
// and found more live heap than any before, or if it has none yet.
func (h *heapPeak) look() {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	cycle, live := s[0].Value.Uint64(), s[1].Value.Uint64()
	if cycle == h.cycle && h.profile.Len() > 0 {
		return
	}
	h.cycle = cycle
	if live > h.live || h.profile.Len() == 0 {
		h.live = live
		h.profile.Reset()
		pprof.Lookup("heap").WriteTo(&h.profile, 0)
	}
}
