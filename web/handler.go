// Package web is the page of cmd/web: a form to run the article's
// scenarios with any knobs, each run a child process of the client command
// against an echo server of the page's own; while it runs its lines
// stream in (server-sent events), and when it ends the page shows its
// figure, its makespan against the formula, its checks and the link to its
// trace in Jaeger; Compare runs all five and draws them on one time axis.
// docs/design.md, "The web page", has the design.
package web

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"asynctrace/client"
	"asynctrace/scenario"
)

//go:embed static
var static embed.FS

// Info is what the page learns about the machine and the settings.
type Info struct {
	CPUs        int               `json:"cpus"`
	MaxTasks    int               `json:"max_tasks"`
	MinUnitMS   float64           `json:"min_unit_ms"`
	MaxUnitMS   float64           `json:"max_unit_ms"`
	MaxProcs    int               `json:"max_procs"`
	MaxExpected float64           `json:"max_expected_ms"`
	LineTasks   int               `json:"line_tasks"`
	Runtimes    []string          `json:"runtimes"`
	Tokio       *PeerStatus       `json:"tokio,omitempty"` // absent: not known
	Scenarios   []string          `json:"scenarios"`
	Computes    []string          `json:"computes"`
	Defaults    map[string]string `json:"defaults"`
	Jaeger      TraceStatus       `json:"jaeger"` // state "none": runs will have no link, the note says why
}

// Handler serves the page and its API:
//
//	GET  /                        the page (its state in the query: the knobs, id=N or group=N, run=1)
//	GET  /api/info                limits, defaults, whether Jaeger answers
//	GET  /api/check?knobs         the knobs checked: the expected makespan, or what is wrong
//	POST /api/runs                queue a run of the knobs (form fields named as the client's flags)
//	POST /api/compare             queue the five scenarios with the knobs (runtimes=go,tokio: in each)
//	GET  /api/runs                the runs kept, newest first
//	GET  /api/runs/{id}           one run
//	GET  /api/runs/{id}/events    its lines and state, as server-sent events
//	GET  /api/runs/{id}/svg       its figure (?compact=1: narrow, for Compare)
//	POST /api/runs/{id}/cancel    cancel it
//	GET  /api/groups/{group}      the runs of a Compare
//	POST /api/groups/{group}/cancel  cancel those not ended
//
// It serves only requests whose Host is an IP address, localhost, or one
// of allowedHosts (guard.go says what else guards it). Every error is
// JSON: {"error": "…"}, with "fields" (the knobs, by name) or "unknown"
// (parameters it does not take) where they apply.
func Handler(r *Runner, allowedHosts ...string) http.Handler {
	mux := http.NewServeMux()
	sub, _ := fs.Sub(static, "static")
	mux.HandleFunc("GET /static/{file...}", func(w http.ResponseWriter, req *http.Request) {
		name := req.PathValue("file")
		if fi, err := fs.Stat(sub, name); err != nil || !fi.Mode().IsRegular() {
			writeError(w, http.StatusNotFound, fmt.Sprintf("%s: no such file", clip(req.URL.Path)))
			return
		}
		http.ServeFileFS(w, req, sub, name)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, req *http.Request) {
		// The page's own parameters (the knobs, id, group, run) are app.js's
		// to read, and to say which it does not know.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		http.ServeFileFS(w, req, sub, "index.html")
	})
	mux.HandleFunc("GET /api/info", func(w http.ResponseWriter, req *http.Request) {
		if !onlyParams(w, req) {
			return
		}
		_, st := r.cfg.Traces.Before()
		var peers *PeerStatus
		if r.cfg.Peers != nil {
			p := r.cfg.Peers()
			peers = &p
		}
		writeJSON(w, http.StatusOK, Info{
			CPUs: runtime.NumCPU(), MaxTasks: MaxTasks, MinUnitMS: scenario.MS(MinUnit), MaxUnitMS: scenario.MS(MaxUnit), MaxProcs: MaxProcs,
			MaxExpected: scenario.MS(MaxExpected), LineTasks: client.LineTasks, Runtimes: names(scenario.Runtimes), Tokio: peers,
			Scenarios: names(scenario.All), Computes: names(scenario.Computes), Defaults: defaultsMap(), Jaeger: st,
		})
	})
	mux.HandleFunc("GET /api/check", func(w http.ResponseWriter, req *http.Request) {
		if !onlyParams(w, req, knobNames...) {
			return
		}
		checkKnobs(w, req, r.limits)
	})
	mux.HandleFunc("POST /api/runs", func(w http.ResponseWriter, req *http.Request) {
		submit(w, req, r, false)
	})
	mux.HandleFunc("POST /api/compare", func(w http.ResponseWriter, req *http.Request) {
		submit(w, req, r, true)
	})
	mux.HandleFunc("GET /api/runs", func(w http.ResponseWriter, req *http.Request) {
		if !onlyParams(w, req) {
			return
		}
		writeJSON(w, http.StatusOK, views(r, r.Runs()))
	})
	mux.HandleFunc("GET /api/runs/{id}", withRun(r, func(w http.ResponseWriter, req *http.Request, run *Run) {
		if !onlyParams(w, req) {
			return
		}
		writeJSON(w, http.StatusOK, view(r, run))
	}))
	mux.HandleFunc("GET /api/runs/{id}/svg", withRun(r, func(w http.ResponseWriter, req *http.Request, run *Run) {
		if !onlyParams(w, req, "compact") {
			return
		}
		svg := run.SVG(req.URL.Query().Get("compact") == "1")
		if svg == nil {
			writeError(w, http.StatusNotFound, "the run has no figure (yet)")
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Write(svg)
	}))
	mux.HandleFunc("POST /api/runs/{id}/cancel", withRun(r, func(w http.ResponseWriter, req *http.Request, run *Run) {
		if err := r.Cancel(run); err != nil {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, view(r, run))
	}))
	mux.HandleFunc("GET /api/runs/{id}/events", withRun(r, func(w http.ResponseWriter, req *http.Request, run *Run) {
		if !onlyParams(w, req) {
			return
		}
		events(w, req, r, run)
	}))
	mux.HandleFunc("GET /api/groups/{group}", withGroup(r, func(w http.ResponseWriter, req *http.Request, runs []*Run) {
		if !onlyParams(w, req) {
			return
		}
		writeJSON(w, http.StatusOK, views(r, runs))
	}))
	mux.HandleFunc("POST /api/groups/{group}/cancel", withGroup(r, func(w http.ResponseWriter, req *http.Request, runs []*Run) {
		for _, run := range runs {
			r.Cancel(run) // the ended ones stay as they are
		}
		writeJSON(w, http.StatusOK, views(r, runs))
	}))
	// Runs are child processes on this machine: POSTs that a page of
	// another site makes a browser send (Sec-Fetch-Site, Origin) are
	// refused.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, http.StatusForbidden, "cross-site request refused: runs start from this page only")
	}))
	return secure(hostGuard(allowedHosts, cop.Handler(jsonErrors(mux))))
}

// checkKnobs answers whether the knobs in the query make a run the page
// starts, and what to expect of it.
func checkKnobs(w http.ResponseWriter, req *http.Request, l client.Limits) {
	type answer struct {
		OK         bool        `json:"ok"`
		ExpectedMS float64     `json:"expected_ms,omitempty"`
		Formula    string      `json:"formula,omitempty"`
		Procs      int         `json:"procs,omitempty"` // GOMAXPROCS the run gets
		Command    string      `json:"command,omitempty"`
		Error      string      `json:"error,omitempty"`
		Fields     FieldErrors `json:"fields,omitempty"`
	}
	k, err := ParseKnobs(req.URL.Query())
	if err == nil {
		err = k.Check(l)
	}
	var a answer
	if err != nil {
		a.Error = err.Error()
		errors.As(err, &a.Fields)
	} else {
		p := k.params()
		exp, formula := p.Expected()
		a = answer{OK: true, ExpectedMS: scenario.MS(exp), Formula: formula, Procs: p.Procs, Command: "go run ./cmd/client " + strings.Join(k.userArgs(), " ")}
	}
	writeJSON(w, http.StatusOK, a)
}

// submit queues a run, or a Compare, from a POSTed form. A Compare may
// name its runtimes (runtimes=go,tokio) instead of the runtime knob.
func submit(w http.ResponseWriter, req *http.Request, r *Runner, compare bool) {
	form, ok := formBody(w, req)
	if !ok {
		return
	}
	var runtimes []scenario.Runtime
	if compare && form.Has("runtimes") {
		var err error
		if runtimes, err = parseRuntimes(form); err != nil {
			writeFieldErrors(w, err)
			return
		}
		form.Del("runtimes")
	}
	k, err := ParseKnobs(form)
	if err != nil {
		writeFieldErrors(w, err)
		return
	}
	var runs []*Run
	if compare {
		runs, err = r.Compare(k, runtimes...)
	} else {
		runs, err = r.Submit(k)
	}
	switch {
	case errors.Is(err, ErrQueueFull):
		writeError(w, http.StatusTooManyRequests, err.Error())
		return
	case err != nil:
		writeFieldErrors(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, views(r, runs))
}

// parseRuntimes reads a Compare's runtimes: one value, names separated by
// commas, each once; the runtime knob is not given with them.
func parseRuntimes(form url.Values) ([]scenario.Runtime, error) {
	vals := form["runtimes"]
	switch {
	case len(vals) != 1:
		return nil, FieldErrors{"runtimes": "given more than once: give the runtimes in one value, such as go,tokio"}
	case form.Has("runtime"):
		return nil, FieldErrors{"runtimes": "given with the runtime knob: give one or the other"}
	}
	var out []scenario.Runtime
	for _, s := range strings.Split(vals[0], ",") {
		rt, err := scenario.ParseRuntime(s)
		switch {
		case err != nil:
			return nil, FieldErrors{"runtimes": fmt.Sprintf("%q is none of %s", clip(s), scenario.Names(scenario.Runtimes))}
		case slices.Contains(out, rt):
			return nil, FieldErrors{"runtimes": fmt.Sprintf("%s given twice", rt)}
		}
		out = append(out, rt)
	}
	return out, nil
}

// events streams a run's lines as "line" events (id: the line's index, so
// that a reconnecting EventSource resumes), its state as "state" events,
// and "end" once it has ended and every line is sent.
func events(w http.ResponseWriter, req *http.Request, r *Runner, run *Run) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	next := 0
	if id, err := strconv.Atoi(req.Header.Get("Last-Event-ID")); err == nil && id >= 0 {
		next = id + 1
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	lastState, lastAhead := State(""), -1
	for {
		lines, ended, changed := run.Lines(next)
		for _, l := range lines {
			fmt.Fprintf(w, "id: %d\nevent: line\ndata: %s\n\n", next, oneLine.Replace(l))
			next++
		}
		v := view(r, run)
		if v.State != lastState || v.Ahead != lastAhead || ended {
			b, _ := json.Marshal(v)
			fmt.Fprintf(w, "event: state\ndata: %s\n\n", b)
			lastState, lastAhead = v.State, v.Ahead
		}
		if ended {
			fmt.Fprint(w, "event: end\ndata: {}\n\n")
			flusher.Flush()
			return
		}
		flusher.Flush()
		// While queued, the runs ahead end without a change of this one:
		// look again every second. Else a comment now and then keeps
		// proxies from closing a quiet stream.
		wait := 15 * time.Second
		if v.State == Queued {
			wait = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-changed:
		case <-t.C:
			if v.State != Queued {
				fmt.Fprint(w, ": still running\n\n")
			}
		case <-req.Context().Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

// oneLine keeps a line one line in an event's data.
var oneLine = strings.NewReplacer("\n", " ", "\r", " ")

// view is a run as the API shows it, with its place in the queue.
func view(r *Runner, run *Run) View {
	v := run.View()
	v.Ahead = r.Ahead(run)
	return v
}

// views are the runs as the API shows them; [] for none.
func views(r *Runner, runs []*Run) []View {
	vs := []View{}
	for _, run := range runs {
		vs = append(vs, view(r, run))
	}
	return vs
}

// withGroup serves the runs of the Compare named in the path.
func withGroup(r *Runner, h func(http.ResponseWriter, *http.Request, []*Run)) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		g, err := strconv.Atoi(req.PathValue("group"))
		runs := r.Group(g)
		if err != nil || len(runs) == 0 {
			writeError(w, http.StatusNotFound, "no such comparison (the page keeps the last runs only)")
			return
		}
		h(w, req, runs)
	}
}

func withRun(r *Runner, h func(http.ResponseWriter, *http.Request, *Run)) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		id, err := strconv.Atoi(req.PathValue("id"))
		run, ok := r.Get(id)
		if err != nil || !ok {
			writeError(w, http.StatusNotFound, "no such run (the page keeps the last runs only)")
			return
		}
		h(w, req, run)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeFieldErrors(w http.ResponseWriter, err error) {
	var fe FieldErrors
	if errors.As(err, &fe) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error(), "fields": fe})
		return
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

func names[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

func defaultsMap() map[string]string {
	m := map[string]string{}
	for k, v := range DefaultKnobs.Query() {
		m[k] = v[0]
	}
	return m
}
