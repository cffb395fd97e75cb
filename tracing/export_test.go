package tracing

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// flaky fails while failing is set, counting its attempts.
type flaky struct {
	failing  atomic.Bool
	attempts atomic.Int64
}

func (f *flaky) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error {
	f.attempts.Add(1)
	if f.failing.Load() {
		return errors.New("connection refused")
	}
	return nil
}
func (f *flaky) Shutdown(context.Context) error { return nil }

// While the collector answers, a failed export is retried; once it has
// failed for good, each batch gets one attempt, until one goes through.
func TestRetryingStopsRetryingWhileDown(t *testing.T) {
	f := &flaky{}
	c := &SpanCounter{}
	e := &retrying{SpanExporter: f, retryFor: 600 * time.Millisecond, c: c}
	batch := make([]sdktrace.ReadOnlySpan, 5)
	ctx := context.Background()

	f.failing.Store(true)
	if err := e.ExportSpans(ctx, batch); err == nil {
		t.Fatal("export to a failing collector: nil error")
	}
	if n := f.attempts.Swap(0); n < 2 {
		t.Errorf("first failure: %d attempts, want retries (2 or more)", n)
	}
	for range 3 {
		if err := e.ExportSpans(ctx, batch); err == nil {
			t.Fatal("export while down: nil error")
		}
	}
	if n := f.attempts.Swap(0); n != 3 {
		t.Errorf("3 batches while down: %d attempts, want 3", n)
	}

	f.failing.Store(false)
	if err := e.ExportSpans(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if _, exported := c.Counts(); exported != 5 {
		t.Errorf("exported %d spans, want 5 (only the batch that went through)", exported)
	}
	f.failing.Store(true)
	e.ExportSpans(ctx, batch)
	if n := f.attempts.Swap(0); n < 3 {
		t.Errorf("failure after the collector came back: %d attempts, want the one that succeeded and then retries", n)
	}
}

// A cancelled export stops retrying.
func TestRetryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := retry(ctx, time.Hour, func() error {
		calls++
		if calls == 2 {
			cancel()
		}
		return errors.New("down")
	})
	if err == nil || calls != 2 {
		t.Errorf("retry: %v after %d calls, want an error after 2", err, calls)
	}
}
