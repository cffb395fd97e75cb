package tracing

import (
	"context"
	"os"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// QueueSize is the batch processor's queue, in spans, unless
// OTEL_BSP_MAX_QUEUE_SIZE says otherwise: room for the burst of a
// 10,000-task run (its tasks' stage spans end within a few units of each
// other; the SDK's default, 2,048, would make them wait for exports).
const QueueSize = 1 << 17

// queueOptions are the batch processor's options: blocking (a full queue
// makes End wait rather than drop the span) and, unless set by the
// environment, QueueSize and the delay between exports.
func queueOptions(delay time.Duration) []sdktrace.BatchSpanProcessorOption {
	opts := []sdktrace.BatchSpanProcessorOption{sdktrace.WithBlocking()}
	if _, ok := os.LookupEnv("OTEL_BSP_MAX_QUEUE_SIZE"); !ok {
		opts = append(opts, sdktrace.WithMaxQueueSize(QueueSize))
	}
	if _, ok := os.LookupEnv("OTEL_BSP_SCHEDULE_DELAY"); !ok && delay > 0 {
		opts = append(opts, sdktrace.WithBatchTimeout(delay))
	}
	return opts
}

// retrying exports with retries while the collector answers, and with
// one attempt a batch once it has stopped answering, until it answers
// again. The batch processor exports one batch at a time, and blocks
// (WithBlocking) when its queue is full: retrying every batch for
// retryFor while no collector listens would drain the queue one batch
// per retryFor, and make every End of a busy server wait, stalling its
// requests. So a collector that is down costs each batch one failed
// attempt, and its spans, counted as lost; one that is back gets them all
// again.
type retrying struct {
	sdktrace.SpanExporter // one attempt a call: its own retries disabled
	retryFor              time.Duration
	c                     *SpanCounter
	down                  atomic.Bool
	last                  atomic.Pointer[error] // the last attempt's error, nil once one succeeds
}

// lastErr is the exporter's own error from the last attempt, if it failed:
// connection refused, say, where the caller saw only its deadline pass.
func (e *retrying) lastErr() error {
	if p := e.last.Load(); p != nil {
		return *p
	}
	return nil
}

func (e *retrying) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	var err error
	if e.down.Load() {
		err = e.attempt(ctx, spans)
	} else {
		err = retry(ctx, e.retryFor, func() error { return e.attempt(ctx, spans) })
	}
	e.down.Store(err != nil)
	if err == nil {
		e.c.exported.Add(int64(len(spans)))
	}
	return err
}

// attempt exports once, and keeps the error.
func (e *retrying) attempt(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		e.last.Store(&err)
	} else {
		e.last.Store(nil)
	}
	return err
}

// retry calls f until it succeeds, for up to retryFor, backing off from
// 250 ms to 1 s between attempts; it stops early when ctx ends.
func retry(ctx context.Context, retryFor time.Duration, f func() error) error {
	deadline := time.Now().Add(retryFor)
	wait := 250 * time.Millisecond
	for {
		err := f()
		if err == nil || time.Now().Add(wait).After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait = min(2*wait, time.Second)
	}
}
