package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"asynctrace/client"
	"asynctrace/jaeger"
)

// Traces is where the runs' spans go, and where the page links to them.
type Traces struct {
	UI        string // Jaeger UI's address, for links; "": no links
	API       string // Jaeger query API the page reads; "": UI
	OTLP      string // OTLP endpoint the runs export to (tracing.Endpoint)
	Exporting bool   // false: OTEL_TRACES_EXPORTER=none
	// AwaitFor bounds the wait for a run's trace in Jaeger; default 30s.
	AwaitFor time.Duration
}

// noJaeger ends every note that says there is no trace link.
const noJaeger = " The figure is drawn from the run's own spans all the same."

// Before says whether a run's spans can be exported now: a collector
// answers on the OTLP endpoint. If not, or if there is no UI to link to,
// the status is TraceNone and says why there will be no link; else
// TraceReady: runs will be linked.
func (t Traces) Before() (export bool, st TraceStatus) {
	if !t.Exporting {
		return false, TraceStatus{State: TraceNone, Note: "No trace link: spans are not exported (OTEL_TRACES_EXPORTER=none)." + noJaeger}
	}
	hostport := otlpHostPort(t.OTLP)
	c, err := net.DialTimeout("tcp", hostport, 500*time.Millisecond)
	if err != nil {
		return false, TraceStatus{State: TraceNone, Note: fmt.Sprintf("No trace link: no Jaeger answers for OTLP at %s (start one with `docker compose up jaeger`, or set OTEL_EXPORTER_OTLP_ENDPOINT).%s", hostport, noJaeger)}
	}
	c.Close()
	if t.UI == "" {
		return true, TraceStatus{State: TraceNone, Note: fmt.Sprintf("Spans exported to %s; no trace link: the page was given no address of the Jaeger UI.", hostport)}
	}
	return true, TraceStatus{State: TraceReady}
}

// Link is the status after the run, from Before's: the trace's id, and
// its link where Before found Jaeger (TraceWaiting: Await reads it).
func (t Traces) Link(st TraceStatus, res *client.Result) TraceStatus {
	if res == nil || res.TraceID == "" || strings.Trim(res.TraceID, "0") == "" {
		if st.State != TraceNone {
			st = TraceStatus{State: TraceNone, Note: "No trace link: the run ended without saying its trace's id."}
		}
		return st
	}
	st.ID = res.TraceID
	if st.State != TraceNone {
		st.State = TraceWaiting
		st.URL = jaeger.TraceURL(t.UI, res.TraceID)
		st.Note = "Waiting for Jaeger to have the whole trace."
		if res.SpansDropped > 0 {
			st.Note = fmt.Sprintf("%d of the run's spans were not exported; waiting for Jaeger to have the others.", res.SpansDropped)
		}
	}
	return st
}

// Await reads the run's trace from Jaeger until its span count stops
// growing, and says how many spans it holds.
func (t Traces) Await(ctx context.Context, run *Run) {
	api := t.API
	if api == "" {
		api = t.UI
	}
	id := run.View().Trace.ID
	wait := t.AwaitFor
	if wait <= 0 {
		wait = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	jc := jaeger.Client{BaseURL: api}
	last, stable := 0, 0
	var lastErr error
	for {
		tr, err := jc.Trace(ctx, id)
		switch {
		case err == nil:
			n := len(tr.Spans)
			if n == last {
				stable++
			} else {
				last, stable = n, 0
				setTrace(run, TraceWaiting, n, fmt.Sprintf("In Jaeger: %d spans so far.", n))
			}
			if stable >= 2 {
				note := fmt.Sprintf("In Jaeger: %d spans.", n)
				if hint := jaeger.LargeTraceHint(run.Knobs.Tasks); hint != "" {
					note += " " + hint + "; the figure here is the run's picture."
				}
				setTrace(run, TraceReady, n, note)
				return
			}
		case !errors.Is(err, jaeger.ErrNotFound):
			lastErr = err
		}
		poll := time.NewTimer(500 * time.Millisecond)
		select {
		case <-poll.C:
		case <-ctx.Done():
			poll.Stop()
			if last > 0 {
				setTrace(run, TraceReady, last, fmt.Sprintf("In Jaeger: %d spans (still arriving after %v).", last, wait))
				return
			}
			note := fmt.Sprintf("Jaeger at %s has not got the trace after %v", api, wait)
			if errors.Is(ctx.Err(), context.Canceled) {
				note = fmt.Sprintf("The page stopped before Jaeger at %s had the trace", api)
			}
			if lastErr != nil {
				note += ": " + lastErr.Error()
			}
			setTrace(run, TraceFailed, 0, note+".")
			return
		}
	}
}

func setTrace(run *Run, state TraceState, spans int, note string) {
	run.update(func() { run.trace.State, run.trace.Spans, run.trace.Note = state, spans, note })
}

// otlpHostPort is the host:port of an OTLP endpoint given as a URL
// (http://jaeger:4317) or as host:port.
func otlpHostPort(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		if u.Port() == "" {
			return net.JoinHostPort(u.Hostname(), "4317")
		}
		return u.Host
	}
	return endpoint
}
