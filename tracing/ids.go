package tracing

import (
	"context"
	"math/rand/v2"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The spans of a Tokio run are made after it, from its records, and two
// of their ids were chosen by the article's program as it ran: the
// trace's, and each response's, which it sent to the server as the parent
// of the server's echo. IDGenerator lets a span take the ids its context
// names (WithIDs); every other span gets random ones, as the SDK's own
// generator gives.

type idsKey struct{}

type chosenIDs struct {
	trace trace.TraceID
	span  trace.SpanID
}

// WithIDs names the ids of the next span started with ctx: a root span
// takes traceID (if valid) and spanID (if valid); a child takes spanID.
// Start the span with the returned context, and its children with
// trace.ContextWithSpan(ctx, span), so that they choose their own.
func WithIDs(ctx context.Context, traceID trace.TraceID, spanID trace.SpanID) context.Context {
	return context.WithValue(ctx, idsKey{}, chosenIDs{traceID, spanID})
}

// IDGenerator is the ids' source of every tracer provider asynctrace
// makes (Setup, and the tests' recorders).
func IDGenerator() sdktrace.IDGenerator { return idGenerator{} }

type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	c, _ := ctx.Value(idsKey{}).(chosenIDs)
	tid, sid := c.trace, c.span
	for !tid.IsValid() {
		tid = randomTraceID()
	}
	for !sid.IsValid() {
		sid = randomSpanID()
	}
	return tid, sid
}

func (idGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	c, _ := ctx.Value(idsKey{}).(chosenIDs)
	sid := c.span
	for !sid.IsValid() {
		sid = randomSpanID()
	}
	return sid
}

func randomTraceID() (id trace.TraceID) {
	a, b := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		id[i], id[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	return id
}

func randomSpanID() (id trace.SpanID) {
	a := rand.Uint64()
	for i := range 8 {
		id[i] = byte(a >> (8 * i))
	}
	return id
}
