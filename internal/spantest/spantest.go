// Package spantest records spans in memory for tests, one recorder per
// test, and lets a test wait for spans to start or end: an event with a
// deadline, never a sleep.
package spantest

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"asynctrace/tracing"
)

// Recorder is a span processor that keeps every span started and ended.
type Recorder struct {
	mu      sync.Mutex
	started []sdktrace.ReadWriteSpan
	ended   []sdktrace.ReadOnlySpan
	changed chan struct{} // closed, and replaced, at every start and end
}

// New returns a recorder and a tracer provider that feeds it, shut down
// when the test ends.
func New(t testing.TB) (*Recorder, *sdktrace.TracerProvider) {
	r := &Recorder{changed: make(chan struct{})}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r), sdktrace.WithIDGenerator(tracing.IDGenerator()))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return r, tp
}

func (r *Recorder) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, s)
	r.signal()
}

func (r *Recorder) OnEnd(s sdktrace.ReadOnlySpan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = append(r.ended, s)
	r.signal()
}

func (r *Recorder) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *Recorder) Shutdown(context.Context) error   { return nil }
func (r *Recorder) ForceFlush(context.Context) error { return nil }

// Provider returns another tracer provider that feeds r, its spans from
// the named service: a client and a server in one test, as two processes
// would be. Shut down when the test ends.
func (r *Recorder) Provider(t testing.TB, service string) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r), sdktrace.WithIDGenerator(tracing.IDGenerator()),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp
}

// Ended returns the spans ended so far.
func (r *Recorder) Ended() []sdktrace.ReadOnlySpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sdktrace.ReadOnlySpan(nil), r.ended...)
}

// Trace returns the ended spans of one trace.
func (r *Recorder) Trace(id trace.TraceID) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.Ended() {
		if s.SpanContext().TraceID() == id {
			out = append(out, s)
		}
	}
	return out
}

// Timeout is how long the waits wait: long, for a loaded machine; a test
// that passes never waits it out.
const Timeout = 10 * time.Second

// WaitEnded waits until ok holds of the ended spans, and returns them; the
// test fails, saying what it waited for, if it does not hold in Timeout.
func (r *Recorder) WaitEnded(t testing.TB, what string, ok func([]sdktrace.ReadOnlySpan) bool) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		spans, changed := append([]sdktrace.ReadOnlySpan(nil), r.ended...), r.changed
		r.mu.Unlock()
		if ok(spans) {
			return spans
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("waited %v for %s; %d spans ended", Timeout, what, len(spans))
			return nil
		}
	}
}

// WaitStarted waits until a span named name has started, and returns it.
func (r *Recorder) WaitStarted(t testing.TB, name string) sdktrace.ReadWriteSpan {
	t.Helper()
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		changed := r.changed
		for _, s := range r.started {
			if s.Name() == name {
				r.mu.Unlock()
				return s
			}
		}
		r.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("waited %v for a span %q to start", Timeout, name)
			return nil
		}
	}
}

// Attrs is a span's attributes by key.
func Attrs(s sdktrace.ReadOnlySpan) map[string]any {
	m := map[string]any{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}
