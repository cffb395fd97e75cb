package client

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"

	"asynctrace/scenario"
	"asynctrace/tracing"
)

// timeline is the run as the tasks measured it. Times are taken on the
// wall clock, as the spans export them: the kernel's timestamps have no
// monotonic reading.
func (r *runner) timeline(p scenario.Params, end time.Time) *scenario.Timeline {
	start := r.start.Round(0)
	at := func(t time.Time) time.Duration { return t.Round(0).Sub(start) }
	tl := &scenario.Timeline{Params: p, Makespan: at(end)}
	for i, rec := range r.records { // every task is created, whatever failed before it
		t := scenario.Task{Index: i + 1, Goroutine: rec.goroutine, Locked: p.Scenario.Locked(), Start: at(rec.start), End: at(rec.end),
			Handshake: rec.handshake, RoundTrip: rec.roundTrip, ServerHold: rec.serverHold}
		for _, s := range rec.stages {
			t.Segments = append(t.Segments, scenario.Segment{
				Task: i + 1, Stage: s.stage, Start: at(s.start), End: at(s.end),
				Thread: int64(s.thread), ThreadEnd: int64(s.threadEnd),
			})
		}
		tl.Tasks = append(tl.Tasks, t)
	}
	return tl
}

// laneSpans records the article's right half: under one span for the
// run's threads, a span per OS thread lane, numbered in the order the
// threads first served a task, from its first stage to its last, and under
// it a span per stage it held, timed as that stage and linked to its span.
// They are the measurements the tasks made, drawn a second way. Times come
// back from the timeline to the very nanosecond on the wall clock the spans
// export. n names them (tracing.Named).
func (r *runner) laneSpans(ctx context.Context, lanes []scenario.Lane, n int) {
	if len(lanes) == 0 {
		return
	}
	start := r.start.Round(0)
	first, last := lanes[0].Start, lanes[0].End
	for _, l := range lanes {
		first, last = min(first, l.Start), max(last, l.End)
	}
	root := trace.SpanContextFromContext(ctx)
	ctx, threads := r.tracer.Start(ctx, tracing.SpanThreads, trace.WithTimestamp(start.Add(first)))
	for k, l := range lanes {
		lctx, lane := r.tracer.Start(ctx, tracing.ThreadLaneSpanName(k+1, n),
			trace.WithTimestamp(start.Add(l.Start)),
			trace.WithAttributes(tracing.KeyThreadLane.Int(k+1), tracing.KeyOSThreadID.Int64(l.Thread)))
		for _, seg := range l.Segments {
			_, span := r.tracer.Start(lctx, tracing.LaneStageSpanName(seg.Task, seg.Stage, n),
				trace.WithTimestamp(start.Add(seg.Start)),
				trace.WithLinks(trace.Link{SpanContext: r.stageSpanContext(root, seg.Task, seg.Stage)}),
				trace.WithAttributes(
					tracing.KeyTask.String(scenario.TaskLabel(seg.Task)),
					tracing.KeyStage.String(string(seg.Stage)),
					tracing.KeyOSThreadID.Int64(l.Thread),
				))
			span.End(trace.WithTimestamp(start.Add(seg.End)))
		}
		lane.End(trace.WithTimestamp(start.Add(l.End)))
	}
	threads.End(trace.WithTimestamp(start.Add(last)))
}

// lastTaskEnd is when the last task ended, or the run's start if none ran.
func (r *runner) lastTaskEnd() time.Time {
	end := r.start
	for _, rec := range r.records {
		if rec.end.After(end) {
			end = rec.end
		}
	}
	return end
}

// stageSpanContext is the span context of task i's stage s, a span of the trace
// of root.
func (r *runner) stageSpanContext(root trace.SpanContext, i int, s scenario.Stage) trace.SpanContext {
	for _, rec := range r.records[i-1].stages {
		if rec.stage == s {
			return root.WithSpanID(rec.span)
		}
	}
	return trace.SpanContext{}
}
