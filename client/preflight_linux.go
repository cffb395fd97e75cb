package client

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Limits are the limits of this machine and process that a run of many
// tasks can meet, read by ReadLimits.
type Limits struct {
	MaxThreads     int // Go's limit on OS threads (runtime/debug.SetMaxThreads)
	OpenFiles      int // RLIMIT_NOFILE, the soft limit (Go raises it to the hard one at start)
	EphemeralPorts int // ports in /proc/sys/net/ipv4/ip_local_port_range; 0 if unknown
}

// ReadLimits reads the limits as they are now.
func ReadLimits() Limits {
	var l Limits
	l.MaxThreads = debug.SetMaxThreads(1 << 20)
	debug.SetMaxThreads(l.MaxThreads)
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil {
		l.OpenFiles = int(min(r.Cur, 1<<30))
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			lo, err1 := strconv.Atoi(f[0])
			hi, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && hi >= lo {
				l.EphemeralPorts = hi - lo + 1
			}
		}
	}
	return l
}

// Headroom is what a run needs beyond one of each per task: the runtime's
// own threads, the exporter's connection, standard files.
const Headroom = 64

// ErrLimit: a run cannot work on this machine as configured.
var ErrLimit = errors.New("a limit of this machine stops the run")

// Limit names a limit of the machine or process that a run can meet.
type Limit string

const (
	LimitOpenFiles Limit = "open files" // RLIMIT_NOFILE
	LimitPorts     Limit = "local ports"
	LimitThreads   Limit = "OS threads" // Go's limit (runtime/debug.SetMaxThreads)
)

// LimitError says that a run needs more of a limit than the machine
// gives: what is wrong, not what to do (the commands and the page say
// that, each in its own words). It matches ErrLimit.
type LimitError struct {
	Limit  Limit
	AtOnce int // the run's tasks at once
	Need   int // what the run needs of the limit
	Have   int // the limit
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitOpenFiles:
		return fmt.Sprintf("%d tasks at once need %d open files, the limit is %d", e.AtOnce, e.Need, e.Have)
	case LimitPorts:
		return fmt.Sprintf("%d tasks at once need as many local ports, the system has %d (/proc/sys/net/ipv4/ip_local_port_range)", e.AtOnce, e.Have)
	case LimitThreads:
		return fmt.Sprintf("os-threads with %d tasks needs an OS thread per task, %d with the runtime's own; Go stops a program past %d threads", e.AtOnce, e.Need, e.Have)
	}
	return fmt.Sprintf("%d tasks at once need %d %s, the limit is %d", e.AtOnce, e.Need, e.Limit, e.Have)
}

func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// LimitErrors are the limits err (Preflight's) names, in order.
func LimitErrors(err error) []*LimitError {
	var out []*LimitError
	var walk func(error)
	walk = func(err error) {
		if le, ok := err.(*LimitError); ok {
			out = append(out, le)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

// Preflight checks, before a run starts, that the machine's limits let it
// work: one connection (an open file and an ephemeral port) per task at
// once, and for os-threads an OS thread per task. It returns a
// *LimitError for each limit that stops it, joined (LimitErrors lists
// them; each matches ErrLimit); and notes worth saying before a long run
// starts (how long a serial run will take).
func Preflight(cfg Config, l Limits) (notes []string, err error) {
	p := params(&cfg)
	atOnce := p.N
	if p.Scenario.Serial() {
		atOnce = 1
		if exp, formula := p.Expected(); exp > time.Minute {
			notes = append(notes, fmt.Sprintf("%s runs its %d tasks one after another: expected %v (%s)", p.Scenario, p.N, exp.Round(time.Second), formula))
		}
	}
	var errs []error
	if need := atOnce + Headroom; l.OpenFiles > 0 && need > l.OpenFiles {
		errs = append(errs, &LimitError{Limit: LimitOpenFiles, AtOnce: atOnce, Need: need, Have: l.OpenFiles})
	}
	if l.EphemeralPorts > 0 && atOnce > l.EphemeralPorts {
		errs = append(errs, &LimitError{Limit: LimitPorts, AtOnce: atOnce, Need: atOnce, Have: l.EphemeralPorts})
	}
	if p.Scenario.Locked() && !p.Scenario.Serial() {
		if need := atOnce + Headroom; need > l.MaxThreads {
			errs = append(errs, &LimitError{Limit: LimitThreads, AtOnce: atOnce, Need: need, Have: l.MaxThreads})
		}
	}
	return notes, errors.Join(errs...)
}
