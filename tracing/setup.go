// Package tracing sets up OpenTelemetry for asynctrace and holds its trace
// contract (contract.go; docs/design.md, "Trace contract"): span names,
// attribute keys, and the goroutine and OS thread ids every span carries.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// ShutdownTimeout bounds the final flush of spans: with no collector
// listening, the program still exits within it.
const ShutdownTimeout = 5 * time.Second

// Setup makes the tracer provider of a command: spans exported over OTLP
// gRPC, configured only by the standard OTEL_EXPORTER_OTLP_*,
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES variables, with service as
// the default service name; OTEL_TRACES_EXPORTER=none records spans (trace
// ids stay real) and exports none. Export failures are reported once, on
// warn. extra processors see every span too. The caller passes tp to the
// libraries and calls shutdown with a fresh context to flush.
//
// Setup installs OpenTelemetry's global error handler (the SDK reports
// export errors only there); it sets no global provider or propagator.
func Setup(ctx context.Context, service, version string, warn io.Writer, extra ...sdktrace.SpanProcessor) (tp *sdktrace.TracerProvider, shutdown func(context.Context) error, err error) {
	w := &onceWarner{w: warn, endpoint: endpoint()}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(w.warn))

	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(service), semconv.ServiceVersion(version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing resource: %w", err)
	}

	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	for _, p := range extra {
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

	expOpts := []otlptracegrpc.Option{
		// Retrying for the default minute would hold the exit that long when
		// no collector listens.
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{
			Enabled:         true,
			InitialInterval: 250 * time.Millisecond,
			MaxInterval:     time.Second,
			MaxElapsedTime:  3 * time.Second,
		}),
	}
	if plaintextByDefault() {
		expOpts = append(expOpts, otlptracegrpc.WithInsecure())
	}
	exp, err := otlptracegrpc.New(ctx, expOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("otlp exporter: %w", err)
	}

	tp = sdktrace.NewTracerProvider(append(opts, sdktrace.WithBatcher(exp))...)
	return tp, func(ctx context.Context) error {
		if err := tp.Shutdown(ctx); err != nil {
			w.warn(err)
		}
		return nil // reported on warn: a lost trace is no reason to fail
	}, nil
}

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

// endpoint names where spans go, for the warning.
func endpoint() string {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "localhost:4317"
}

// onceWarner prints the first export error and drops the rest: with no
// collector, every batch fails the same way.
type onceWarner struct {
	w        io.Writer
	endpoint string
	once     sync.Once
}

func (o *onceWarner) warn(err error) {
	o.once.Do(func() {
		if errors.Is(err, context.DeadlineExceeded) {
			err = errors.New("no answer before the deadline")
		}
		fmt.Fprintf(o.w, "warning: cannot export spans to %s (is Jaeger running?); traces of this run may be lost: %v\n", o.endpoint, err)
	})
}
