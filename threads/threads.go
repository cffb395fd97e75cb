// Package threads puts the trace contract's thread attributes on spans
// (tracing/contract.go; docs/design.md, "Trace contract"): the goroutine
// (thread.id, thread.name) and the OS thread (asynctrace.os_thread.id,
// read with gettid). It is the one part of the contract that reads the
// kernel, and so the one that is Linux-only; the names and keys, in
// package tracing, build everywhere.
package threads

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"asynctrace/tracing"
)

// Goroutine identifies the calling goroutine in spans. Go has no API for a
// goroutine's id; parsing it from runtime.Stack costs about 4µs, so it is
// read once per goroutine (a goroutine cannot change its id) and the value
// is passed along. Its OS thread can change at any time, and is read (gettid,
// about 0.1µs) at the start and end of every span.
//
// Every span a goroutine starts (Start: the stages, the server's delay and
// write) or adopts (Adopt: a task) carries the goroutine, thread.id, and
// the OS thread, asynctrace.os_thread.id; the span of the work it owns (a
// task, an echo) its name, thread.name, too.
type Goroutine struct {
	ID   int64
	name string
	// attrs holds the thread attributes of the goroutine's spans, built
	// once: the goroutine, and the OS thread, written in place at each
	// span's start, on this goroutine, and copied by the SDK during Start.
	// Nil in a zero Goroutine.
	attrs []attribute.KeyValue
	start []trace.SpanStartOption // its option: Start's variadic slice, built once too
}

// ThisGoroutine returns the calling goroutine. Call it on the goroutine that
// will use it.
func ThisGoroutine() Goroutine {
	id := goroutineID()
	g := Goroutine{ID: id, name: "goroutine " + strconv.FormatInt(id, 10)}
	g.attrs = []attribute.KeyValue{tracing.KeyThreadID.Int64(id), tracing.KeyOSThreadID.Int(0)}
	g.start = []trace.SpanStartOption{trace.WithAttributes(g.attrs...)}
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

// NameAttr is thread.name, "goroutine <id>": for the span of the work g
// owns (Adopt adds it itself).
func (g Goroutine) NameAttr() attribute.KeyValue { return tracing.KeyThreadName.String(g.name) }

// ThreadSpan is a span started, or adopted, by a Goroutine: it records the
// OS thread at its end where it differs from the one at its start.
type ThreadSpan struct {
	trace.Span
	osThread int
}

// Start starts a span of g's work, which must be the calling goroutine's,
// carrying the goroutine and the OS thread it starts on.
func (g Goroutine) Start(ctx context.Context, tracer trace.Tracer, name string, opts ...trace.SpanStartOption) (context.Context, ThreadSpan) {
	tid := OSThreadID()
	start := g.start
	if start == nil {
		start = []trace.SpanStartOption{trace.WithAttributes(tracing.KeyOSThreadID.Int(tid))}
	} else {
		g.attrs[1] = tracing.KeyOSThreadID.Int(tid)
	}
	if len(opts) > 0 {
		start = append(opts, start...)
	}
	ctx, span := tracer.Start(ctx, name, start...)
	return ctx, ThreadSpan{Span: span, osThread: tid}
}

// Adopt makes span, started elsewhere (a task's span starts when the task
// is created, before its goroutine runs), the span of g's work: it gets
// the goroutine, its name, and the calling OS thread as its start thread,
// with attrs, in one go (the SDK grows a span's attributes at each call).
// Call it on g.
func (g Goroutine) Adopt(span trace.Span, attrs ...attribute.KeyValue) ThreadSpan {
	tid := OSThreadID()
	span.SetAttributes(append(attrs, tracing.KeyThreadID.Int64(g.ID), g.NameAttr(), tracing.KeyOSThreadID.Int(tid))...)
	return ThreadSpan{Span: span, osThread: tid}
}

// OSThread is the OS thread the span started on, as its attributes say.
func (s ThreadSpan) OSThread() int { return s.osThread }

// End ends the span now, first recording the OS thread it ends on if that
// is not the one it started on. Call it on the goroutine that started the
// span.
func (s ThreadSpan) End() {
	if tid := OSThreadID(); tid != s.osThread {
		s.SetAttributes(tracing.KeyOSThreadIDEnd.Int(tid))
	}
	s.Span.End() // the SDK reads the clock; no option to allocate
}

// EndAt ends the span at t, on OS thread osThread, both read by the caller
// when the work ended, which may be well before it could call EndAt.
func (s ThreadSpan) EndAt(t time.Time, osThread int) {
	if osThread != s.osThread {
		s.SetAttributes(tracing.KeyOSThreadIDEnd.Int(osThread))
	}
	s.Span.End(trace.WithTimestamp(t))
}
