package tracing

import (
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// The trace contract of DESIGN.md, "Trace contract": span names and
// attribute keys that tests, tools and the README depend on. Nothing else in
// the module spells them out.

// Service names, used unless OTEL_SERVICE_NAME says otherwise.
const (
	ClientService = "async-client"
	ServerService = "echo-server"
)

// Span names.
const (
	SpanConnect  = "connect"  // client stage: wait 2u, dial, write the label
	SpanResponse = "response" // client stage (kind client): read the echo
	SpanCompute  = "compute"  // client stage: block for 4u
	SpanEcho     = "echo"     // server (kind server), child of response
	SpanDelay    = "delay"    // server: hold the request 8u
	SpanWrite    = "write"    // server: write the bytes back
)

// ScenarioSpanName is the name of a scenario's root span.
func ScenarioSpanName(scenario string) string { return "scenario " + scenario }

// TaskLabel is the label, and span name, of task i (1-based): "task1".
func TaskLabel(i int) string { return fmt.Sprintf("task%d", i) }

// Attribute keys.
const (
	// Root span.
	KeyScenario       = attribute.Key("asynctrace.scenario")
	KeyTasks          = attribute.Key("asynctrace.tasks")
	KeyGOMAXPROCS     = attribute.Key("asynctrace.gomaxprocs")
	KeyNumCPU         = attribute.Key("asynctrace.num_cpu")
	KeyCompute        = attribute.Key("asynctrace.compute")
	KeyUnitMS         = attribute.Key("asynctrace.unit_ms")
	KeyExpectedMS     = attribute.Key("asynctrace.expected_ms")
	KeyMakespanMS     = attribute.Key("asynctrace.makespan_ms")
	KeyPeakOSThreads  = attribute.Key("asynctrace.peak_os_threads")
	KeyPeakGoroutines = attribute.Key("asynctrace.peak_goroutines")

	// Task spans.
	KeyTask         = attribute.Key("asynctrace.task")
	KeyLockedThread = attribute.Key("asynctrace.locked_thread")

	// Every task, stage and server span. thread.id is the goroutine: the
	// semantic conventions define it as the managed thread.
	KeyThreadID      = semconv.ThreadIDKey
	KeyThreadName    = semconv.ThreadNameKey
	KeyOSThreadID    = attribute.Key("asynctrace.os_thread.id")
	KeyOSThreadIDEnd = attribute.Key("asynctrace.os_thread.id_end")

	// Server spans.
	KeyPeerAddress = semconv.NetworkPeerAddressKey
	KeyPeerPort    = semconv.NetworkPeerPortKey
	KeyEchoBytes   = attribute.Key("asynctrace.echo.bytes")
	// KeyPreamble says how the request began (see package wire).
	KeyPreamble = attribute.Key("asynctrace.preamble")
)

// Values of KeyPreamble.
const (
	PreambleNone       = "none"        // a plain client: the request is all payload
	PreambleTraced     = "traced"      // trace context came in a valid preamble
	PreambleBadContext = "bad-context" // a valid preamble whose trace context was not: a new trace
	PreambleInvalid    = "invalid"     // looked like a preamble, was not: echoed as payload
)

// Events on task spans: the article's printed lines.
const (
	EventStarted  = "started"
	EventWritten  = "written"
	EventRead     = "read"
	EventFinished = "finished"
)
