package tracing

import (
	"context"
	"fmt"
	"os"
	rtrace "runtime/trace"

	"go.opentelemetry.io/otel/trace"
)

// The execution trace's side of the contract (docs/design.md, "Execution
// trace"). The OpenTelemetry SDK starts a runtime/trace task for every span
// it records while the execution tracer runs, named as the span: so each
// asynctrace task is a task (task1…; the server's requests: echo), each
// stage a child task. asynctrace adds, in each task's own task, a log of
// the span's OTel ids (category ExecTraceLogCategory), and a region per
// stage on the goroutine that ran it, named as the stage (connect,
// response, compute; the server's echo, delay, write). The client's
// response region ends when the goroutine has read the echo: it covers the
// response and ready spans, whose boundary (the echo's arrival) the
// goroutine cannot mark, as it is not running then.
const ExecTraceLogCategory = "otel"

// StartExecTrace writes this process's execution trace (runtime/trace) to
// path until stop is called.
func StartExecTrace(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("execution trace: %w", err)
	}
	if err := rtrace.Start(f); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("execution trace: %w", err)
	}
	return func() error {
		rtrace.Stop()
		return f.Close()
	}, nil
}

// ExecLogIDs logs sc's trace and span ids in ctx's runtime/trace task
// (the SDK's task of that span), when the execution tracer runs.
func ExecLogIDs(ctx context.Context, sc trace.SpanContext) {
	if rtrace.IsEnabled() {
		rtrace.Log(ctx, ExecTraceLogCategory, "trace_id="+sc.TraceID().String()+" span_id="+sc.SpanID().String())
	}
}

// ExecRegion starts a region named after a stage or span on the calling
// goroutine, in ctx's task, when the execution tracer runs; end ends it, on
// the same goroutine.
func ExecRegion(ctx context.Context, name string) (end func()) {
	if !rtrace.IsEnabled() {
		return func() {}
	}
	return rtrace.StartRegion(ctx, name).End
}
