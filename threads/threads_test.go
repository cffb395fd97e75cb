package threads

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"asynctrace/tracing"
)

func TestGoroutineID(t *testing.T) {
	ids := make(chan int64, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { ids <- ThisGoroutine().ID })
	}
	wg.Wait()
	a, b := <-ids, <-ids
	if a <= 0 || b <= 0 || a == b {
		t.Errorf("goroutine ids %d and %d, want two distinct positive ids", a, b)
	}
	if g := ThisGoroutine(); g.ID == a || g.ID == b || g.name != "goroutine "+strconv.FormatInt(g.ID, 10) {
		t.Errorf("ThisGoroutine() = %+v", g)
	}
}

func TestStartEndThreadAttrs(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tr := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)).Tracer("test")

	// Start on one locked thread, end on another: id_end records the move.
	started := make(chan ThreadSpan)
	var startTID int
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		startTID = OSThreadID()
		_, s := ThisGoroutine().Start(context.Background(), tr, "moved")
		started <- s
		<-started // hold this thread until the span has ended
	}()
	s := <-started
	done := make(chan int)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		s.End()
		done <- OSThreadID()
	}()
	endTID := <-done
	close(started)

	_, same := ThisGoroutine().Start(context.Background(), tr, "stayed")
	same.End()

	attrs := map[string]map[string]any{}
	for _, span := range sr.Ended() {
		m := map[string]any{}
		for _, kv := range span.Attributes() {
			m[string(kv.Key)] = kv.Value.AsInterface()
		}
		attrs[span.Name()] = m
	}
	if got := attrs["moved"][string(tracing.KeyOSThreadID)]; got != int64(startTID) {
		t.Errorf("moved: %s = %v, want %d", tracing.KeyOSThreadID, got, startTID)
	}
	if got := attrs["moved"][string(tracing.KeyOSThreadIDEnd)]; got != int64(endTID) || startTID == endTID {
		t.Errorf("moved: %s = %v, want %d (started on %d)", tracing.KeyOSThreadIDEnd, got, endTID, startTID)
	}
	if got, ok := attrs["stayed"][string(tracing.KeyOSThreadIDEnd)]; ok {
		t.Errorf("stayed: %s = %v, want none", tracing.KeyOSThreadIDEnd, got)
	}
	// Every span a goroutine starts carries the goroutine and the OS
	// thread; its name goes on the span of the work it owns only.
	g := ThisGoroutine()
	if got := attrs["stayed"][string(tracing.KeyThreadID)]; got != g.ID {
		t.Errorf("stayed: %s = %v, want %d", tracing.KeyThreadID, got, g.ID)
	}
	if _, ok := attrs["stayed"][string(tracing.KeyOSThreadID)]; !ok {
		t.Errorf("stayed: no attribute %s", tracing.KeyOSThreadID)
	}
	if v, ok := attrs["stayed"][string(tracing.KeyThreadName)]; ok {
		t.Errorf("stayed: %s = %v, want it only on the span the goroutine owns", tracing.KeyThreadName, v)
	}
}
