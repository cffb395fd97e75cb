package client

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"asynctrace/scenario"
	"asynctrace/tracing"
)

// Wait is a task's ready time explained, as -json writes it: what held the
// thread it waited for (scenario.Wait), in milliseconds.
type Wait struct {
	Task          int          `json:"task"`
	ReadyMS       float64      `json:"ready_ms"`
	Holders       []WaitHolder `json:"holders,omitempty"`
	HandoffMS     float64      `json:"handoff_ms,omitempty"`
	UnexplainedMS float64      `json:"unexplained_ms"`
	// Line is the wait in one line, in units: "task2 waited 8.0u: task3's
	// compute 4.0u, task1's compute 4.0u".
	Line string `json:"line"`
}

// WaitHolder is one stage that held the thread a task waited for.
type WaitHolder struct {
	Task      int            `json:"task"`
	Stage     scenario.Stage `json:"stage"`
	CoveredMS float64        `json:"covered_ms"`
	Handoff   bool           `json:"handoff,omitempty"`
}

// readySpans makes every task's ready span, from its record, once the run
// is over and what held the thread it waited for is known
// (scenario.Timeline.Waits): each links to the spans of those stages and
// says on itself how much of the wait each covered, and what nothing
// explains. Runs of more than scenario.LaneTasks tasks get the totals
// alone (Waits grows with the holders each wait overlaps). It returns the
// waits of at least scenario.MinWait of a run of up to LaneTasks tasks,
// for the result.
func (r *runner) readySpans(ctx context.Context, tl *scenario.Timeline) []Wait {
	root := trace.SpanContextFromContext(ctx)
	start := r.start.Round(0) // the timeline's zero
	// Every wait's totals; the holders of those long enough to name.
	explained := map[int]scenario.Wait{}
	for _, w := range tl.WaitTotals() {
		explained[w.Task] = w
	}
	small := len(r.records) <= scenario.LaneTasks
	if small {
		for _, w := range tl.Waits() {
			explained[w.Task] = w
		}
	}
	var out []Wait
	for i := range r.records {
		rec := &r.records[i]
		j := readyIndex(rec)
		if j < 0 {
			continue
		}
		s := &rec.stages[j]
		attrs := []attribute.KeyValue{tracing.KeyOSThreadID.Int(s.thread)}
		if s.threadEnd != s.thread {
			attrs = append(attrs, tracing.KeyOSThreadIDEnd.Int(s.threadEnd))
		}
		if rec.goroutine != 0 {
			attrs = append(attrs, tracing.KeyThreadID.Int64(rec.goroutine))
		}
		w, ok := explained[i+1]
		var links []trace.Link
		if ok {
			if small && w.Ready.Len() >= scenario.MinWait {
				attrs = append(attrs, tracing.KeyWait.String(w.Explain(r.cfg.Unit)))
			}
			if w.Handoff > 0 {
				attrs = append(attrs, tracing.KeyWaitHandoffMS.Float64(scenario.MS(w.Handoff)))
			}
			attrs = append(attrs, tracing.KeyWaitUnexplainedMS.Float64(scenario.MS(w.Unexplained)))
			for _, h := range w.Holders {
				if sc := r.stageSpanContext(root, h.Task, h.Stage); sc.IsValid() {
					links = append(links, trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{tracing.KeyWaitCoveredMS.Float64(scenario.MS(h.Covered))}})
				}
			}
		}
		_, span := r.tracer.Start(trace.ContextWithSpanContext(ctx, rec.span), tracing.SpanReady,
			trace.WithTimestamp(s.start), trace.WithLinks(links...), trace.WithAttributes(attrs...))
		for _, h := range w.Holders {
			span.AddEvent(tracing.EventHeldBy, trace.WithTimestamp(start.Add(max(h.Start, w.Ready.Start))), trace.WithAttributes(
				tracing.KeyTask.String(scenario.TaskLabel(h.Task)), tracing.KeyStage.String(string(h.Stage)),
				tracing.KeyOSThreadID.Int64(h.Thread), tracing.KeyWaitCoveredMS.Float64(scenario.MS(h.Covered)),
				tracing.KeyWaitOverlapMS.Float64(scenario.MS(h.Overlap)), tracing.KeyWaitHandoff.Bool(h.Handoff)))
		}
		span.End(trace.WithTimestamp(s.end))
		s.span = span.SpanContext().SpanID()
		if small && ok && w.Ready.Len() >= scenario.MinWait {
			out = append(out, waitJSON(w, r.cfg.Unit))
		}
	}
	return out
}

func waitJSON(w scenario.Wait, unit time.Duration) Wait {
	out := Wait{Task: w.Task, ReadyMS: scenario.MS(w.Ready.Len()), HandoffMS: scenario.MS(w.Handoff), UnexplainedMS: scenario.MS(w.Unexplained), Line: w.Explain(unit)}
	for _, h := range w.Holders {
		out.Holders = append(out.Holders, WaitHolder{Task: h.Task, Stage: h.Stage, CoveredMS: scenario.MS(h.Covered), Handoff: h.Handoff})
	}
	return out
}

// readyIndex is where a task's ready stage is in its record, or -1.
func readyIndex(rec *taskRecord) int {
	for j, s := range rec.stages {
		if s.stage == scenario.StageReady {
			return j
		}
	}
	return -1
}
