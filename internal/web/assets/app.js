// hearth dashboard: a framework-free page that polls /v1/dashboard/* and
// renders with DOM and SVG built by hand. Data is only ever put into the
// page as text (textContent, attributes), never as HTML.
"use strict";

const PHASES = ["provision", "runtime", "code", "init", "handler"];
// A cold start that restored a snapshot has a "restore" phase where others
// have "init"; both are listed so that either gets its colour.
const PHASE_NAMES = ["provision", "runtime", "code", "init", "restore", "handler"];
const SVGNS = "http://www.w3.org/2000/svg";
const main = document.getElementById("main");
const statusEl = document.getElementById("status");

let pollMS = 2000;
let generation = 0; // bumps on navigation, so a stale poll never paints
let timer = null;

// ---- DOM helpers -----------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  return fill(el, attrs, children);
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  return fill(el, attrs, children);
}

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// ---- formatting ------------------------------------------------------------

function fmtMS(v) {
  if (v === null || v === undefined) return "—";
  if (v < 1) return v.toFixed(3) + " ms";
  if (v < 1000) return (v < 10 ? v.toFixed(2) : v.toFixed(1)) + " ms";
  return (v / 1000).toFixed(2) + " s";
}
const fmtPct = (v) => (v === null || v === undefined ? "—" : v.toFixed(1) + "%");
const fmtRate = (v) => (v >= 10 ? v.toFixed(0) : v >= 0.1 ? v.toFixed(2) : v.toFixed(3)) + "/s";
const fmtTime = (t) => new Date(t).toLocaleTimeString();

// msOf reads an RFC 3339 time to fractional milliseconds: Date keeps whole
// milliseconds only, and spans and warm invocations are shorter than that.
function msOf(t) {
  const frac = /\.(\d+)/.exec(t);
  return Date.parse(t.replace(/\.\d+/, "")) + (frac ? Number("0." + frac[1]) * 1000 : 0);
}
const fmtWindow = (sec) => (sec >= 60 && sec % 60 === 0 ? `${sec / 60} min` : `${sec} s`);

// ---- API -------------------------------------------------------------------

class HTTPError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem("hearth-token");
  if (token) headers.Authorization = "Bearer " + token;
  const resp = await fetch(path, { headers });
  if (resp.status === 401) {
    askToken();
    throw new HTTPError(401, "this node needs an API token");
  }
  const body = await resp.json().catch(() => null);
  if (!resp.ok) {
    const msg = body && body.error ? body.error.message : resp.statusText;
    throw new HTTPError(resp.status, msg);
  }
  return body;
}

function askToken() {
  const dialog = document.getElementById("token-dialog");
  if (!dialog.open) dialog.showModal();
}

document.getElementById("token-form").addEventListener("submit", () => {
  sessionStorage.setItem("hearth-token", document.getElementById("token-input").value);
  route();
});

// ---- routing and polling ---------------------------------------------------

const routes = [
  [/^#?\/?$/, "functions", viewFunctions],
  [/^#\/functions\/([^/]+)$/, "functions", viewFunction],
  [/^#\/workflows$/, "workflows", viewWorkflows],
  [/^#\/workflows\/(.+)$/, "workflows", viewExecution],
  [/^#\/traces$/, "traces", viewTraces],
  [/^#\/traces\/([^/]+)$/, "traces", viewTrace],
  [/^#\/deadletters$/, "deadletters", viewDeadLetters],
];

function route() {
  generation++;
  clearTimeout(timer);
  const hash = location.hash || "#/";
  for (const [re, section, view] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll("nav a")) {
      if (a.dataset.section === section) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const args = m.slice(1).map(decodeURIComponent);
    refresh(view, args, generation, true);
    return;
  }
  paint(generation, [h("h1", { text: "Not found" }), h("p", {}, "No such view. ", h("a", { href: "#/", text: "Back to the functions" }))]);
}

async function refresh(view, args, gen, first) {
  try {
    const content = await view(...args);
    if (gen !== generation) return;
    paint(gen, content);
    statusEl.textContent = "Live · updated " + new Date().toLocaleTimeString();
    statusEl.classList.remove("error");
  } catch (err) {
    if (gen !== generation) return;
    statusEl.textContent = "Not updating: " + err.message;
    statusEl.classList.add("error");
    if (first || err.status === 404) paint(gen, [h("h1", { text: "Cannot show this view" }), h("p", { class: "error-box", text: err.message })]);
    // Without a token every poll would fail the same way (and log a failed
    // request in the console); the token dialog is open, and submitting it
    // routes again.
    if (err.status === 401) return;
  }
  if (gen === generation) timer = setTimeout(() => poll(view, args, gen), pollMS);
  if (first && gen === generation) main.focus({ preventScroll: true });
}

// poll refreshes the view, or, while the tab is hidden, waits until it is
// shown again: a dashboard left open in a background tab costs the node nothing.
function poll(view, args, gen) {
  if (!document.hidden) return refresh(view, args, gen, false);
  document.addEventListener("visibilitychange", () => {
    if (gen === generation) refresh(view, args, gen, false);
  }, { once: true });
}

// paint swaps the view's content in, keeping what the user opened
// (details elements) open across refreshes.
function paint(gen, nodes) {
  if (gen !== generation) return;
  const open = new Set([...main.querySelectorAll("details[open][id]")].map((d) => d.id));
  main.replaceChildren(...nodes);
  for (const id of open) {
    const d = document.getElementById(id);
    if (d) d.open = true;
  }
}

window.addEventListener("hashchange", route);
route();

// ---- views -----------------------------------------------------------------

function empty(text) { return h("p", { class: "empty", text }); }

async function viewFunctions() {
  const [data, pools] = await Promise.all([api("/v1/dashboard/functions"), api("/v1/dashboard/pools")]);
  pollMS = data.poll_ms || pollMS;
  const out = [
    h("h1", { text: "Functions" }),
    h("p", { class: "sub", text: `Live over the last ${fmtWindow(data.window_seconds)}, refreshed every ${(pollMS / 1000).toFixed(0)} s.` }),
  ];
  if (data.error) out.push(h("p", { class: "error-box", text: data.error }));
  if (data.functions.length === 0) {
    out.push(empty("No functions yet. Deploy one with “hearth deploy NAME DIR”, then invoke it."));
  } else {
    out.push(functionsTable(data));
  }
  out.push(h("h2", { text: "Instance pools" }));
  out.push(poolsSection(pools));
  return out;
}

function functionsTable(data) {
  const num = (text) => h("td", { class: "num", text });
  const rows = data.functions.map((f) =>
    h("tr", { "data-function": f.name },
      h("th", { scope: "row" }, h("a", { href: "#/functions/" + encodeURIComponent(f.name), text: f.name }),
        f.deployed ? null : h("span", { class: "sub", text: " (deleted)" })),
      num(f.version ? "v" + f.version : "—"),
      num(fmtRate(f.rate)),
      h("td", { class: "num", "data-col": "error", text: fmtPct(f.error_pct) }),
      num(fmtMS(f.p50_ms)),
      num(fmtMS(f.p99_ms)),
      h("td", { class: "num", "data-col": "cold", text: fmtPct(f.cold_pct) }),
      num(String(f.total.invocations))));
  const th = (text, cls) => h("th", { scope: "col", class: cls, text });
  return h("table", { id: "functions" },
    h("caption", { text: `Invocation rate, error rate, latency and cold starts over the last ${fmtWindow(data.window_seconds)}; “—” means no invocation in that time.` }),
    h("thead", {}, h("tr", {}, th("Function"), th("Version", "num"), th("Rate", "num"), th("Errors", "num"),
      th("p50", "num"), th("p99", "num"), th("Cold starts", "num"), th("Total", "num"))),
    h("tbody", {}, rows));
}

function poolsSection(pools) {
  if (!pools.available) return empty("This node does not report its pools to the dashboard.");
  if (pools.pools.length === 0) return empty("No instance pools yet: pools appear when a function is deployed.");
  return h("div", { class: "pools" }, pools.pools.map((p) =>
    h("section", { class: "chart", "aria-labelledby": "pool-" + p.function },
      h("h3", { id: "pool-" + p.function }, h("a", { href: "#/functions/" + encodeURIComponent(p.function), text: p.function })),
      poolChart(p.samples, 300, 110))));
}

async function viewFunction(name) {
  const f = await api("/v1/dashboard/functions/" + encodeURIComponent(name));
  const stat = (label, value) => h("div", {}, h("dt", { text: label }), h("dd", { text: value }));
  return [
    h("p", { class: "sub" }, h("a", { href: "#/", text: "← Functions" })),
    h("h1", { text: f.name + (f.version ? " v" + f.version : "") }),
    h("p", { class: "sub", text: `Over the last ${fmtWindow(f.window_seconds)}` + (f.last_seen ? ` · last invoked ${fmtTime(f.last_seen)}` : " · not invoked yet") }),
    h("dl", { class: "stats" },
      stat("Rate", fmtRate(f.rate)), stat("Errors", fmtPct(f.error_pct)), stat("p50", fmtMS(f.p50_ms)),
      stat("p99", fmtMS(f.p99_ms)), stat("Cold starts", fmtPct(f.cold_pct)),
      stat("Invocations (window)", String(f.window.invocations)), stat("Invocations (total)", String(f.total.invocations))),
    h("h2", { id: "hist-title", text: "Latency histogram" }),
    histogram(f.histogram),
    h("h2", { id: "waterfall-title", text: "Cold-start waterfall" }),
    h("p", { class: "sub", text: "The five phases of each recent cold start, newest first, on one time scale." }),
    waterfall(f.cold_starts),
    h("h2", { text: "Instance pool" }),
    f.pool.length ? h("div", { class: "chart" }, poolChart(f.pool, 700, 160)) : empty("No pool samples yet."),
  ];
}

function histogram(buckets) {
  let lo = buckets.findIndex((b) => b.count > 0);
  if (lo < 0) return empty("No invocations in the window.");
  let hi = buckets.length - 1;
  while (buckets[hi].count === 0) hi--;
  lo = Math.max(0, lo - 1);
  hi = Math.min(buckets.length - 1, hi + 1);
  const shown = buckets.slice(lo, hi + 1);
  const label = (b, i) => (b.le_ms === null ? "> " + fmtMS(buckets[buckets.length - 2].le_ms) : "≤ " + fmtMS(b.le_ms));
  const max = Math.max(...shown.map((b) => b.count));
  const W = 700, H = 180, pad = 24, bw = (W - 8) / shown.length;
  const total = shown.reduce((a, b) => a + b.count, 0);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H + pad + 16}`, width: W, role: "img", "aria-labelledby": "hist-title hist-desc" },
    s("desc", { id: "hist-desc", text: shown.filter((b) => b.count).map((b) => `${b.count} at ${label(b)}`).join(", ") }),
    shown.map((b, i) => {
      const bh = max ? (b.count / max) * (H - 14) : 0;
      const x = 4 + i * bw;
      return s("g", { class: "bar", "data-count": b.count },
        s("rect", { x: x + 2, y: H - bh, width: Math.max(1, bw - 4), height: bh, fill: "var(--runtime)" },
          s("title", { text: `${label(b)}: ${b.count} of ${total}` })),
        b.count ? s("text", { x: x + bw / 2, y: H - bh - 3, "text-anchor": "middle", text: b.count }) : null,
        s("text", { x: x + bw / 2, y: H + 14, "text-anchor": "middle", text: label(b).replace(" ms", "") }));
    }),
    s("line", { x1: 4, x2: W - 4, y1: H, y2: H, stroke: "var(--line)" }),
    s("text", { x: W - 4, y: H + pad + 12, "text-anchor": "end", text: "handler time (ms, or s where marked)" }));
  return h("div", { class: "chart", id: "histogram" }, svg);
}

function legend(items) {
  return h("ul", { class: "legend" }, items.map(([name, color]) => h("li", { style: `--swatch: ${color}`, text: name })));
}

function waterfall(colds) {
  if (!colds.length) return empty("No cold starts in memory yet: they appear here as they happen.");
  const max = Math.max(...colds.map((c) => c.total_ms), 0.001);
  const W = 700, labelW = 150, rowH = 22, barW = W - labelW - 80;
  const scale = (v) => (v / max) * barW;
  const svg = s("svg", { viewBox: `0 0 ${W} ${colds.length * rowH + 6}`, width: W, role: "img", "aria-labelledby": "waterfall-title" },
    colds.map((c, i) => {
      const y = 3 + i * rowH;
      return s("g", { class: "cold-start", "data-request": c.request_id },
        s("text", { x: 0, y: y + 14, text: fmtTime(c.time) + " v" + c.version }),
        // Phases follow each other; a phase too short to see still gets
        // one pixel, and the next starts after it, so none hides another.
        phaseRects(c, labelW, y, rowH - 6, scale),
        s("text", { x: labelW + Math.max(scale(c.total_ms), c.phases.length) + 6, y: y + 14, text: fmtMS(c.total_ms) }));
    }));
  const th = (text) => h("th", { scope: "col", class: "num", text });
  const seen = PHASE_NAMES.filter((name) => colds.some((c) => c.phases.some((p) => p.name === name)));
  // The fourth column is init, restore, or both when the list has each.
  const fourth = [...new Set(colds.map((c) => c.phases[3].name))].join(" / ");
  const columns = PHASES.map((name, i) => (i === 3 ? fourth : name));
  const table = h("table", {},
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Time" }), columns.map(th), th("Total"), h("th", { scope: "col", text: "Trace" }))),
    h("tbody", {}, colds.map((c) => h("tr", {},
      h("th", { scope: "row", text: fmtTime(c.time) }),
      c.phases.map((p) => h("td", { class: "num", text: fmtMS(p.ms) })),
      h("td", { class: "num", text: fmtMS(c.total_ms) }),
      h("td", {}, c.trace_id ? h("a", { href: "#/traces/" + c.trace_id, text: c.trace_id.slice(0, 8) + "…" }) : "—")))));
  return h("div", { class: "chart", id: "waterfall" },
    legend(seen.map((p) => [p, `var(--${p})`])), svg,
    h("details", { id: "waterfall-table" }, h("summary", { text: "Phase times as a table" }), table));
}

function phaseRects(c, x0, y, height, scale) {
  let x = x0;
  return c.phases.map((p) => {
    const width = Math.max(1, scale(p.ms));
    const r = s("rect", { class: "phase phase-" + p.name, "data-phase": p.name, x, y, height, width },
      s("title", { text: `${p.name}: ${fmtMS(p.ms)} (from ${fmtMS(p.start_ms)})` }));
    x += width;
    return r;
  });
}

// poolChart draws warm, busy and provisioned instances over time as step lines.
function poolChart(samples, W, H) {
  const series = [["warm", "var(--warm)"], ["busy", "var(--busy)"], ["provisioned", "var(--provisioned)"]];
  const padL = 28, padB = 18, innerW = W - padL - 6, innerH = H - padB - 6;
  const t0 = new Date(samples[0].time).getTime();
  const t1 = Math.max(new Date(samples[samples.length - 1].time).getTime(), t0 + 1000);
  const ymax = Math.max(1, ...samples.map((p) => Math.max(p.warm, p.busy, p.provisioned)));
  const x = (t) => padL + ((new Date(t).getTime() - t0) / (t1 - t0)) * innerW;
  const y = (v) => 6 + innerH - (v / ymax) * innerH;
  const last = samples[samples.length - 1];
  const desc = `Now: ${last.warm} warm, ${last.busy} busy, ${last.provisioned} provisioned; ${samples.length} samples since ${fmtTime(samples[0].time)}.`;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, role: "img", "aria-label": desc },
    s("line", { x1: padL, x2: W - 6, y1: y(0), y2: y(0), stroke: "var(--line)" }),
    s("text", { x: padL - 4, y: y(ymax) + 4, "text-anchor": "end", text: ymax }),
    s("text", { x: padL - 4, y: y(0) + 4, "text-anchor": "end", text: 0 }),
    s("text", { x: padL, y: H - 2, text: fmtTime(samples[0].time) }),
    s("text", { x: W - 6, y: H - 2, "text-anchor": "end", text: fmtTime(last.time) }),
    series.map(([key, color]) => {
      let d = "";
      samples.forEach((p, i) => {
        d += i === 0 ? `M${x(p.time)},${y(p[key])}` : `H${x(p.time)}V${y(p[key])}`;
      });
      if (samples.length === 1) d += `H${x(t1)}`;
      return s("path", { d, fill: "none", stroke: color, "stroke-width": 2, "data-series": key });
    }));
  return [legend(series.map(([k, c]) => [`${k} (${last[k]})`, c])), svg];
}

async function viewWorkflows() {
  const data = await api("/v1/dashboard/workflows");
  const out = [h("h1", { text: "Workflows" })];
  if (!data.available) return [...out, empty("This node does not report workflow executions to the dashboard yet.")];
  if (!data.executions.length) return [...out, empty("No workflow executions yet. Start one with “hearth wf run”.")];
  const th = (text) => h("th", { scope: "col", text });
  out.push(h("table", {},
    h("caption", { text: "Executions, newest first" }),
    h("thead", {}, h("tr", {}, th("Execution"), th("State machine"), th("Status"), th("Started"), th("Stopped"))),
    h("tbody", {}, data.executions.map((e) => h("tr", {},
      h("th", { scope: "row" }, h("a", { href: "#/workflows/" + encodeURIComponent(e.id), text: e.name })),
      h("td", { text: e.machine }),
      h("td", {}, h("span", { class: "badge " + e.status, text: e.status })),
      h("td", { text: fmtTime(e.start) }),
      h("td", { text: e.stop ? fmtTime(e.stop) : "—" }))))));
  return out;
}

async function viewExecution(id) {
  const e = await api("/v1/dashboard/workflows/" + encodeURIComponent(id));
  const out = [
    h("p", { class: "sub" }, h("a", { href: "#/workflows", text: "← Workflows" })),
    h("h1", {}, e.name + " ", h("span", { class: "badge " + e.status, text: e.status })),
    h("p", { class: "sub", text: `${e.machine} · started ${fmtTime(e.start)}` + (e.stop ? ` · stopped ${fmtTime(e.stop)}` : "") }),
  ];
  if (e.error) out.push(h("p", { class: "error-box", text: e.error }));
  out.push(h("h2", { id: "graph-title", text: "State machine" }));
  out.push(stateGraph(e.definition, e.states));
  return out;
}

// stateGraph lays the top-level states out in layers by their distance from
// StartAt and colours each by the execution's progress.
function stateGraph(def, progress) {
  const states = (def && def.States) || {};
  const names = Object.keys(states);
  if (!names.length) return empty("The execution has no state machine definition.");
  const next = (st) => {
    const out = [];
    if (st.Next) out.push(st.Next);
    if (st.Default) out.push(st.Default);
    for (const c of st.Choices || []) if (c.Next) out.push(c.Next);
    for (const c of st.Catch || []) if (c.Next) out.push(c.Next);
    return [...new Set(out)].filter((n) => n in states);
  };
  const layer = {};
  const queue = [def.StartAt];
  layer[def.StartAt] = 0;
  while (queue.length) {
    const n = queue.shift();
    for (const m of next(states[n] || {})) if (!(m in layer)) { layer[m] = layer[n] + 1; queue.push(m); }
  }
  let extra = Math.max(0, ...Object.values(layer)) + 1;
  for (const n of names) if (!(n in layer)) layer[n] = extra; // unreachable states, at the bottom
  const rows = {};
  for (const n of names) (rows[layer[n]] ||= []).push(n);
  const boxW = 150, boxH = 34, gapX = 30, gapY = 40;
  const widest = Math.max(...Object.values(rows).map((r) => r.length));
  const W = Math.max(300, widest * (boxW + gapX)), depth = Object.keys(rows).length;
  const pos = {};
  for (const [l, r] of Object.entries(rows)) {
    r.forEach((n, i) => { pos[n] = { x: (W - r.length * (boxW + gapX)) / 2 + i * (boxW + gapX) + gapX / 2, y: 10 + l * (boxH + gapY) }; });
  }
  const H = 20 + depth * (boxH + gapY);
  const summary = names.map((n) => `${n}: ${progress[n] || "not reached"}`).join("; ");
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, role: "img", "aria-labelledby": "graph-title graph-desc" },
    s("desc", { id: "graph-desc", text: summary }),
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
      s("path", { d: "M0,0L10,5L0,10z", fill: "var(--muted)" }))),
    names.flatMap((n) => next(states[n]).map((m) => s("line", {
      x1: pos[n].x + boxW / 2, y1: pos[n].y + boxH, x2: pos[m].x + boxW / 2, y2: pos[m].y,
      stroke: "var(--muted)", "marker-end": "url(#arrow)",
    }))),
    names.map((n) => s("g", { class: "state state-" + (progress[n] || "unreached"), "data-state": n },
      s("rect", { x: pos[n].x, y: pos[n].y, width: boxW, height: boxH, rx: 6 }),
      s("text", { x: pos[n].x + boxW / 2, y: pos[n].y + 21, "text-anchor": "middle", text: n.length > 22 ? n.slice(0, 21) + "…" : n }),
      s("title", { text: `${n} (${states[n].Type}): ${progress[n] || "not reached"}` }))));
  return h("div", { class: "chart", id: "graph" },
    legend([["running", "var(--running)"], ["succeeded", "var(--succeeded)"], ["failed", "var(--failed)"], ["not reached", "var(--unreached)"]]), svg);
}

async function viewTraces() {
  const data = await api("/v1/dashboard/traces");
  const out = [h("h1", { text: "Traces" })];
  if (!data.available) return [...out, empty("This node does not keep traces for the dashboard.")];
  if (!data.traces.length) return [...out, empty("No traces yet: invoke a function and its trace appears here.")];
  const th = (text, cls) => h("th", { scope: "col", class: cls, text });
  out.push(h("table", {},
    h("caption", { text: "Most recent traces kept in memory, newest first" }),
    h("thead", {}, h("tr", {}, th("Trace"), th("Root span"), th("Started"), th("Spans", "num"), th("Duration", "num"))),
    h("tbody", {}, data.traces.map((t) => {
      const root = t.spans.find((sp) => !t.spans.some((o) => o.span_id === sp.parent_id)) || t.spans[0];
      return h("tr", {},
        h("th", { scope: "row" }, h("a", { href: "#/traces/" + t.trace_id, text: t.trace_id.slice(0, 16) + "…" })),
        h("td", { text: root ? root.name : "—" }),
        h("td", { text: fmtTime(t.start) }),
        h("td", { class: "num", text: t.spans.length }),
        h("td", { class: "num", text: fmtMS(traceEnd(t) - msOf(t.start)) }));
    }))));
  return out;
}

// treeOrder lists spans depth first, each after its parent and siblings by
// start time, so that the indentation reads as the call tree (sorting by
// start alone puts a child that starts with its parent above it).
function treeOrder(spans, byID) {
  const children = new Map();
  const roots = [];
  for (const sp of spans) {
    if (byID[sp.parent_id] && sp.parent_id !== sp.span_id) {
      if (!children.has(sp.parent_id)) children.set(sp.parent_id, []);
      children.get(sp.parent_id).push(sp);
    } else {
      roots.push(sp);
    }
  }
  const byStart = (a, b) => msOf(a.start) - msOf(b.start);
  const out = [];
  const seen = new Set();
  const visit = (sp) => {
    if (seen.has(sp.span_id)) return; // a malformed trace with a cycle
    seen.add(sp.span_id);
    out.push(sp);
    for (const c of (children.get(sp.span_id) || []).sort(byStart)) visit(c);
  };
  roots.sort(byStart).forEach(visit);
  // Spans only reachable through a cycle still get a row.
  for (const sp of [...spans].sort(byStart)) if (!seen.has(sp.span_id)) visit(sp);
  return out;
}

const traceEnd = (t) => Math.max(...t.spans.map((sp) => msOf(sp.end)));

async function viewTrace(id) {
  const t = await api("/v1/dashboard/traces/" + encodeURIComponent(id));
  const t0 = msOf(t.start), total = Math.max(traceEnd(t) - t0, 0.001);
  const byID = Object.fromEntries(t.spans.map((sp) => [sp.span_id, sp]));
  const depth = (sp) => { let d = 0; while (sp && byID[sp.parent_id] && d < 20) { sp = byID[sp.parent_id]; d++; } return d; };
  const spans = treeOrder(t.spans, byID);
  const W = 800, labelW = 260, rowH = 20, barW = W - labelW - 70;
  const svg = s("svg", { viewBox: `0 0 ${W} ${spans.length * rowH + 6}`, width: W, role: "img", "aria-label": `${spans.length} spans over ${fmtMS(total)}` },
    spans.map((sp, i) => {
      const st = msOf(sp.start) - t0, dur = msOf(sp.end) - msOf(sp.start);
      const y = 3 + i * rowH, x = labelW + (st / total) * barW;
      const phase = PHASE_NAMES.includes(sp.name) ? "phase phase-" + sp.name : "";
      return s("g", { class: "span", "data-span": sp.name },
        s("text", { x: depth(sp) * 10, y: y + 13, text: sp.name }),
        s("rect", { class: phase, x, y, width: Math.max(1, (dur / total) * barW), height: rowH - 6, fill: phase ? null : "var(--runtime)" },
          s("title", { text: `${sp.name}: ${fmtMS(dur)}` + (sp.status ? ` (${sp.status})` : "") })),
        s("text", { x: Math.min(x + (dur / total) * barW + 4, W - 60), y: y + 13, text: fmtMS(dur) }));
    }));
  return [
    h("p", { class: "sub" }, h("a", { href: "#/traces", text: "← Traces" })),
    h("h1", {}, "Trace ", h("code", { text: t.trace_id })),
    h("p", { class: "sub", text: `${t.spans.length} spans · ${fmtMS(total)} · started ${fmtTime(t.start)}` }),
    h("div", { class: "chart" }, svg),
  ];
}

async function viewDeadLetters() {
  const data = await api("/v1/dashboard/deadletters");
  const out = [h("h1", { text: "Dead letters" })];
  if (!data.available) return [...out, empty("This node does not report its dead-letter queue to the dashboard yet.")];
  if (!data.dead_letters.length) return [...out, empty("The dead-letter queue is empty.")];
  const th = (text, cls) => h("th", { scope: "col", class: cls, text });
  out.push(h("table", {},
    h("caption", { text: "Asynchronous invocations that ran out of retries, newest first" }),
    h("thead", {}, h("tr", {}, th("Function"), th("Request"), th("Failed"), th("Why"), th("Attempts", "num"), th("Error"))),
    h("tbody", {}, data.dead_letters.map((d) => h("tr", {},
      h("th", { scope: "row" }, h("a", { href: "#/functions/" + encodeURIComponent(d.function), text: d.function })),
      h("td", {}, h("code", { text: d.request_id })),
      h("td", { text: fmtTime(d.time) }),
      h("td", { text: d.condition || "—" }),
      h("td", { class: "num", text: d.attempts }),
      h("td", { text: d.error }))))));
  return out;
}
