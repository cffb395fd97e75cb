package tracing

import (
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"asynctrace/scenario"
)

// The trace contract (docs/design.md, "Trace contract"): span names and
// attribute keys that tests, tools and the README depend on. The model's
// names (scenarios, stages, task labels) come from package scenario; this
// file is the only place that spells span names, event names and
// attribute keys.
//
// One trace per scenario run:
//
//	scenario <name>                 root, kind internal
//	├── task1 … taskN               started in task order, when the task is created
//	│   ├── connect                 wait 2u, dial
//	│   ├── response (client)       write the request, until the echo reached the socket
//	│   │   └── echo (server)       on echo-server: first byte in, until the reply was sent
//	│   │       ├── delay           hold the request 8u
//	│   │       └── write           send it back
//	│   ├── ready                   reply there, until the goroutine ran again
//	│   └── compute                 block 4u
//	└── OS thread <tid>             one per OS thread that held a stage (the lane rule)
//	    └── <task> <stage>          that stage, timed as it, linked to its span
//
// No span starts before, or ends after, its parent.

// Service names, used unless OTEL_SERVICE_NAME says otherwise.
const (
	ClientService = "async-client"
	ServerService = "echo-server"
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

// TaskSpanName is the name of task i's span (1-based): its label, "task1".
func TaskSpanName(i int) string { return scenario.TaskLabel(i) }

// ThreadLaneSpanName is the name of the span of OS thread tid's lane.
func ThreadLaneSpanName(tid int64) string { return "OS thread " + strconv.FormatInt(tid, 10) }

// ThreadLaneSpanPrefix begins every thread lane span's name.
const ThreadLaneSpanPrefix = "OS thread "

// LaneStageSpanName is the name of a stage's span on a thread lane:
// "task2 compute".
func LaneStageSpanName(task int, s scenario.Stage) string {
	return scenario.TaskLabel(task) + " " + string(s)
}

// Attribute keys.
const (
	// Root span.
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
	KeySpawnMS         = attribute.Key("asynctrace.spawn_ms") // creating and starting the tasks
	// On the root's "unit mismatch" event: the server's delay as measured,
	// and the message that says how to fix it.
	KeyServerDelayMS = attribute.Key("asynctrace.server_delay_ms")
	KeyMessage       = attribute.Key("message")

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

	// Server spans.
	KeyPeerAddress = semconv.NetworkPeerAddressKey
	KeyPeerPort    = semconv.NetworkPeerPortKey
	KeyEchoBytes   = attribute.Key("asynctrace.echo.bytes")
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
