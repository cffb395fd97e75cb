package diagram

import (
	"context"
	"fmt"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"asynctrace/jaeger"
)

// Span is what the model needs of a span, from either source: the client's
// own spans or a trace fetched from Jaeger.
type Span struct {
	ID, Parent    string
	Service, Name string
	Kind          string // "client", "server"; "" for internal
	Start, End    time.Time
	Attrs         map[string]any // int64, float64, bool or string
	Links         []string       // the span ids it links to
	Events        []string       // its events' names, in order
}

// Int returns an integer attribute.
func (s Span) Int(key string) (int64, bool) {
	v, ok := s.Attrs[key].(int64)
	return v, ok
}

// Float returns a number attribute.
func (s Span) Float(key string) (float64, bool) {
	switch v := s.Attrs[key].(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	}
	return 0, false
}

// FromSDK converts spans recorded in this process. Times are read on the
// wall clock, as exported, without their monotonic reading: the kernel's
// timestamps that end some stages have none.
func FromSDK(spans []sdktrace.ReadOnlySpan) []Span {
	out := make([]Span, 0, len(spans))
	for _, s := range spans {
		attrs := make(map[string]any, len(s.Attributes()))
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.AsInterface()
		}
		parent := ""
		if s.Parent().IsValid() {
			parent = s.Parent().SpanID().String()
		}
		var links, events []string
		for _, l := range s.Links() {
			links = append(links, l.SpanContext.SpanID().String())
		}
		for _, e := range s.Events() {
			events = append(events, e.Name)
		}
		kind := ""
		if k := s.SpanKind(); k == trace.SpanKindClient || k == trace.SpanKindServer {
			kind = k.String()
		}
		out = append(out, Span{
			ID: s.SpanContext().SpanID().String(), Parent: parent,
			Service: service(s), Name: s.Name(), Kind: kind,
			Start: s.StartTime().Round(0), End: s.EndTime().Round(0), Attrs: attrs,
			Links: links, Events: events,
		})
	}
	return out
}

func service(s sdktrace.ReadOnlySpan) string {
	v, _ := s.Resource().Set().Value("service.name")
	return v.AsString()
}

// FromJaeger converts a trace from Jaeger's query API.
func FromJaeger(t *jaeger.Trace) []Span {
	out := make([]Span, 0, len(t.Spans))
	for _, s := range t.Spans {
		attrs := make(map[string]any, len(s.Tags))
		for _, tag := range s.Tags {
			switch tag.Type {
			case "int64":
				if v, ok := s.Int(tag.Key); ok {
					attrs[tag.Key] = v
				}
			default:
				attrs[tag.Key] = tag.Value
			}
		}
		kind, _ := attrs["span.kind"].(string)
		if kind == "internal" {
			kind = ""
		}
		delete(attrs, "span.kind")
		var events []string
		for _, l := range s.Logs {
			for _, f := range l.Fields {
				if f.Key == "event" {
					events = append(events, fmt.Sprint(f.Value))
				}
			}
		}
		out = append(out, Span{
			ID: s.SpanID, Parent: s.Parent(),
			Service: t.Service(s), Name: s.OperationName, Kind: kind,
			Start: s.Start(), End: s.End(), Attrs: attrs,
			Links: s.Links(), Events: events,
		})
	}
	return out
}

// Recorder is a span processor that keeps the spans this process ends, so
// the client can draw its own runs.
type Recorder struct {
	mu    sync.Mutex
	spans map[trace.TraceID][]sdktrace.ReadOnlySpan
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{spans: map[trace.TraceID][]sdktrace.ReadOnlySpan{}}
}

func (r *Recorder) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (r *Recorder) OnEnd(s sdktrace.ReadOnlySpan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := s.SpanContext().TraceID()
	r.spans[id] = append(r.spans[id], s)
}

func (r *Recorder) Shutdown(context.Context) error   { return nil }
func (r *Recorder) ForceFlush(context.Context) error { return nil }

// Take removes and returns the spans of one trace.
func (r *Recorder) Take(traceID string) []sdktrace.ReadOnlySpan {
	id, err := trace.TraceIDFromHex(traceID)
	if err != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	spans := r.spans[id]
	delete(r.spans, id)
	return spans
}
