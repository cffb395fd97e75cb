package tracing

import (
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"asynctrace/scenario"
)

// The trace contract (docs/design.md, "Trace contract"): span names and
// attribute keys that tests, tools and the README depend on. The model's
// names (scenarios, stages, task labels) come from package scenario; this
// file is the only place that spells span names, event names and
// attribute keys.
//
// One trace per scenario run; the article's two halves under the root,
// the tasks first, then the threads, each in order (Jaeger lists siblings
// by start time, and each group starts no earlier than the one before):
//
//	scenario <name>                 root, kind internal
//	├── tasks                       the run's tasks: from the run's start to the last task's end
//	│   └── task1 … taskN           started in task order, when the task is created
//	│       ├── connect             wait 2u, dial
//	│       ├── response (client)   write the request, until the echo reached the socket
//	│       │   └── echo (server)   on echo-server: first byte in, until the held reply was sent
//	│       │       ├── delay       hold the request until 8u after the accept
//	│       │       └── write       send it back
//	│       ├── ready               reply there, until the goroutine ran again
//	│       └── compute             block 4u
//	└── threads                     the run's OS threads: from the first stage one held to the last
//	    └── thread 1 … thread K     one per OS thread that held a stage (the lane rule), numbered in
//	        │                       the order they first served a task; the OS thread id in attributes
//	        └── <task> <stage>      each stage it held, timed as it, linked to its span
//
// Span names stay few however large the run (OpenTelemetry asks for names
// of low cardinality; the ids are attributes): runs of up to
// scenario.LaneTasks tasks name each task and thread (task2, thread 1,
// task2 compute), larger ones call every task "task", every lane
// "thread", and each stage it held by the stage's name. No span starts
// before, or ends after, its parent.
// Service names, used unless OTEL_SERVICE_NAME says otherwise.
const (
	ClientService      = "async-client"
	TokioClientService = "tokio-client" // the article's programs' runs (client -runtime tokio)
	ServerService      = "echo-server"
)

// Span names. The stage spans are named after their stage.
const (
	SpanConnect  = string(scenario.StageConnect)
	SpanResponse = string(scenario.StageResponse) // kind client: its child is the server's echo
	SpanReady    = string(scenario.StageReady)
	SpanCompute  = string(scenario.StageCompute)
	SpanEcho     = "echo"                      // server (kind server), child of response
	SpanDelay    = string(scenario.StageDelay) // server: hold the request 8u
	SpanWrite    = string(scenario.StageWrite) // server: send the bytes back
)

// ScenarioSpanName is the name of a scenario's root span.
func ScenarioSpanName(s scenario.Scenario) string { return "scenario " + string(s) }

// ScenarioSpanPrefix begins every root span's name.
const ScenarioSpanPrefix = "scenario "

// Group spans: the article's two halves.
const (
	SpanTasks   = "tasks"
	SpanThreads = "threads"
)

// Named says whether a run of n tasks names its tasks and threads one by
// one: up to scenario.LaneTasks tasks, the runs drawn lane by lane.
func Named(n int) bool { return n <= scenario.LaneTasks }

// TaskSpanName is the name of task i's span (1-based) in a run of n tasks:
// its label, "task1", or "task" in a large run.
func TaskSpanName(i, n int) string {
	if Named(n) {
		return scenario.TaskLabel(i)
	}
	return "task"
}

// ThreadLaneSpanName is the name of the k-th thread lane (1-based, in the
// order the threads first served a task) of a run of n tasks: "thread 1",
// or "thread" in a large run.
func ThreadLaneSpanName(k, n int) string {
	if Named(n) {
		return "thread " + strconv.Itoa(k)
	}
	return "thread"
}

// LaneStageSpanName is the name of a stage's span on a thread lane in a
// run of n tasks: "task2 compute", or "compute" in a large run.
func LaneStageSpanName(task int, s scenario.Stage, n int) string {
	if Named(n) {
		return scenario.TaskLabel(task) + " " + string(s)
	}
	return string(s)
}

// Attribute keys.
const (
	// Root span.
	KeyRuntime         = attribute.Key("asynctrace.runtime")         // go or tokio
	KeyRuntimeVersion  = attribute.Key("asynctrace.runtime.version") // runtime.Version(), or Tokio's
	KeyScenario        = attribute.Key("asynctrace.scenario")
	KeyTasks           = attribute.Key("asynctrace.tasks")
	KeyGOMAXPROCS      = attribute.Key("asynctrace.gomaxprocs")
	KeyNumCPU          = attribute.Key("asynctrace.num_cpu")
	KeyCompute         = attribute.Key("asynctrace.compute")
	KeyUnitMS          = attribute.Key("asynctrace.unit_ms")
	KeyExpectedMS      = attribute.Key("asynctrace.expected_ms")
	KeyMakespanMS      = attribute.Key("asynctrace.makespan_ms")
	KeyReadyMS         = attribute.Key("asynctrace.ready_ms") // all tasks' ready time
	KeyPeakOSThreads   = attribute.Key("asynctrace.peak_os_threads")
	KeyPeakGoroutines  = attribute.Key("asynctrace.peak_goroutines")
	KeyThreadLanes     = attribute.Key("asynctrace.thread_lanes")
	KeyPeakRSSBytes    = attribute.Key("asynctrace.peak_rss_bytes")
	KeyRSSPerTaskBytes = attribute.Key("asynctrace.rss_per_task_bytes")
	KeySpawnMS         = attribute.Key("asynctrace.spawn_ms")   // creating and starting the tasks
	KeyNetworkMS       = attribute.Key("asynctrace.network_ms") // the makespan's time on the network (Timeline.Network)
	// On the root's "unit mismatch" event: the server's delay as measured,
	// and the message that says how to fix it.
	KeyServerDelayMS = attribute.Key("asynctrace.server_delay_ms")
	KeyMessage       = attribute.Key("message")

	// Thread lane spans: the lane's number, in the order the threads
	// first served a task (the article's "Thread 1").
	KeyThreadLane = attribute.Key("asynctrace.thread_lane")

	// Task spans, and the stage spans of thread lanes.
	KeyTask         = attribute.Key("asynctrace.task")
	KeyLockedThread = attribute.Key("asynctrace.locked_thread")
	KeyStage        = attribute.Key("asynctrace.stage")

	// Every task, stage and server span; the lane spans carry the OS
	// thread. thread.id is the goroutine: the semantic conventions define
	// it as the managed thread.
	KeyThreadID      = semconv.ThreadIDKey
	KeyThreadName    = semconv.ThreadNameKey
	KeyOSThreadID    = attribute.Key("asynctrace.os_thread.id")
	KeyOSThreadIDEnd = attribute.Key("asynctrace.os_thread.id_end")

	// response: where its end came from (TimeKernel or TimeClock).
	KeyArrival = attribute.Key("asynctrace.arrival")
	// The network, as the client measured it: on connect, the dial's
	// handshake; on response, the request's round trip (the response less
	// what the server says it waited, or TCP's smoothed RTT), and the hold
	// the server reported.
	KeyHandshakeMS  = attribute.Key("asynctrace.handshake_ms")
	KeyRoundTripMS  = attribute.Key("asynctrace.round_trip_ms")
	KeyServerHoldMS = attribute.Key("asynctrace.server_hold_ms")

	// Server spans.
	KeyPeerAddress = semconv.NetworkPeerAddressKey
	KeyPeerPort    = semconv.NetworkPeerPortKey
	KeyEchoBytes   = attribute.Key("asynctrace.echo.bytes")
	// KeyHoldMS (on echo, for a traced client): how long the server held
	// the request, from the accept to the reply, on its clock; what the
	// unit check compares with 8u.
	KeyHoldMS = attribute.Key("asynctrace.hold_ms")
	// KeyPreamble says how the request began (see package wire).
	KeyPreamble = attribute.Key("asynctrace.preamble")
	// KeySent (on write) says where the time the reply left came from
	// (TimeKernel or TimeClock).
	KeySent = attribute.Key("asynctrace.sent")
	// KeyStreamed (on write): the request was larger than the hold buffer,
	// and the rest was streamed back after the delay.
	KeyStreamed = attribute.Key("asynctrace.streamed")
	// KeyTraceparent, on echo's EventInvalidContext: the header received,
	// truncated.
	KeyTraceparent = attribute.Key("traceparent")
)

// What a task waited for (ready spans; docs/design.md, "Who made a task
// wait"): a ready span links to the spans that held the thread or P its
// task could run on, and, since Jaeger keeps no attributes of links, says
// on itself how much each covered: one EventHeldBy each, in the order
// they began.
const (
	// KeyWait: the wait explained in a line ("task3's compute 4.0u, …").
	KeyWait = attribute.Key("asynctrace.wait")
	// KeyWaitHandoffMS: the part spent waiting for sysmon to hand a P
	// over (syscall computes); KeyWaitUnexplainedMS: what nothing in the
	// run explains (a busy machine, a collection).
	KeyWaitHandoffMS     = attribute.Key("asynctrace.wait.handoff_ms")
	KeyWaitUnexplainedMS = attribute.Key("asynctrace.wait.unexplained_ms")
	// On EventHeldBy, with KeyTask, KeyStage and KeyOSThreadID: how much
	// of the wait the holder covered, how long it held a thread while all
	// were held, and whether the cover is the P's hand-off.
	KeyWaitCoveredMS = attribute.Key("asynctrace.wait.covered_ms")
	KeyWaitOverlapMS = attribute.Key("asynctrace.wait.overlap_ms")
	KeyWaitHandoff   = attribute.Key("asynctrace.wait.handoff")
)

// EventHeldBy, on a ready span: one stage that held the thread it waited
// for.
const EventHeldBy = "held by"

// EventInvalidContext, on echo: a well-formed preamble whose trace context
// the propagator rejected; the echo starts a new trace.
const EventInvalidContext = "invalid trace context"

// Values of KeyArrival and KeySent.
const (
	TimeKernel = "kernel" // the socket's kernel timestamp (SO_TIMESTAMPNS, SO_TIMESTAMPING)
	TimeClock  = "clock"  // the clock read when the read or write returned: the kernel gave none
)

// Values of KeyPreamble.
const (
	PreambleNone       = "none"        // a plain client: the request is all payload
	PreambleTraced     = "traced"      // trace context came in a valid preamble
	PreambleBadContext = "bad-context" // a valid preamble whose trace context was not: a new trace
	PreambleInvalid    = "invalid"     // looked like a preamble, was not: echoed as payload
)

// EventUnitMismatch, on the root span: the server's delay is not 8 of the
// run's units; its message says how to fix it.
const EventUnitMismatch = "unit mismatch"

// EventPlainServer, on the root span: the server echoed the preamble too,
// a plain echo server, so the trace has no server spans.
const EventPlainServer = "plain echo server"

// Events on task spans: the article's printed lines.
const (
	EventStarted  = "started"  // the task's goroutine first ran
	EventWritten  = "written"  // the request is written
	EventRead     = "read"     // the echo is read: the goroutine ran again
	EventFinished = "finished" // the compute is done
)

// Fail records err on span as an exception event and marks the span an
// error, the one way asynctrace spans say a stage failed.
func Fail(span interface {
	RecordError(error, ...trace.EventOption)
	SetStatus(codes.Code, string)
}, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
