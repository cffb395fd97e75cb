package threads

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"asynctrace/tracing"
)

// What the thread attributes cost a span: parsing the goroutine id once
// per goroutine (ThisGoroutine) against gettid at each start and end
// (docs/results.md, "What a span's thread attributes cost").

func BenchmarkThisGoroutine(b *testing.B) {
	for b.Loop() {
		ThisGoroutine()
	}
}

func BenchmarkOSThreadID(b *testing.B) {
	for b.Loop() {
		OSThreadID()
	}
}

type discard struct{}

func (discard) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discard) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discard) Shutdown(context.Context) error                  { return nil }
func (discard) ForceFlush(context.Context) error                { return nil }

func BenchmarkSpanPlain(b *testing.B) {
	tr := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discard{})).Tracer("bench")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := tr.Start(ctx, "stage")
		s.End()
	}
}

// A stage span with the contract's thread attributes, the goroutine read
// once beforehand as a task does.
func BenchmarkSpanWithThreadAttrs(b *testing.B) {
	tr := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discard{})).Tracer("bench")
	ctx := context.Background()
	g := ThisGoroutine()
	b.ReportAllocs()
	for b.Loop() {
		_, s := g.Start(ctx, tr, "stage")
		s.End()
	}
}

// A stage span as #19 had it, the OS thread only, its option built once:
// beside SpanWithThreadAttrs, what the goroutine's thread.id costs a span.
func BenchmarkSpanOSThreadOnly(b *testing.B) {
	tr := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discard{})).Tracer("bench")
	ctx := context.Background()
	attrs := []attribute.KeyValue{tracing.KeyOSThreadID.Int(0)}
	start := []trace.SpanStartOption{trace.WithAttributes(attrs...)}
	b.ReportAllocs()
	for b.Loop() {
		tid := OSThreadID()
		attrs[0] = tracing.KeyOSThreadID.Int(tid)
		_, s := tr.Start(ctx, "stage", start...)
		ThreadSpan{Span: s, osThread: tid}.End()
	}
}

// The same, parsing the goroutine id for every span: what caching it saves.
func BenchmarkSpanParsingGoroutine(b *testing.B) {
	tr := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discard{})).Tracer("bench")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := ThisGoroutine().Start(ctx, tr, "stage")
		s.End()
	}
}
