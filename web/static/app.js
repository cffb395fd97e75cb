// asynctrace's page: the knobs in the URL, runs streamed, figures drawn.
"use strict";

const KNOBS = ["scenario", "tasks", "unit", "procs", "compute"];

// One line a knob value, from the article (and the design doc for Go's
// compute modes).
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

// Every request goes through api: when the page's server does not answer
// (stopped, or the network gone), the page says so instead of waiting
// for ever, and the caller's work stops there; the next answer clears it.
async function api(path, opts) {
  let r;
  try {
    r = await fetch(path, opts);
  } catch (e) {
    const ne = $("net-error");
    ne.textContent = `The page's server did not answer (${e.message}): is asynctrace web still running? Reload to try again.`;
    ne.hidden = false;
    throw e;
  }
  $("net-error").hidden = true;
  return r;
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
function setForm(params) {
  for (const k of KNOBS) {
    const v = params.get(k);
    $(k).value = v !== null ? v : (info && info.defaults[k] !== undefined ? info.defaults[k] : "");
  }
  helpTexts();
}
function helpTexts() {
  $("scenario-help").textContent = SCENARIO_HELP[$("scenario").value] || "";
  $("compute-help").textContent = COMPUTE_HELP[$("compute").value] || "";
  if (info) {
    $("procs-help").textContent = `How many goroutines run Go code at once: Tokio's worker threads. 0: the scenario's default (single-thread 1, os-threads one per task, else the ${info.cpus} CPUs here).`;
  }
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
  const a = await r.json();
  if (seq !== checkSeq) return;
  showFieldErrors(a.fields || {});
  if (a.ok) {
    const u = parseDuration($("unit").value);
    $("expect").textContent = `Expected makespan ${fmtS(a.expected_ms)} = ${a.formula}, with GOMAXPROCS ${a.procs}.` + (u ? ` (${(a.expected_ms / u).toFixed(0)}u)` : "");
    $("form-error").textContent = "";
  } else {
    $("expect").textContent = "";
    if (!a.fields || Object.keys(a.fields).length === 0) $("form-error").textContent = a.error || "";
  }
  $("run").disabled = !a.ok;
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
  const a = await r.json();
  if (!r.ok) {
    showFieldErrors(a.fields || {});
    $("form-error").textContent = a.error || r.statusText;
    return null;
  }
  $("form-error").textContent = "";
  return a;
}
async function startRun() {
  const views = await post("/api/runs", formKnobs().toString());
  if (!views) return;
  history.pushState(null, "", pageURL({ id: views[0].id }));
  showRun(views[0].id);
  refreshHistory();
}
async function startCompare() {
  const q = formKnobs();
  q.delete("scenario");
  const views = await post("/api/compare", q.toString());
  if (!views) return;
  history.pushState(null, "", pageURL({ group: views[0].group }));
  showCompare(views[0].group);
  refreshHistory();
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
    if (current === c) finishRun(c);
  });
  es.onerror = async () => {
    // A run the page no longer keeps, or a server gone: say so once.
    const r = await api(`/api/runs/${id}`);
    if (!r.ok && current === c) {
      es.close();
      $("run-state").textContent = "unknown";
      $("run-title").textContent = `Run ${id}: ${(await r.json()).error}`;
    }
  };
  c.clock = setInterval(() => tick(c), 100);
}
function updateRun(c, v) {
  c.view = v;
  c.at = performance.now();
  $("run-title").textContent = `Run ${v.id}: ${v.knobs.scenario}, ${v.knobs.tasks} task${v.knobs.tasks === 1 ? "" : "s"}, u = ${fmtS(v.unit_ms)}`;
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
  const r = await api(`/api/runs/${c.id}`);
  if (!r.ok || current !== c) return;
  const v = await r.json();
  updateRun(c, v);
  if (v.has_svg) {
    const svg = await (await api(`/api/runs/${c.id}/svg`)).text();
    if (current !== c) return;
    $("figure").innerHTML = svg;
  }
  renderFacts(v);
  refreshHistory();
  pollTrace(c);
}
function renderFacts(v) {
  const dl = $("summary");
  dl.textContent = "";
  const add = (k, val, id) => { dl.append(el("dt", { text: k }), el("dd", id ? { text: val, id } : { text: val })); };
  const res = v.result;
  if (v.error) add("error", v.error, "run-error");
  if (res) {
    const ratio = res.makespan_ms / res.expected_ms;
    add("makespan", `${fmtS(res.makespan_ms)} = ${fmtU(res.makespan_ms, res.unit_ms)}`, "makespan");
    add("expected", `${fmtS(res.expected_ms)} = ${fmtU(res.expected_ms, res.unit_ms)} (${res.formula}); measured ${(ratio * 100).toFixed(1)}% of it`, "expected");
    add("ready, in all", `${fmtS(res.ready_ms)}: replies there, goroutines waiting for a thread`);
    add("GOMAXPROCS", `${res.gomaxprocs} (${res.num_cpu} CPUs), compute ${res.compute}`);
    add("OS thread lanes", `${res.thread_lanes}: threads a stage held`);
    add("peak OS threads", String(res.peak_os_threads), "peak-threads");
    add("peak goroutines", String(res.peak_goroutines), "peak-goroutines");
    add("peak memory", `${fmtBytes(res.peak_rss_bytes)} (${fmtBytes(res.rss_per_task_bytes)} a task)`);
    if (res.spawn_ms > 1) add("tasks started in", fmtS(res.spawn_ms));
    if (res.unit_mismatch) add("unit", res.unit_mismatch);
    if (res.errors && res.errors.length) add("failed tasks", `${res.errors.length}: ${res.errors[0]}`);
  }
  const ul = $("checks");
  ul.textContent = "";
  for (const ch of v.checks || []) {
    ul.append(el("li", { class: ch.ok ? "ok" : "fail", text: `${ch.name}: ${ch.detail}` }));
  }
  if (!(v.checks || []).length) ul.append(el("li", { text: "none: the run did not finish." }));
  renderTrace(v.trace);
}
function renderTrace(t) {
  const p = $("trace");
  p.textContent = "";
  if (t.url) {
    p.append("Trace: ", el("a", { href: t.url, id: "trace-link", target: "_blank", rel: "noopener", text: t.id }), " in Jaeger. ");
  } else if (t.id) {
    p.append(el("span", { text: `Trace ${t.id}. ` }));
  }
  p.append(el("span", { id: "trace-note", text: t.note || "" }));
}
function pollTrace(c) {
  const v = c.view;
  if (!v || !v.trace || !v.trace.url) return;
  const note = v.trace.note || "";
  if (!note.startsWith("Waiting") && !note.includes("so far")) return;
  c.poll = setTimeout(async () => {
    const r = await api(`/api/runs/${c.id}`);
    if (!r.ok || current !== c) return;
    c.view = await r.json();
    renderTrace(c.view.trace);
    pollTrace(c);
  }, 700);
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
    if (!r.ok) {
      $("compare-status").textContent = (await r.json()).error;
      return;
    }
    const views = await r.json();
    await drawCompare(cmp, views);
    if (views.some((v) => v.state === "queued" || v.state === "running")) {
      cmp.timer = setTimeout(poll, 400);
    } else {
      refreshHistory();
    }
  };
  poll();
}
async function drawCompare(cmp, views) {
  const box = $("figures");
  const k = views[0].knobs;
  const running = views.find((v) => v.state === "running");
  const ended = views.filter((v) => v.state !== "queued" && v.state !== "running").length;
  $("compare-status").textContent = `${k.tasks} tasks, u = ${fmtS(views[0].unit_ms)}, GOMAXPROCS ${k.procs || "each scenario's default"}, compute ${k.compute || "each scenario's default"}: ` +
    (running ? `running ${running.knobs.scenario} (${ended} of ${views.length} done).` :
      ended < views.length ? `queued behind ${views[0].ahead || 0} run(s).` : `all ${views.length} ended.`) +
    " One scale for all: time runs down, the same length of time the same height in every figure.";
  $("compare-cancel").hidden = ended === views.length;
  for (const v of views) {
    let fig = document.getElementById("cmp-" + v.id);
    if (!fig) {
      fig = el("figure", { id: "cmp-" + v.id, "data-scenario": v.knobs.scenario },
        el("figcaption", {}), el("div", { class: "svgbox" }));
      box.append(fig);
    }
    const cap = fig.querySelector("figcaption");
    cap.textContent = "";
    cap.append(el("a", { href: `/?${v.query}&id=${v.id}`, text: v.knobs.scenario }));
    if (v.result) {
      cap.append(` ${fmtU(v.result.makespan_ms, v.unit_ms)} (formula ${fmtU(v.result.expected_ms, v.unit_ms)})`);
    } else {
      cap.append(` ${v.state}`);
    }
    if (v.has_svg && !cmp.drawn[v.id]) {
      cmp.drawn[v.id] = true;
      const svg = await (await api(`/api/runs/${v.id}/svg?compact=1`)).text();
      if (comparing !== cmp) return;
      fig.querySelector(".svgbox").innerHTML = svg;
    }
  }
  scaleCompare();
}
// One scale for all five, so that one time axis runs down all of them:
// fit the row to the page's width, but no smaller than 40 %.
function scaleCompare() {
  const box = $("figures");
  const svgs = [...box.querySelectorAll("svg")];
  let total = 0;
  for (const s of svgs) {
    if (!s.dataset.w) { s.dataset.w = s.getAttribute("width"); s.dataset.h = s.getAttribute("height"); }
    total += +s.dataset.w + 18;
  }
  const k = Math.max(0.4, Math.min(1, (box.clientWidth - 10) / Math.max(total, 1)));
  for (const s of svgs) {
    s.setAttribute("width", (s.dataset.w * k).toFixed(0));
    s.setAttribute("height", (s.dataset.h * k).toFixed(0));
  }
  box.dataset.scale = k.toFixed(3);
}

// History.
async function refreshHistory() {
  clearTimeout(historyTimer);
  const r = await api("/api/runs");
  if (!r.ok) return;
  const views = await r.json();
  const tb = $("history-rows");
  tb.textContent = "";
  for (const v of views) {
    const k = v.knobs;
    const href = v.group ? `/?${v.query}&group=${v.group}` : `/?${v.query}&id=${v.id}`;
    const tr = el("tr", { tabindex: "0", "data-href": href },
      el("td", { text: v.group ? `${v.id} (compare ${v.group})` : String(v.id) }),
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
  if (views.some((v) => v.state === "queued" || v.state === "running")) historyTimer = setTimeout(refreshHistory, 2000);
}
function openFromHistory(e) {
  const tr = e.target.closest("tr[data-href]");
  if (!tr || (e.type === "keydown" && e.key !== "Enter")) return;
  if (e.target.closest("a")) e.preventDefault();
  history.pushState(null, "", tr.dataset.href);
  route();
}

// The URL is the page's state: the knobs, and id=N or group=N; run=1
// starts the knobs' run on opening.
function route() {
  const q = new URLSearchParams(location.search);
  setForm(q);
  checkForm();
  if (q.get("run") === "1") {
    q.delete("run");
    history.replaceState(null, "", "/?" + q.toString());
    startRun();
  } else if (q.get("group")) {
    showCompare(+q.get("group"));
  } else if (q.get("id")) {
    showRun(+q.get("id"));
  } else {
    closeViews();
  }
}

async function main() {
  info = await (await api("/api/info")).json();
  $("jaeger").textContent = info.jaeger.note ? info.jaeger.note : "Jaeger answers: every run's trace is linked when it ends.";
  // The URL follows each keystroke; the server checks the knobs once the
  // typing pauses.
  let checkTimer = null;
  for (const k of KNOBS) {
    $(k).addEventListener("input", () => {
      history.replaceState(null, "", "/?" + formKnobs().toString() + keepView());
      helpTexts();
      clearTimeout(checkTimer);
      checkTimer = setTimeout(checkForm, 250);
    });
  }
  $("knobs").addEventListener("submit", (e) => { e.preventDefault(); startRun(); });
  $("compare").addEventListener("click", startCompare);
  $("cancel").addEventListener("click", async () => {
    if (current) await api(`/api/runs/${current.id}/cancel`, { method: "POST" });
  });
  $("compare-cancel").addEventListener("click", async () => {
    if (comparing) await api(`/api/groups/${comparing.group}/cancel`, { method: "POST" });
  });
  $("history-rows").addEventListener("click", openFromHistory);
  $("history-rows").addEventListener("keydown", openFromHistory);
  window.addEventListener("popstate", route);
  window.addEventListener("resize", () => { if (comparing) scaleCompare(); });
  route();
  refreshHistory();
}
function keepView() {
  const q = new URLSearchParams(location.search);
  for (const k of ["id", "group"]) if (q.get(k)) return `&${k}=${q.get(k)}`;
  return "";
}

main();
