package tracing

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Goroutine identifies the calling goroutine in spans. Go has no API for a
// goroutine's id; parsing it from runtime.Stack costs about 4µs, so it is
// read once per goroutine (a goroutine cannot change its id) and the value
// is passed along. Its OS thread can change at any time, and is read (gettid,
// about 0.1µs) at the start and end of every span.
//
// The goroutine is an attribute of the span of the work it owns (a task,
// an echo: Adopt, IDs); the spans it starts under that one (the stages)
// carry only the OS thread, the one thing that differs between them: a
// stage's goroutine is its parent's.
type Goroutine struct {
	ID   int64
	name string
	// thread holds the attribute of the goroutine's stage spans, built
	// once: the OS thread, written in place at each span's start, on this
	// goroutine, and copied by the SDK during Start. Nil in a zero
	// Goroutine.
	thread []attribute.KeyValue
	start  []trace.SpanStartOption // its option: Start's variadic slice, built once too
}

// ThisGoroutine returns the calling goroutine. Call it on the goroutine that
// will use it.
func ThisGoroutine() Goroutine {
	id := goroutineID()
	g := Goroutine{ID: id, name: "goroutine " + strconv.FormatInt(id, 10)}
	g.thread = []attribute.KeyValue{KeyOSThreadID.Int(0)}
	g.start = []trace.SpanStartOption{trace.WithAttributes(g.thread...)}
	return g
}

// goroutineID parses "goroutine 18 [running]:" from the stack header.
func goroutineID() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return -1
	}
	return id
}

// IDs are the goroutine's attributes of the trace contract: thread.id and
// thread.name.
func (g Goroutine) IDs() []attribute.KeyValue {
	return []attribute.KeyValue{KeyThreadID.Int64(g.ID), KeyThreadName.String(g.name)}
}

// Span is a span started by a Goroutine: it records the OS thread at its
// end where it differs from the one at its start.
type Span struct {
	trace.Span
	osThread int
}

// Start starts a span of g's work, which must be the calling goroutine's,
// carrying the OS thread it starts on. A span g owns gets g's IDs too,
// in opts.
func (g Goroutine) Start(ctx context.Context, tracer trace.Tracer, name string, opts ...trace.SpanStartOption) (context.Context, Span) {
	tid := OSThreadID()
	start := g.start
	if start == nil {
		start = []trace.SpanStartOption{trace.WithAttributes(KeyOSThreadID.Int(tid))}
	} else {
		g.thread[0] = KeyOSThreadID.Int(tid)
	}
	if len(opts) > 0 {
		start = append(opts, start...)
	}
	ctx, span := tracer.Start(ctx, name, start...)
	return ctx, Span{Span: span, osThread: tid}
}

// Adopt makes span, started elsewhere (a task's span starts when the task
// is created, before its goroutine runs), the span of g's work: it gets
// g's IDs, and the calling OS thread as its start thread, with attrs, in
// one go (the SDK grows a span's attributes at each call). Call it on g.
func (g Goroutine) Adopt(span trace.Span, attrs ...attribute.KeyValue) Span {
	tid := OSThreadID()
	span.SetAttributes(append(append(attrs, g.IDs()...), KeyOSThreadID.Int(tid))...)
	return Span{Span: span, osThread: tid}
}

// Fail records err on span as an exception event and marks the span an
// error, the one way asynctrace spans say a stage failed.
func Fail(span interface {
	RecordError(error, ...trace.EventOption)
	SetStatus(codes.Code, string)
}, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// OSThread is the OS thread the span started on, as its attributes say.
func (s Span) OSThread() int { return s.osThread }

// End ends the span now, first recording the OS thread it ends on if that
// is not the one it started on. Call it on the goroutine that started the
// span.
func (s Span) End() {
	if tid := OSThreadID(); tid != s.osThread {
		s.SetAttributes(KeyOSThreadIDEnd.Int(tid))
	}
	s.Span.End() // the SDK reads the clock; no option to allocate
}

// EndAt ends the span at t, on OS thread osThread, both read by the caller
// when the work ended, which may be well before it could call EndAt.
func (s Span) EndAt(t time.Time, osThread int) {
	if osThread != s.osThread {
		s.SetAttributes(KeyOSThreadIDEnd.Int(osThread))
	}
	s.Span.End(trace.WithTimestamp(t))
}
