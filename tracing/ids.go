package tracing

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
)

// A request must carry the context of the span that will wait for its reply,
// but the client writes the request (end of `connect`) before it starts that
// span (`response`). ReserveSpan picks the ID of the next child span ahead of
// time; the provider's ID generator hands it out when that span starts.

type reservationKey struct{}

type reservation struct {
	parent trace.SpanID // the span whose next child takes the ID
	id     trace.SpanID
	taken  atomic.Bool // one span only
}

// ReserveSpan returns the span context that the next span started with the
// returned context will have, and that context. Spans of
// a provider not made by NewTracerProvider ignore the reservation.
func ReserveSpan(ctx context.Context) (context.Context, trace.SpanContext) {
	parent := trace.SpanContextFromContext(ctx)
	if !parent.IsValid() {
		return ctx, parent
	}
	id := newSpanID()
	sc := parent.WithSpanID(id).WithRemote(false)
	return context.WithValue(ctx, reservationKey{}, &reservation{parent: parent.SpanID(), id: id}), sc
}

// idGenerator is random, like the SDK's, and honours reservations.
type idGenerator struct{}

func (idGenerator) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	var tid trace.TraceID
	for !tid.IsValid() {
		binary.BigEndian.PutUint64(tid[:8], rand.Uint64())
		binary.BigEndian.PutUint64(tid[8:], rand.Uint64())
	}
	return tid, newSpanID()
}

func (idGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	// Only the parent's next child takes the reserved ID: spans below it
	// inherit the context value but have another parent.
	if r, ok := ctx.Value(reservationKey{}).(*reservation); ok &&
		trace.SpanContextFromContext(ctx).SpanID() == r.parent &&
		r.taken.CompareAndSwap(false, true) {
		return r.id
	}
	return newSpanID()
}

func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.BigEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}
