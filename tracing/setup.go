// Package tracing sets up OpenTelemetry for asynctrace and holds its trace
// contract (contract.go; docs/design.md, "Trace contract"): span names,
// event names and attribute keys, pure data that builds on every OS.
// Package threads puts the goroutine and OS thread ids on spans.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Options of Setup.
type Options struct {
	Service string    // default service name; OTEL_SERVICE_NAME wins
	Version string    // service.version
	Warn    io.Writer // export problems, once each
	// RetryFor is how long a failed export is retried, with backoff,
	// before its spans are counted lost: long for a server, which should
	// ride out a Jaeger restart; short for a client, which should exit.
	// Default 3s.
	RetryFor time.Duration
	// Extra processors see every span too.
	Extra []sdktrace.SpanProcessor
	// BatchDelay, if not zero and OTEL_BSP_SCHEDULE_DELAY is not set, is
	// how long the batch processor waits before exporting (SDK default
	// 5s): short for a long-running process whose traces are read at once.
	BatchDelay time.Duration
	// Counter, if not nil, counts the spans ended and exported.
	Counter *SpanCounter
}

// Setup makes the tracer provider of a command: spans exported over OTLP
// gRPC, configured only by the standard OTEL_EXPORTER_OTLP_*,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_BSP_* variables;
// OTEL_TRACES_EXPORTER=none records spans (trace ids stay real) and exports
// none. The caller passes tp to the libraries and calls shutdown with a
// fresh context to flush; the context bounds how long that may take.
//
// No span is lost silently: the batch processor's queue holds QueueSize
// spans and blocks rather than drop one when full; an export that still
// fails after RetryFor, or any export while the collector stays down,
// loses its spans, counted (export.go); the first failure is reported on
// Warn at once, the count at shutdown.
//
// Setup installs OpenTelemetry's global error handler (the SDK reports
// export errors only there); it sets no global provider or propagator.
func Setup(ctx context.Context, o Options) (tp *sdktrace.TracerProvider, shutdown func(context.Context) error, err error) {
	w := &onceWarner{w: o.Warn, endpoint: endpointFromEnv()}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(w.warn))

	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(o.Service), semconv.ServiceVersion(o.Version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing resource: %w", err)
	}

	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithIDGenerator(IDGenerator())}
	for _, p := range o.Extra {
		opts = append(opts, sdktrace.WithSpanProcessor(p))
	}
	switch e := os.Getenv("OTEL_TRACES_EXPORTER"); e {
	case "", "otlp":
	case "none":
		tp := sdktrace.NewTracerProvider(opts...)
		return tp, tp.Shutdown, nil
	default:
		return nil, nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: only otlp and none are supported", e)
	}

	if o.RetryFor <= 0 {
		o.RetryFor = 3 * time.Second
	}
	// One attempt a call: retrying (export.go) retries, as long as the
	// collector is up.
	expOpts := []otlptracegrpc.Option{otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false})}
	if plaintextByDefault() {
		expOpts = append(expOpts, otlptracegrpc.WithInsecure())
	}
	otlp, err := otlptracegrpc.New(ctx, expOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("otlp exporter: %w", err)
	}
	c := o.Counter
	if c == nil {
		c = &SpanCounter{}
	}
	exp := &retrying{SpanExporter: otlp, retryFor: o.RetryFor, c: c}
	w.last = exp.lastErr
	opts = append(opts, sdktrace.WithSpanProcessor(c), sdktrace.WithBatcher(exp, queueOptions(o.BatchDelay)...))
	tp = sdktrace.NewTracerProvider(opts...)
	return tp, func(ctx context.Context) error {
		if err := tp.Shutdown(ctx); err != nil {
			w.warn(err)
		}
		if ended, exported := c.ended.Load(), c.exported.Load(); exported < ended {
			w.lost(ended-exported, ended)
		}
		return nil // reported on warn: a lost trace is no reason to fail
	}, nil
}

// SpanCounter counts the sampled spans ended, and those exported: after a
// flush, the difference is what was lost.
type SpanCounter struct {
	ended, exported atomic.Int64
}

// Counts returns the spans ended and exported so far.
func (c *SpanCounter) Counts() (ended, exported int64) { return c.ended.Load(), c.exported.Load() }

func (c *SpanCounter) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c *SpanCounter) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		c.ended.Add(1)
	}
}
func (c *SpanCounter) Shutdown(context.Context) error   { return nil }
func (c *SpanCounter) ForceFlush(context.Context) error { return nil }

// plaintextByDefault: with no endpoint or security setting in the
// environment, the Go exporter would speak TLS to localhost:4317, which
// Jaeger's default OTLP receiver refuses ("first record does not look like
// a TLS handshake"; docs/design.md, "Decisions"). A user who starts Jaeger
// and runs asynctrace with no settings must see traces.
func plaintextByDefault() bool {
	for _, k := range []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
	} {
		if _, ok := os.LookupEnv(k); ok {
			return false
		}
	}
	return true
}

// Endpoint is where Setup's exporter sends spans: the OTLP endpoint the
// environment sets, or localhost:4317; and whether it exports at all
// (OTEL_TRACES_EXPORTER=none: not).
func Endpoint() (endpoint string, exporting bool) {
	return endpointFromEnv(), os.Getenv("OTEL_TRACES_EXPORTER") != "none"
}

// endpointFromEnv names where spans go.
func endpointFromEnv() string {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "localhost:4317"
}

// onceWarner prints the first export error and drops the rest: with no
// collector, every batch fails the same way. Setup installs its warn as
// OpenTelemetry's error handler: a command reports an error of
// ForceFlush with otel.Handle.
type onceWarner struct {
	w        io.Writer
	endpoint string
	last     func() error // the exporter's last error, if it has one; nil with no exporter
	once     sync.Once
}

// lost reports, at shutdown, how many spans were not exported: as the
// detail of the one warning, printed now if it was not already, with the
// exporter's own error.
func (o *onceWarner) lost(n, of int64) {
	err := errors.New("export failed")
	if o.last != nil && o.last() != nil {
		err = o.last()
	}
	o.warn(err)
	fmt.Fprintf(o.w, "  %d of %d spans of this process were not exported\n", n, of)
}

// warn prints err, the first time: a deadline that passed (a flush's, an
// export's) says which endpoint did not answer, and the exporter's own
// error from its last attempt, where it has one (connection refused).
func (o *onceWarner) warn(err error) {
	o.once.Do(func() {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer from %s before the deadline: %w", o.endpoint, err)
			if o.last != nil {
				if last := o.last(); last != nil && !errors.Is(last, context.DeadlineExceeded) {
					err = fmt.Errorf("%w; the last attempt: %w", err, last)
				}
			}
		}
		fmt.Fprintf(o.w, "warning: cannot export spans to %s (is Jaeger running?); traces of this run may be lost: %v\n", o.endpoint, err)
	})
}
