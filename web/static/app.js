// asynctrace's page: the knobs in the URL, runs streamed, figures drawn.
"use strict";

const KNOBS = ["runtime", "scenario", "tasks", "unit", "procs", "compute"];
// The page's own URL parameters, besides the knobs.
const VIEW_PARAMS = ["id", "group", "run"];

// One line a knob value, from the article (and the design doc for Go's
// compute modes). The lists themselves (which scenarios, which modes,
// the bounds) come from /api/info.
const RUNTIME_HELP = {
  "go": "asynctrace's client in Go: goroutines on Go's scheduler.",
  "tokio": "The article's own Rust programs, on Tokio (rayon for os-threads), run as a child and traced with the same spans.",
};
const RUNTIME_NAME = { "go": "Go", "tokio": "Tokio" };
const SCENARIO_HELP = {
  "sync": "Synchronous requests: one OS thread does each task's steps in turn, blocking on every wait. The article: 3 × (2 + 8 + 4) = 42 s.",
  "sequential": "Async code, but each task awaited before the next starts: nothing overlaps, as slow as sync (42 s).",
  "single-thread": "Asynchronous requests, one OS thread: the waits overlap, but the computes take turns on the one thread: 2 + 8 + 3 × 4 = 22 s.",
  "multi-thread": "Asynchronous requests, multiple OS threads: every step concurrent, the computes in parallel on different threads: 14 s (with P ≥ 3).",
  "os-threads": "One OS thread per task (rayon): parallel too, 14 s, but every request needs its own thread, and 10,000 of them meet the thread limit.",
};
const COMPUTE_HELP = {
  "": "Each scenario's own: hold (os-threads: syscall).",
  "hold": "Blocks the thread without telling the scheduler, as the article's std::thread::sleep does: with one P the computes form a stair.",
  "syscall": "The same sleep as a system call: Go hands the P to another thread, so the computes overlap even with P = 1.",
  "cpu": "Real CPU work, calibrated to 4u: the scheduler preempts and time-slices it.",
  "sleep": "time.Sleep: the goroutine parks and holds no thread, like tokio::time::sleep. The way to run 10,000 tasks.",
};

const $ = (id) => document.getElementById(id);

// Errors the page cannot put beside a knob are said in one place, at the
// top; each async entry point ends in .catch(report), so that none is
// lost as an unhandled rejection.
function report(e) {
  if (e && e.shown) return;
  const pe = $("page-error");
  pe.textContent = e && e.message ? e.message : String(e);
  pe.hidden = false;
}
const safe = (f) => (...args) => { f(...args).catch(report); };

// Every request goes through api: when the page's server does not answer
// (stopped, or the network gone), the page says so instead of waiting
// for ever, and the caller's work stops there; the next answer clears it.
async function api(path, opts) {
  let r;
  try {
    r = await fetch(path, opts);
  } catch (e) {
    report(new Error(`The page's server did not answer (${e.message}): is asynctrace web still running? Reload to try again.`));
    e.shown = true;
    throw e;
  }
  $("page-error").hidden = true;
  return r;
}
// readJSON reads an answer's JSON; every error the server sends is JSON
// ({"error": ...}), but a proxy's may not be.
async function readJSON(r) {
  const text = await r.text();
  try {
    return JSON.parse(text);
  } catch {
    return { error: `${r.status} ${r.statusText}: ${text.slice(0, 200)}` };
  }
}
// getJSON is a GET whose answer must be good: else it throws the
// server's error.
async function getJSON(path) {
  const r = await api(path);
  const a = await readJSON(r);
  if (!r.ok) {
    const e = new Error(a.error || `${path}: ${r.status} ${r.statusText}`);
    e.status = r.status;
    throw e;
  }
  return a;
}
let info = null;
let current = null;       // the run shown: {id, es}
let comparing = null;     // the Compare shown: {group, timer}
let historyTimer = null;

function fmtS(ms) {
  if (ms === undefined || ms === null) return "";
  return ms >= 10000 ? (ms / 1000).toFixed(2) + " s" : ms >= 1000 ? (ms / 1000).toFixed(3) + " s" : ms.toFixed(ms < 10 ? 2 : 1) + " ms";
}
function fmtU(ms, unitMS) { return (ms / unitMS).toFixed(2) + "u"; }
function fmtBytes(b) { return b >= 1 << 20 ? (b / (1 << 20)).toFixed(0) + " MiB" : (b / 1024).toFixed(1) + " KiB"; }
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

// The knobs: form <-> URL.
function formKnobs() {
  const q = new URLSearchParams();
  for (const k of KNOBS) {
    const v = $(k).value.trim();
    if (v !== "" || k === "compute") q.set(k, v);
  }
  if (!q.get("compute")) q.delete("compute");
  return q;
}
// setForm fills the form from the URL's parameters, and returns what it
// could not put in a list: "scenario: bogus".
function setForm(params) {
  const bad = [];
  for (const k of KNOBS) {
    const v = params.get(k);
    const input = $(k);
    input.value = v !== null ? v : (info && info.defaults[k] !== undefined ? info.defaults[k] : "");
    if (v !== null && input.tagName === "SELECT" && input.value !== v) {
      bad.push(`${k}: "${v}" is none of ${[...input.options].map((o) => o.value).filter((x) => x).join(", ")}`);
      input.value = info.defaults[k] !== undefined ? info.defaults[k] : "";
    }
  }
  helpTexts();
  return bad;
}
// tokioMissing is why Tokio's runs will fail here, or "".
function tokioMissing() {
  return info && info.tokio && !info.tokio.available ? info.tokio.note || "the programs are not built" : "";
}
// fillLists builds the form's lists and bounds from /api/info.
function fillLists() {
  const opts = (sel, values, labels) => {
    sel.textContent = "";
    for (const v of values) sel.append(el("option", { value: v, text: labels[v] || v }));
  };
  opts($("runtime"), info.runtimes, { "go": "Go", "tokio": tokioMissing() ? "Tokio (not built here)" : "Tokio" });
  opts($("scenario"), info.scenarios, {});
  opts($("compute"), ["", ...info.computes], { "": "the scenario's default" });
  $("tasks").max = info.max_tasks;
  $("procs").max = info.max_procs;
  $("tasks-max").textContent = info.max_tasks.toLocaleString("en");
}
function helpTexts() {
  const tokio = $("runtime").value === "tokio";
  const missing = tokioMissing();
  $("runtime-help").textContent = (RUNTIME_HELP[$("runtime").value] || "") + (tokio && missing ? ` Not here: ${missing}.` : "");
  $("runtime-help").classList.toggle("warn", tokio && !!missing);
  $("scenario-help").textContent = SCENARIO_HELP[$("scenario").value] || "";
  $("compute-help").textContent = tokio ?
    "The article's programs compute as the article does, blocking their thread (hold); multi-thread also has the C10k program's sleep (tokio::time::sleep)." :
    COMPUTE_HELP[$("compute").value] || "";
  $("procs-label").textContent = tokio ? "Threads" : "GOMAXPROCS";
  if (info) {
    $("procs-help").textContent = tokio ?
      `Tokio's worker threads (multi-thread), rayon's threads (os-threads). 0: one per core, ${info.cpus} here; single-thread has one, sync and sequential no pool.` :
      `How many goroutines run Go code at once: Tokio's worker threads. 0: the scenario's default (single-thread 1, os-threads one per task, else the ${info.cpus} CPUs here).`;
  }
}
// threadsOf says what P is for a run: Go's GOMAXPROCS, Tokio's workers,
// rayon's threads.
function threadsOf(runtime, scenario, p) {
  if (runtime !== "tokio") return `GOMAXPROCS ${p}`;
  if (scenario === "multi-thread") return `${p} Tokio worker${p === 1 ? "" : "s"}`;
  if (scenario === "os-threads") return `${p} rayon thread${p === 1 ? "" : "s"}`;
  return "one thread";
}
function pageURL(extra) {
  const q = formKnobs();
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  return "/?" + q.toString();
}

let checkSeq = 0;
async function checkForm() {
  helpTexts();
  const q = formKnobs();
  $("share").href = "/?" + q.toString();
  const seq = ++checkSeq;
  const r = await api("/api/check?" + q.toString());
  const a = await readJSON(r);
  if (seq !== checkSeq) return;
  showFieldErrors(a.fields || {});
  if (a.ok) {
    const u = parseDuration($("unit").value);
    const rt = $("runtime").value;
    $("expect").textContent = `Expected makespan ${fmtS(a.expected_ms)} = ${a.formula}, ${RUNTIME_NAME[rt] || rt} with ${threadsOf(rt, $("scenario").value, a.procs)}.` + (u ? ` (${(a.expected_ms / u).toFixed(0)}u)` : "");
    $("form-error").textContent = "";
  } else {
    $("expect").textContent = "";
    if (!a.fields || Object.keys(a.fields).length === 0) $("form-error").textContent = a.error || "";
  }
  $("run").disabled = !a.ok;
  $("confirm-run").disabled = !a.ok;
}
function showFieldErrors(fields) {
  for (const k of KNOBS) {
    $(k + "-error").textContent = fields[k] || "";
    if (fields[k]) $(k).setAttribute("aria-invalid", "true"); else $(k).removeAttribute("aria-invalid");
  }
}
function parseDuration(s) {
  const m = /^([0-9.]+)(ns|us|µs|ms|s|m)$/.exec(s.trim());
  if (!m) return 0;
  const f = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60000 }[m[2]];
  return parseFloat(m[1]) * f;
}

// Starting runs.
async function post(path, body) {
  const r = await api(path, { method: "POST", body, headers: { "Content-Type": "application/x-www-form-urlencoded" } });
  const a = await readJSON(r);
  if (!r.ok) {
    showFieldErrors(a.fields || {});
    $("form-error").textContent = a.error || r.statusText;
    return null;
  }
  $("form-error").textContent = "";
  return a;
}
async function startRun() {
  $("confirm").hidden = true;
  const views = await post("/api/runs", formKnobs().toString());
  if (!views) return;
  history.pushState(null, "", pageURL({ id: views[0].id }));
  showRun(views[0].id);
  await refreshHistory();
}
// startCompare queues the five scenarios in the form's runtime, or with
// both, in Go and in Tokio.
async function startCompare(both) {
  $("confirm").hidden = true;
  const q = formKnobs();
  q.delete("scenario");
  if (both) {
    q.delete("runtime");
    q.set("runtimes", info.runtimes.join(","));
  }
  const views = await post("/api/compare", q.toString());
  if (!views) return;
  history.pushState(null, "", pageURL({ group: views[0].group }));
  showCompare(views[0].group);
  await refreshHistory();
}

// One run: its lines streamed, then its figure and facts.
function closeViews() {
  if (current && current.es) current.es.close();
  if (current && current.clock) clearInterval(current.clock);
  if (current && current.poll) clearTimeout(current.poll);
  current = null;
  if (comparing && comparing.timer) clearTimeout(comparing.timer);
  comparing = null;
  $("current").hidden = true;
  $("comparison").hidden = true;
}
function showRun(id) {
  closeViews();
  const c = { id, es: null, view: null, at: 0 };
  current = c;
  $("current").hidden = false;
  $("lines").textContent = "";
  $("figure").textContent = "";
  $("summary").textContent = "";
  $("checks").textContent = "";
  $("trace").textContent = "";
  $("run-title").textContent = `Run ${id}`;
  const es = new EventSource(`/api/runs/${id}/events`);
  c.es = es;
  es.addEventListener("line", (e) => {
    const pre = $("lines");
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.append(e.data + "\n");
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  });
  es.addEventListener("state", (e) => { if (current === c) updateRun(c, JSON.parse(e.data)); });
  es.addEventListener("end", () => {
    es.close();
    if (current === c) finishRun(c).catch(report);
  });
  es.onerror = safe(async () => {
    // A run the page no longer keeps, or a server gone: say so once.
    const r = await api(`/api/runs/${id}`);
    if (!r.ok && current === c) {
      es.close();
      clearInterval(c.clock);
      $("run-state").textContent = "unknown";
      $("run-title").textContent = `Run ${id}: ${(await readJSON(r)).error}`;
    }
  });
  c.clock = setInterval(() => tick(c), 100);
}
function updateRun(c, v) {
  c.view = v;
  c.at = performance.now();
  $("run-title").textContent = `Run ${v.id}: ${RUNTIME_NAME[v.knobs.runtime] || v.knobs.runtime}, ${v.knobs.scenario}, ${v.knobs.tasks} task${v.knobs.tasks === 1 ? "" : "s"}, u = ${fmtS(v.unit_ms)}`;
  $("run-command").textContent = v.command;
  const st = $("run-state");
  st.textContent = v.state;
  st.className = "state " + v.state;
  $("cancel").hidden = v.state !== "queued" && v.state !== "running";
  tick(c);
}
function tick(c) {
  const v = c.view;
  if (!v) return;
  let elapsed = v.elapsed_ms;
  if (v.state === "running") elapsed += performance.now() - c.at;
  const p = $("run-progress");
  p.max = v.expected_ms;
  p.value = Math.min(elapsed, v.expected_ms);
  $("run-clock").textContent = v.state === "queued" ? `queued behind ${v.ahead || 0} run${v.ahead === 1 ? "" : "s"}; expected ${fmtS(v.expected_ms)}` :
    `${fmtS(elapsed)} of ${fmtS(v.expected_ms)} expected (${v.formula})`;
}
async function finishRun(c) {
  clearInterval(c.clock);
  const v = await getJSON(`/api/runs/${c.id}`);
  if (current !== c) return;
  updateRun(c, v);
  renderFacts(v);
  refreshHistory().catch(report);
  pollTrace(c);
  if (v.has_svg) {
    const r = await api(`/api/runs/${c.id}/svg`);
    if (!r.ok) throw new Error(`Run ${c.id}'s figure: ${(await readJSON(r)).error}`);
    const svg = await r.text();
    if (current !== c) return;
    $("figure").innerHTML = svg;
  }
}
function renderFacts(v) {
  const dl = $("summary");
  dl.textContent = "";
  const add = (k, val, id) => { dl.append(el("dt", { text: k }), el("dd", id ? { text: val, id } : { text: val })); };
  const res = v.result;
  const failed = $("run-failed");
  failed.hidden = v.state !== "failed";
  failed.textContent = v.state === "failed" ? `The run failed: ${v.error || "its process ended without saying why"}.` : "";
  if (v.error && v.state !== "failed") add(v.state, v.error, "run-error");
  if (v.failed_tasks) {
    const causes = Object.entries(res && res.failures || {}).map(([cause, n]) => `${n} × ${cause}`).join("; ");
    add("failed tasks", `${v.failed_tasks.toLocaleString("en")} of ${v.knobs.tasks.toLocaleString("en")}` + (causes ? `: ${causes}` : ""), "failed-tasks");
    for (const [i, e] of (res && res.errors || []).entries()) add(i === 0 ? "the first" : "", e);
  }
  if (res && res.makespan_ms > 0) {
    const ratio = res.makespan_ms / res.expected_ms;
    const tokio = res.runtime === "tokio";
    add("runtime", `${RUNTIME_NAME[res.runtime] || res.runtime} ${res.runtime_version || ""}` + (tokio ? ": the article's own program" : ": asynctrace's client"), "runtime-shown");
    add("makespan", `${fmtS(res.makespan_ms)} = ${fmtU(res.makespan_ms, res.unit_ms)}`, "makespan");
    add("expected", `${fmtS(res.expected_ms)} = ${fmtU(res.expected_ms, res.unit_ms)} (${res.formula}); measured ${(ratio * 100).toFixed(1)}% of it`, "expected");
    add("ready, in all", `${fmtS(res.ready_ms)}: replies there, ${tokio ? "tasks" : "goroutines"} waiting for a thread`);
    add(tokio ? "threads" : "GOMAXPROCS", `${tokio ? threadsOf("tokio", res.scenario, res.gomaxprocs) : res.gomaxprocs} (${res.num_cpu} CPUs), compute ${res.compute}`);
    add("OS thread lanes", `${res.thread_lanes}: threads a stage held`);
    if (!tokio) { // the Go client's own counts
      add("peak OS threads", String(res.peak_os_threads), "peak-threads");
      add("peak goroutines", String(res.peak_goroutines), "peak-goroutines");
    }
    add("peak memory", `${fmtBytes(res.peak_rss_bytes)} (${fmtBytes(res.rss_per_task_bytes)} a task)`);
    if (!tokio && res.stacks_per_task_bytes > 0) { // what the waiting tasks themselves take
      const locked = res.scenario === "os-threads" || res.scenario === "sync";
      add("a task's stack", `${fmtBytes(res.stacks_per_task_bytes)}` + (locked ? `, with the ${res.os_threads_added} OS threads' own` : ": its goroutine's"), "stacks");
    }
    for (const w of res.waits || []) add("who made it wait", w.line); // a line a task that waited
    if (res.spawn_ms > 1) add("tasks started in", fmtS(res.spawn_ms));
    if (res.unit_mismatch) add("unit", res.unit_mismatch);
  }
  const ul = $("checks");
  ul.textContent = "";
  for (const ch of v.checks || []) {
    ul.append(el("li", { class: ch.ok ? "ok" : "fail", text: `${ch.name}: ${ch.detail}` }));
  }
  if (!(v.checks || []).length) ul.append(el("li", { text: v.state === "done" ? "none." : `none: the run ${v.state === "failed" ? "failed" : "did not finish"}.` }));
  renderTrace(v.trace);
}
// The trace's state is data (none, waiting, ready, failed): the page
// decides on it, and shows the note as it is.
function renderTrace(t) {
  const p = $("trace");
  p.textContent = "";
  p.dataset.state = t.state || "";
  if (t.url) {
    p.append("Trace: ", el("a", { href: t.url, id: "trace-link", target: "_blank", rel: "noopener", text: t.id }), " in Jaeger. ");
  } else if (t.id) {
    p.append(el("span", { text: `Trace ${t.id}. ` }));
  }
  p.append(el("span", { id: "trace-note", text: t.note || "" }));
}
// pollTrace reads the run again while the page is reading Jaeger for its
// trace; #trace's data-polling says whether a look is due.
function pollTrace(c) {
  c.poll = null;
  const waiting = c.view && c.view.trace && c.view.trace.state === "waiting";
  $("trace").dataset.polling = waiting ? "yes" : "no";
  if (!waiting) return;
  c.poll = setTimeout(safe(async () => {
    const v = await getJSON(`/api/runs/${c.id}`);
    if (current !== c) return;
    c.view = v;
    renderTrace(v.trace);
    pollTrace(c);
  }), 700);
}

// Compare: five runs, their figures side by side on one time axis.
function showCompare(group) {
  closeViews();
  const cmp = { group, timer: null, drawn: {} };
  comparing = cmp;
  $("comparison").hidden = false;
  $("figures").textContent = "";
  const poll = async () => {
    const r = await api(`/api/groups/${group}`);
    if (comparing !== cmp) return;
    const views = await readJSON(r);
    if (!r.ok) {
      $("compare-status").textContent = views.error;
      return;
    }
    await drawCompare(cmp, views);
    if (views.some((v) => v.state === "queued" || v.state === "running")) {
      cmp.timer = setTimeout(safe(poll), 400);
    } else {
      await refreshHistory();
    }
  };
  poll().catch(report);
}
// drawCompare draws a Compare's runs: a group per scenario, in the
// scenarios' order, holding its runs side by side (Go's, then Tokio's),
// each captioned with its runtime and makespan.
async function drawCompare(cmp, views) {
  const box = $("figures");
  const k = views[0].knobs;
  const runtimes = [...new Set(views.map((v) => v.knobs.runtime))];
  const both = runtimes.length > 1;
  const rtNames = runtimes.map((r) => RUNTIME_NAME[r] || r).join(" and ");
  const running = views.find((v) => v.state === "running");
  const ended = views.filter((v) => v.state !== "queued" && v.state !== "running").length;
  $("compare-title").textContent = both ? `${rtNames}: the five scenarios, one time axis` : `The five scenarios in ${rtNames}, one time axis`;
  const p = k.procs ? `P = ${k.procs}` : "P: each scenario's default";
  $("compare-status").textContent = `${k.tasks} tasks, u = ${fmtS(views[0].unit_ms)}, ${p}, compute ${k.compute || "each scenario's default"}: ` +
    (running ? `running ${running.knobs.scenario}${both ? " on " + RUNTIME_NAME[running.knobs.runtime] : ""} (${ended} of ${views.length} done).` :
      ended < views.length ? `queued behind ${views[0].ahead || 0} run(s).` : `all ${views.length} ended.`) +
    " One scale for all: time runs down, the same length of time the same height in every figure.";
  $("compare-cancel").hidden = ended === views.length;
  box.classList.toggle("both", both);
  for (const v of views) {
    const sc = v.knobs.scenario;
    let group = box.querySelector(`.scenario-group[data-scenario="${sc}"]`);
    if (!group) {
      group = el("div", { class: "scenario-group", "data-scenario": sc }, el("h3", { text: sc }), el("div", { class: "pair" }));
      box.append(group);
    }
    let fig = document.getElementById("cmp-" + v.id);
    if (!fig) {
      fig = el("figure", { id: "cmp-" + v.id, "data-scenario": sc, "data-runtime": v.knobs.runtime },
        el("figcaption", {}), el("div", { class: "svgbox" }));
      group.querySelector(".pair").append(fig);
    }
    const cap = fig.querySelector("figcaption");
    cap.textContent = "";
    cap.append(el("a", { href: `/?${v.query}&id=${v.id}`, class: "rt " + v.knobs.runtime, text: both ? RUNTIME_NAME[v.knobs.runtime] || v.knobs.runtime : sc }));
    // Two short lines, the same height in every figure: the plots below
    // start at one height, on one time axis.
    if (v.state === "failed") {
      cap.append(" ", el("span", { class: "failure", text: "failed" }));
      if (!fig.querySelector(".why")) fig.querySelector(".svgbox").append(el("p", { class: "why failure", text: v.error || "" }));
    } else if (v.result) {
      cap.append(" ", el("b", { class: "makespan", text: fmtU(v.result.makespan_ms, v.unit_ms) }), el("br"), el("span", { text: `model ${fmtU(v.result.expected_ms, v.unit_ms)}` }));
    } else {
      cap.append(" ", el("span", { text: v.state }));
    }
    if (v.has_svg && !cmp.drawn[v.id]) {
      cmp.drawn[v.id] = true;
      const r = await api(`/api/runs/${v.id}/svg?compact=1`);
      if (!r.ok) throw new Error(`${sc}'s figure: ${(await readJSON(r)).error}`);
      const svg = await r.text();
      if (comparing !== cmp) return;
      fig.querySelector(".svgbox").innerHTML = svg;
    }
  }
  scaleCompare();
}
// One scale for all, so that one time axis runs down all of them: fit
// the row to the page's width, but no smaller than 40 %; past that, the
// scenarios wrap onto more rows, at the same scale.
function scaleCompare() {
  const box = $("figures");
  const svgs = [...box.querySelectorAll("svg")];
  let total = 0;
  for (const s of svgs) {
    if (!s.dataset.w) { s.dataset.w = s.getAttribute("width"); s.dataset.h = s.getAttribute("height"); }
    total += +s.dataset.w;
  }
  // What is not figure: each figure's border and gap, each group's
  // padding and gap (style.css).
  const groups = [...box.querySelectorAll(".scenario-group")];
  const perGroup = box.classList.contains("both") ? 16 : 8;
  const room = (figs, nGroups) => box.clientWidth - 4 - 5 * figs - perGroup * nGroups;
  let k = room(svgs.length, groups.length) / Math.max(total, 1);
  if (k < 0.4) {
    // Not on one row: the scenarios wrap, one scale for all that fits the
    // widest of them in the width (a phone's).
    let widest = 0, figs = 1;
    for (const g of groups) {
      const ss = [...g.querySelectorAll("svg")];
      const w = ss.reduce((a, s) => a + +s.dataset.w, 0);
      if (w > widest) { widest = w; figs = ss.length; }
    }
    k = room(figs, 1) / Math.max(widest, 1);
  }
  k = Math.max(0.4, Math.min(1, k));
  for (const s of svgs) {
    s.setAttribute("width", (s.dataset.w * k).toFixed(0));
    s.setAttribute("height", (s.dataset.h * k).toFixed(0));
  }
  box.dataset.scale = k.toFixed(3);
}

// History.
async function refreshHistory() {
  clearTimeout(historyTimer);
  const views = await getJSON("/api/runs");
  const tb = $("history-rows");
  tb.textContent = "";
  for (const v of views) {
    const k = v.knobs;
    const href = v.group ? `/?${v.query}&group=${v.group}` : `/?${v.query}&id=${v.id}`;
    const tr = el("tr", { tabindex: "0", "data-href": href },
      el("td", { text: v.group ? `${v.id} (compare ${v.group})` : String(v.id) }),
      el("td", { text: RUNTIME_NAME[k.runtime] || k.runtime }),
      el("td", {}, el("a", { href, text: k.scenario })),
      el("td", { text: String(k.tasks) }),
      el("td", { text: fmtS(v.unit_ms) }),
      el("td", { text: k.procs ? String(k.procs) : "default" }),
      el("td", { text: k.compute || "default" }),
      el("td", { text: v.state }),
      el("td", { text: v.result ? fmtS(v.result.makespan_ms) : "" }),
      el("td", { text: fmtS(v.expected_ms) }));
    tb.append(tr);
  }
  if (views.some((v) => v.state === "queued" || v.state === "running")) historyTimer = setTimeout(safe(refreshHistory), 2000);
}
function openFromHistory(e) {
  const tr = e.target.closest("tr[data-href]");
  if (!tr || (e.type === "keydown" && e.key !== "Enter")) return;
  if (e.target.closest("a")) e.preventDefault();
  history.pushState(null, "", tr.dataset.href);
  route();
}

// The URL is the page's state: the knobs, and id=N or group=N. run=1
// fills the form and asks: a run starts only on a click on this page,
// never on opening a link another page made.
function route() {
  const q = new URLSearchParams(location.search);
  const bad = setForm(q);
  const unknown = [...new Set(q.keys())].filter((k) => !KNOBS.includes(k) && !VIEW_PARAMS.includes(k));
  if (unknown.length) {
    bad.push(`parameter${unknown.length > 1 ? "s" : ""} this page does not know: ${unknown.join(", ")} (the knobs are ${KNOBS.join(", ")})`);
  }
  // The link's mistakes stay said until the form is checked again.
  checkForm().then(() => {
    if (bad.length) $("form-error").textContent = `The link has ${bad.join("; ")}. Check the form before running.`;
  }).catch(report);
  $("confirm").hidden = true;
  if (q.get("run") === "1") {
    q.delete("run");
    history.replaceState(null, "", "/?" + q.toString());
    if (!bad.length) askRun();
  } else if (q.get("group")) {
    showCompare(+q.get("group"));
  } else if (q.get("id")) {
    showRun(+q.get("id"));
  } else {
    closeViews();
  }
}

async function main() {
  info = await getJSON("/api/info");
  fillLists();
  $("jaeger").textContent = info.jaeger.state === "none" ? info.jaeger.note : "Jaeger answers: every run's trace is linked when it ends.";
  // The URL follows each keystroke; the server checks the knobs once the
  // typing pauses.
  let checkTimer = null;
  for (const k of KNOBS) {
    $(k).addEventListener("input", () => {
      history.replaceState(null, "", "/?" + formKnobs().toString() + keepView());
      helpTexts();
      clearTimeout(checkTimer);
      checkTimer = setTimeout(safe(checkForm), 250);
    });
  }
  $("knobs").addEventListener("submit", (e) => { e.preventDefault(); startRun().catch(report); });
  $("compare").addEventListener("click", safe(() => startCompare(false)));
  $("compare-runtimes").addEventListener("click", safe(() => startCompare(true)));
  $("confirm-run").addEventListener("click", safe(startRun));
  $("confirm-dismiss").addEventListener("click", () => { $("confirm").hidden = true; });
  const cancel = async (path) => {
    const r = await api(path, { method: "POST" });
    if (!r.ok) report(new Error((await readJSON(r)).error));
  };
  $("cancel").addEventListener("click", safe(async () => { if (current) await cancel(`/api/runs/${current.id}/cancel`); }));
  $("compare-cancel").addEventListener("click", safe(async () => { if (comparing) await cancel(`/api/groups/${comparing.group}/cancel`); }));
  $("history-rows").addEventListener("click", openFromHistory);
  $("history-rows").addEventListener("keydown", openFromHistory);
  window.addEventListener("popstate", route);
  window.addEventListener("resize", () => { if (comparing) scaleCompare(); });
  route();
  await refreshHistory();
}
// askRun shows what a run=1 link asks to run, and waits for the click.
function askRun() {
  closeViews();
  const k = formKnobs();
  const desc = `${k.get("runtime") === "tokio" ? "Tokio's " : ""}${k.get("scenario")}, ${k.get("tasks")} task${k.get("tasks") === "1" ? "" : "s"}, u = ${k.get("unit")}` +
    (k.get("procs") && k.get("procs") !== "0" ? `, ${k.get("runtime") === "tokio" ? "threads" : "GOMAXPROCS"} ${k.get("procs")}` : "") + (k.get("compute") ? `, compute ${k.get("compute")}` : "");
  $("confirm-text").textContent = `This link asks to run ${desc}. Nothing runs until you click “Run it”; the run is a process on this machine.`;
  $("confirm").hidden = false;
  $("confirm-run").focus();
}
function keepView() {
  const q = new URLSearchParams(location.search);
  for (const k of ["id", "group"]) if (q.get(k)) return `&${k}=${q.get(k)}`;
  return "";
}

main().catch(report);
