package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"asynctrace/client"
	"asynctrace/scenario"
)

// ChildEnv, set to "client" in a process's environment, makes cmd/web run
// as the client command: how the Runner starts each run.
const ChildEnv = "ASYNCTRACE_WEB_CHILD"

// State of a run.
type State string

const (
	Queued    State = "queued"
	Running   State = "running"
	Done      State = "done"      // the run ended and every task succeeded
	Failed    State = "failed"    // the child failed: the lines say why
	Cancelled State = "cancelled" // from the page, queued or running
)

func (s State) ended() bool { return s == Done || s == Failed || s == Cancelled }

// What a run keeps of its child's output (stderr, its lines): the
// article's four lines a task up to client.LineTasks tasks, a progress
// line every 250 ms above, and its errors; past these bounds, lines are
// counted and the run's last line says how many were not kept. A line
// longer than maxLineBytes is cut, and says so.
const (
	maxLines     = 2000
	maxLineBytes = 16 << 10
	maxLinesSize = 4 << 20 // all lines' bytes
	maxStdout    = 4 << 20 // its -json result
)

// maxErrorExamples is how many of a run's failed tasks' errors its views
// carry: a run of 10,000 tasks can fail 10,000 times, and the page polls
// the views. The count and the counts by cause are whole.
const maxErrorExamples = 5

// Run is one run the page asked for.
type Run struct {
	ID    int   `json:"id"`
	Knobs Knobs `json:"knobs"`
	Group int   `json:"group,omitempty"` // the Compare that made it

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced at every change
	state     State
	lines     []string
	lineBytes int
	written   int // lines the child wrote
	dropped   int
	result    *client.Result // Errors: the first maxErrorExamples only
	failed    int            // tasks that failed, every one
	svg       []byte
	compact   []byte // the figure, compact (Compare)
	errMsg    string
	trace     TraceStatus
	queued    time.Time
	started   time.Time
	ended     time.Time
	cancel    context.CancelFunc // while running
}

// TraceStatus says where the run's trace is: State for programs (the page
// decides on it), Note for people.
type TraceStatus struct {
	State TraceState `json:"state,omitempty"` // "" until the run ends
	ID    string     `json:"id,omitempty"`
	URL   string     `json:"url,omitempty"`   // in the Jaeger UI
	Spans int        `json:"spans,omitempty"` // in Jaeger, last counted
	Note  string     `json:"note,omitempty"`  // why there is no link, or where it stands
}

// PeerStatus says whether the runs can have runtime tokio: the article's
// programs are there, or, in Note, which one is missing and how to build
// them (the client's own message).
type PeerStatus struct {
	Available bool   `json:"available"`
	Dir       string `json:"dir,omitempty"`
	Note      string `json:"note,omitempty"`
}

// TraceState is where a run's trace stands.
type TraceState string

const (
	// TraceNone: the run has no trace to link (spans not exported, no
	// Jaeger UI address, no trace id, cancelled); the note says why.
	TraceNone TraceState = "none"
	// TraceWaiting: the link is there, and the page is reading Jaeger
	// until the trace's span count stops growing: look again.
	TraceWaiting TraceState = "waiting"
	// TraceReady: Jaeger holds the trace, Spans counted.
	TraceReady TraceState = "ready"
	// TraceFailed: Jaeger did not hold the trace in time; the note says
	// what it answered.
	TraceFailed TraceState = "failed"
)

// View is a run as the page's API shows it.
type View struct {
	ID         int        `json:"id"`
	Group      int        `json:"group,omitempty"`
	Knobs      Knobs      `json:"knobs"`
	UnitMS     float64    `json:"unit_ms"`
	Query      string     `json:"query"` // the knobs as URL parameters
	Command    string     `json:"command"`
	State      State      `json:"state"`
	ExpectedMS float64    `json:"expected_ms"`
	Formula    string     `json:"formula"`
	Queued     time.Time  `json:"queued"`
	Started    *time.Time `json:"started,omitempty"`
	Ended      *time.Time `json:"ended,omitempty"`
	ElapsedMS  float64    `json:"elapsed_ms"`
	Lines      int        `json:"lines"`
	Error      string     `json:"error,omitempty"` // why it failed, or was cancelled
	// FailedTasks counts the tasks that failed; Result.Errors holds the
	// first few of their errors only, Result.Failures their counts by
	// cause.
	FailedTasks int              `json:"failed_tasks,omitempty"`
	Result      *client.Result   `json:"result,omitempty"`
	Checks      []scenario.Check `json:"checks,omitempty"`
	HasSVG      bool             `json:"has_svg"`
	Trace       TraceStatus      `json:"trace"`
	Ahead       int              `json:"ahead,omitempty"` // runs before it, while queued
}

func newRun(id, group int, k Knobs) *Run {
	return &Run{ID: id, Group: group, Knobs: k, state: Queued, queued: time.Now(), changed: make(chan struct{})}
}

// update changes the run under its lock and wakes whoever waits on it.
func (r *Run) update(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *Run) addLine(s string) {
	r.update(func() {
		r.written++
		if len(r.lines) < maxLines && r.lineBytes+len(s) <= maxLinesSize {
			r.lines = append(r.lines, s)
			r.lineBytes += len(s)
		} else {
			r.dropped++
		}
	})
}

// endLines says, as the run's last line, how many lines were not kept.
func (r *Run) endLines() {
	r.update(func() {
		if r.dropped > 0 {
			r.lines = append(r.lines, fmt.Sprintf("… and %d more lines, not kept: the page keeps a run's first %d lines (%d MiB)", r.dropped, maxLines, maxLinesSize>>20))
		}
	})
}

// Lines returns the lines from i on, whether the run has ended, and a
// channel closed at the next change.
func (r *Run) Lines(i int) (lines []string, ended bool, changed <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i < len(r.lines) {
		lines = slices.Clone(r.lines[i:])
	}
	return lines, r.state.ended(), r.changed
}

// State is the run's state now.
func (r *Run) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// SVG is the run's diagram, or its compact form, once it has ended.
func (r *Run) SVG(compact bool) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if compact {
		return r.compact
	}
	return r.svg
}

// View is a snapshot of the run.
func (r *Run) View() View {
	r.mu.Lock()
	defer r.mu.Unlock()
	exp, formula := r.Knobs.params().Expected()
	v := View{
		ID: r.ID, Group: r.Group, Knobs: r.Knobs, UnitMS: scenario.MS(r.Knobs.Unit), Query: r.Knobs.Query().Encode(),
		Command: "go run ./cmd/client " + strings.Join(r.Knobs.userArgs(), " "),
		State:   r.state, ExpectedMS: scenario.MS(exp), Formula: formula, Queued: r.queued,
		Lines: r.written, Error: r.errMsg, FailedTasks: r.failed, Result: r.result, HasSVG: r.svg != nil, Trace: r.trace,
	}
	if !r.started.IsZero() {
		t := r.started
		v.Started = &t
		end := time.Now()
		if !r.ended.IsZero() {
			end = r.ended
		}
		v.ElapsedMS = scenario.MS(end.Sub(r.started))
	}
	if !r.ended.IsZero() {
		t := r.ended
		v.Ended = &t
	}
	if r.result != nil {
		v.Checks = r.result.Checks
	}
	return v
}

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Exe is the program each run executes with ChildEnv=client: cmd/web
	// itself (os.Executable), or a test binary that acts the same.
	Exe string
	// Servers gives the address of an echo server holding requests 8u.
	Servers interface {
		Addr(ctx context.Context, unit time.Duration) (string, error)
	}
	// Traces says, before each run, whether its spans can be exported and
	// where its trace will be; and looks for the trace after the run.
	Traces Traces
	// Peers says whether the article's Tokio programs are where the
	// children will look for them (cmd/web: clientcmd.PeerDir); nil: not
	// known, the runs will say.
	Peers    func() PeerStatus
	MaxQueue int // runs waiting at most; default 20
	History  int // runs kept, ended ones dropped oldest first; default 50
}

// Runner runs the page's runs one at a time, in the order they came.
type Runner struct {
	cfg RunnerConfig
	// limits are the machine's, read once: reading Go's thread limit
	// stops the world, and the form is checked at every keystroke.
	limits client.Limits

	mu     sync.Mutex
	runs   []*Run // oldest first: the history, and the queue
	nextID int
	group  int
	wake   chan struct{}
	done   chan struct{}
	stop   context.CancelFunc
	// awaiting: the lookups of finished runs' traces in Jaeger.
	awaiting sync.WaitGroup
}

// ErrQueueFull: more runs are waiting than the Runner takes.
var ErrQueueFull = errors.New("too many runs waiting: wait for some to end, or cancel them")

// NewRunner starts a Runner; Close stops it.
func NewRunner(cfg RunnerConfig) *Runner {
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 20
	}
	if cfg.History <= 0 {
		cfg.History = 50
	}
	ctx, stop := context.WithCancel(context.Background())
	r := &Runner{cfg: cfg, limits: client.ReadLimits(), nextID: 1, wake: make(chan struct{}, 1), done: make(chan struct{}), stop: stop}
	go r.loop(ctx)
	return r
}

// Close cancels every run, waits for the one running to end, and stops.
func (r *Runner) Close() {
	r.stop()
	<-r.done
	r.awaiting.Wait()
}

// Submit queues a run of the knobs, and returns it.
func (r *Runner) Submit(k Knobs) ([]*Run, error) {
	if err := k.Check(r.limits); err != nil {
		return nil, err
	}
	return r.queue([]Knobs{k}, false)
}

// Compare queues the five scenarios with the knobs under one group id, in
// each of the runtimes (none: the knobs' own), scenario by scenario: Go's
// sync, Tokio's sync, Go's sequential, ...; and returns them in that
// order. Single-thread keeps its one thread, and Go's os-threads its P per
// task: the procs knob sets the others' (Tokio's workers, rayon's
// threads).
func (r *Runner) Compare(k Knobs, runtimes ...scenario.Runtime) ([]*Run, error) {
	if len(runtimes) == 0 {
		runtimes = []scenario.Runtime{k.Runtime}
	}
	var knobs []Knobs
	for _, sc := range scenario.All {
		for _, rt := range runtimes {
			kk := k
			kk.Runtime, kk.Scenario = rt, sc
			if sc == scenario.SingleThread || sc == scenario.OSThreads && rt != scenario.Tokio {
				kk.Procs = 0
			}
			if err := kk.Check(r.limits); err != nil {
				if len(runtimes) > 1 {
					return nil, fmt.Errorf("%s on %s: %w", sc, runtimeName(rt), err)
				}
				return nil, fmt.Errorf("%s: %w", sc, err)
			}
			knobs = append(knobs, kk)
		}
	}
	return r.queue(knobs, true)
}

// runtimeName is a runtime as the page names it.
func runtimeName(rt scenario.Runtime) string {
	if rt == scenario.Tokio {
		return "Tokio"
	}
	return "Go"
}

// queue queues runs of the knobs checked, under a new group id if group.
func (r *Runner) queue(knobs []Knobs, group bool) ([]*Run, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	waiting := 0
	for _, run := range r.runs {
		if run.State() == Queued {
			waiting++
		}
	}
	if waiting+len(knobs) > r.cfg.MaxQueue {
		return nil, ErrQueueFull
	}
	g := 0
	if group {
		r.group++
		g = r.group
	}
	var out []*Run
	for _, k := range knobs {
		run := newRun(r.nextID, g, k)
		r.nextID++
		r.runs = append(r.runs, run)
		out = append(out, run)
	}
	r.trim()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return out, nil
}

// trim drops the oldest ended runs beyond the history's size.
func (r *Runner) trim() {
	for over := len(r.runs) - r.cfg.History; over > 0; over-- {
		i := slices.IndexFunc(r.runs, func(run *Run) bool { return run.State().ended() })
		if i < 0 {
			return
		}
		r.runs = slices.Delete(r.runs, i, i+1)
	}
}

// Get returns run id, if it is kept.
func (r *Runner) Get(id int) (*Run, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, run := range r.runs {
		if run.ID == id {
			return run, true
		}
	}
	return nil, false
}

// Runs are the runs kept, newest first.
func (r *Runner) Runs() []*Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.runs)
	slices.Reverse(out)
	return out
}

// Group returns the runs of a Compare, in the order Compare queued them.
func (r *Runner) Group(g int) []*Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Run
	for _, run := range r.runs {
		if g != 0 && run.Group == g {
			out = append(out, run)
		}
	}
	return out
}

// Ahead is how many runs will run before run, if it is queued: those
// queued before it, and the one running.
func (r *Runner) Ahead(run *Run) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if run.State() != Queued {
		return 0
	}
	n := 0
	for _, o := range r.runs {
		if st := o.State(); st == Running || st == Queued && o.ID < run.ID {
			n++
		}
	}
	return n
}

// ErrEnded: the run cannot be cancelled, it has ended.
var ErrEnded = errors.New("the run has ended")

// Cancel cancels a queued run at once, and a running one by SIGTERM to its
// child (which ends its tasks, flushes its spans, and exits).
func (r *Runner) Cancel(run *Run) error {
	var err error
	run.update(func() {
		switch run.state {
		case Queued:
			run.state, run.ended = Cancelled, time.Now()
		case Running:
			run.cancel() // execute records the end
		default:
			err = ErrEnded
		}
	})
	return err
}

// loop runs the queued runs one at a time, oldest first.
func (r *Runner) loop(ctx context.Context) {
	defer close(r.done)
	for {
		r.mu.Lock()
		var next *Run
		for _, run := range r.runs {
			if run.State() == Queued {
				next = run
				break
			}
		}
		r.mu.Unlock()
		if next == nil {
			select {
			case <-r.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		r.execute(ctx, next)
		if ctx.Err() != nil {
			return
		}
	}
}

// execute runs one run as a child process: the client command with the
// run's flags, -json on stdout, its lines on stderr, its diagram into a
// directory of its own.
func (r *Runner) execute(loop context.Context, run *Run) {
	ctx, cancel := context.WithCancel(loop)
	defer cancel()
	started := false
	run.update(func() {
		if run.state == Queued { // not cancelled meanwhile
			run.state, run.started, run.cancel, started = Running, time.Now(), cancel, true
		}
	})
	if !started {
		return
	}
	state, errMsg, res, svg, trace := r.child(ctx, run)
	failed := 0
	if res != nil {
		failed = max(len(res.Errors), sumValues(res.Failures))
		if len(res.Errors) > maxErrorExamples {
			res.Errors = slices.Clip(res.Errors[:maxErrorExamples])
		}
	}
	run.update(func() {
		run.state, run.ended, run.result, run.failed, run.svg, run.compact, run.trace = state, time.Now(), res, failed, svg[0], svg[1], trace
		run.errMsg = errMsg
		if state == Cancelled {
			run.errMsg = "cancelled from the page"
			if loop.Err() != nil {
				run.errMsg = "cancelled: the page is stopping"
			}
			run.trace = TraceStatus{State: TraceNone, Note: "No trace link: the run was cancelled."}
		}
	})
	if trace.State == TraceWaiting && state != Cancelled {
		// Not in the way of the next run.
		r.awaiting.Go(func() { r.cfg.Traces.Await(loop, run) })
	}
}

func (r *Runner) child(ctx context.Context, run *Run) (state State, errMsg string, res *client.Result, svg [2][]byte, trace TraceStatus) {
	trace = TraceStatus{State: TraceNone, Note: "No trace: the run did not start."}
	addr, err := r.cfg.Servers.Addr(ctx, run.Knobs.Unit)
	if err != nil {
		return Failed, "echo server: " + err.Error(), nil, svg, trace
	}
	dir, err := os.MkdirTemp("", "asynctrace-web-")
	if err != nil {
		return Failed, err.Error(), nil, svg, trace
	}
	defer os.RemoveAll(dir)

	export, before := r.cfg.Traces.Before()
	cmd := exec.CommandContext(ctx, r.cfg.Exe, run.Knobs.ChildArgs(addr, dir)...)
	cmd.Env = childEnv(export)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	out := &limitedBuffer{b: new(bytes.Buffer), max: maxStdout}
	cmd.Stdout = out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return Failed, err.Error(), nil, svg, trace
	}
	if err := cmd.Start(); err != nil {
		if ctx.Err() != nil {
			return Cancelled, "", nil, svg, trace // cancelled as it started
		}
		return Failed, "starting the run: " + err.Error(), nil, svg, trace
	}
	var last []string
	rerr := readLines(stderr, maxLineBytes, func(line string) {
		run.addLine(line)
		if strings.HasPrefix(line, "client:") {
			last = append(last[max(0, len(last)-2):], strings.TrimPrefix(line, "client: "))
		}
	})
	if rerr != nil {
		run.addLine("… the run's output could not be read further: " + rerr.Error())
		io.Copy(io.Discard, stderr)
	}
	run.endLines()
	werr := cmd.Wait()

	var result client.Result
	if err := json.Unmarshal(bytes.TrimSpace(out.b.Bytes()), &result); err == nil && result.Scenario != "" {
		res = &result
	}
	for i, suffix := range []string{".svg", "-compact.svg"} {
		if b, err := os.ReadFile(filepath.Join(dir, string(run.Knobs.Scenario)+suffix)); err == nil {
			svg[i] = b
		}
	}
	switch {
	case ctx.Err() != nil:
		return Cancelled, "", res, svg, trace
	case werr != nil:
		msg := "the client's process ended: " + werr.Error()
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				msg = fmt.Sprintf("the client's process was stopped by a signal (%v) before it ended its run", ws.Signal())
			}
		}
		if len(last) > 0 {
			msg = strings.Join(last, "; ")
		}
		return Failed, msg, res, svg, r.cfg.Traces.Link(before, res)
	case res == nil && out.cut:
		return Failed, fmt.Sprintf("the run's result was over %d MiB, cut, and could not be read", maxStdout>>20), nil, svg, r.cfg.Traces.Link(before, nil)
	case res == nil:
		return Failed, "the run printed no result", nil, svg, r.cfg.Traces.Link(before, nil)
	}
	return Done, "", res, svg, r.cfg.Traces.Link(before, res)
}

// readLines calls emit with each line r holds, without its end of line;
// a line longer than maxLen is cut to maxLen bytes and says how many
// more it had. It returns the first error reading other than EOF.
func readLines(r io.Reader, maxLen int, emit func(string)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	cut := 0
	for {
		chunk, err := br.ReadSlice('\n')
		end := err == nil
		if end {
			chunk = bytes.TrimSuffix(bytes.TrimSuffix(chunk, []byte("\n")), []byte("\r"))
		}
		if room := maxLen - len(line); len(chunk) > room {
			cut += len(chunk) - room
			chunk = chunk[:room]
		}
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if end || len(line) > 0 || cut > 0 {
			s := string(line)
			if cut > 0 {
				s = strings.ToValidUTF8(s, "") + fmt.Sprintf(" … [line cut: %d more bytes; the page keeps a line's first %d]", cut, maxLen)
			}
			emit(s)
		}
		line, cut = line[:0], 0
		if !end {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// childEnv is this process's environment for a child: ChildEnv set, and
// no exporting where no collector answers.
func childEnv(export bool) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, ChildEnv+"=") && !(!export && strings.HasPrefix(kv, "OTEL_TRACES_EXPORTER=")) {
			env = append(env, kv)
		}
	}
	env = append(env, ChildEnv+"=client")
	if !export {
		env = append(env, "OTEL_TRACES_EXPORTER=none")
	}
	return env
}

// limitedBuffer keeps the first max bytes written to it, and whether
// there were more.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
	cut bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	room := max(0, l.max-l.b.Len())
	l.b.Write(p[:min(len(p), room)])
	l.cut = l.cut || len(p) > room
	return len(p), nil
}
