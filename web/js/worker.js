// fnwm dashboard: one worker's page: facts, actions, CPU and memory over
// the last hour (uPlot), the live log tail, the exit history, its JSON.
// The log comes over a WebSocket of its own, closed when the page is
// left: a follower lives as long as its connection.
"use strict";

const LOG_MAX = 5000;
const HOUR = 3600;
const view = { uuid: null, logConn: null, lines: [], paused: false,
  held: [], search: "", cpu: null, mem: null, data: [[], [], []] };

function showWorker(uuid, focusLog) {
  if (view.uuid !== uuid) {
    hideWorker();
    view.uuid = uuid;
    view.lines = [];
    view.held = [];
    view.data = [[], [], []];
    $("log").textContent = "";
    makeCharts();
    openLog(uuid);
    conn.send({ type: "worker_details", workerid: uuid });
    conn.send({ type: "worker_stats_history", workerid: uuid });
  }
  renderWorker();
  if (focusLog) $("log").focus();
  else $("w-title").focus?.();
}

function hideWorker() {
  if (view.logConn) view.logConn.close();
  view.logConn = null;
  if (view.cpu) view.cpu.destroy();
  if (view.mem) view.mem.destroy();
  view.cpu = view.mem = null;
  view.uuid = null;
}

function fact(dl, name, value) {
  const dt = document.createElement("dt"), dd = document.createElement("dd");
  dt.textContent = name;
  dd.textContent = value == null || value === "" ? "–" : value;
  dl.append(dt, dd);
}

function renderWorker() {
  const r = W.get(view.uuid);
  if (!r) {
    setText($("w-title"), view.uuid + " (not listed)");
    return;
  }
  const st = stateOf(r), d = r.details || {};
  setText($("w-title"), r.name || r.uuid);
  setText($("w-state"), st);
  $("w-state").className = "state st-" + st;
  const dl = $("w-facts");
  dl.textContent = "";
  fact(dl, "UUID", r.uuid);
  fact(dl, "PID", r.pid);
  fact(dl, "Uptime", fmtDuration(uptimeOf(r)));
  fact(dl, "Restarts", r.restarts);
  fact(dl, "Last exit", fmtExit(r.last_exit));
  fact(dl, "CPU", r.pid && r.cpu != null ? r.cpu.toFixed(1) + " %" : "");
  fact(dl, "Memory", r.pid ? fmtBytes(r.rss) : "");
  fact(dl, "Processes", r.pid ? r.procs : "");
  fact(dl, "Port", r.port);
  fact(dl, "Autostart", d.autostart == null ? "" : d.autostart ? "yes" : "no");
  fact(dl, "Next restart", r.next_restart ? fmtTime(r.next_restart) : "");
  fact(dl, "Venv", r.entry && r.entry.env_path ? r.entry.env_path : "none");
  const running = !!r.pid;
  const acts = $("w-actions");
  acts.querySelector('[data-action="start"]').disabled = running;
  acts.querySelector('[data-action="stop"]').disabled = !running;
  setText($("w-json"), JSON.stringify(r.entry, null, 2));
  renderExits(d);
}

function renderExits(d) {
  const body = $("exits").tBodies[0];
  if (!d.history) return;
  body.textContent = "";
  for (const e of [...d.history].reverse()) {
    const tr = body.insertRow();
    tr.insertCell().textContent = fmtTime(e.time);
    tr.insertCell().textContent = e.unknown ? "unknown (adopted)" : fmtExit(e);
    const ran = tr.insertCell();
    ran.className = "num";
    ran.textContent = fmtDuration(e.ran);
    tr.insertCell().textContent = e.reason;
  }
  const t = d.exits || {};
  setText($("exits-totals"), Object.keys(t).length
    ? "Totals: " + Object.entries(t).map(([k, v]) => `${k} ${v}`).join(", ")
    : "");
}

// --- log --------------------------------------------------------------------

function openLog(uuid) {
  view.logConn = new Conn({
    onOpen: (c) => {
      view.lines = [];
      c.send({ type: "worker_logs", workerid: uuid, lines: 500, follow: true });
    },
    onMessage: (m) => {
      if (m.uuid !== uuid) {
        if (m.type === "error") setText($("log-info"), m.message);
        return;
      }
      if (m.type === "worker_logs") {
        view.lines = [];
        addLines(m.lines || []);
      } else if (m.type === "worker_log") addLines(m.lines || []);
    },
  });
}

function addLines(lines) {
  if (view.paused) {
    view.held.push(...lines);
    if (view.held.length > LOG_MAX) view.held.splice(0, view.held.length - LOG_MAX);
    setText($("log-info"), `${view.held.length} new lines held`);
    return;
  }
  view.lines.push(...lines);
  if (view.lines.length > LOG_MAX) view.lines.splice(0, view.lines.length - LOG_MAX);
  renderLog();
}

function renderLog() {
  const pre = $("log"), q = view.search;
  const shown = q ? view.lines.filter((l) => l.toLowerCase().includes(q)) : view.lines;
  pre.textContent = "";
  if (q) {
    const frag = document.createDocumentFragment();
    for (const l of shown) {
      const i = l.toLowerCase().indexOf(q);
      frag.append(l.slice(0, i));
      const mk = document.createElement("mark");
      mk.textContent = l.slice(i, i + q.length);
      frag.append(mk, l.slice(i + q.length) + "\n");
    }
    pre.append(frag);
  } else pre.textContent = shown.join("\n") + (shown.length ? "\n" : "");
  setText($("log-info"), q ? `${shown.length} of ${view.lines.length} lines match`
    : `${view.lines.length} lines`);
  if ($("log-follow").checked) pre.scrollTop = pre.scrollHeight;
}

function setPaused(p) {
  view.paused = p;
  const b = $("log-pause");
  b.setAttribute("aria-pressed", String(p));
  b.textContent = p ? "Resume" : "Pause";
  if (!p) {
    const held = view.held;
    view.held = [];
    addLines(held);
  }
}

// --- charts -----------------------------------------------------------------

function chartOpts(label, color, fmt) {
  const el = $("cpu-chart");
  // Canvas strokes need a colour, not currentColor: the scheme's text.
  const fg = getComputedStyle(document.body).color;
  return {
    width: Math.max(300, (el.clientWidth || 600) - 8), height: 200,
    series: [{}, { label, stroke: color, width: 1.5, fill: color + "22",
      value: (u, v) => (v == null ? "–" : fmt(v)) }],
    axes: [{ stroke: fg, grid: { stroke: "#8884" } },
      { stroke: fg, grid: { stroke: "#8884" }, size: 70,
        values: (u, vals) => vals.map(fmt) }],
    // From zero: a climbing curve reads as one, not as noise.
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] } },
    legend: { live: true },
  };
}

function makeCharts() {
  const cpuEl = $("cpu-chart"), memEl = $("mem-chart");
  cpuEl.textContent = memEl.textContent = "";
  view.cpu = new uPlot(chartOpts("CPU", "#1a73e8", (v) => v.toFixed(1) + " %"),
    [[], []], cpuEl);
  view.mem = new uPlot(chartOpts("Memory", "#e8710a", fmtBytes), [[], []], memEl);
}

function drawCharts() {
  if (!view.cpu) return;
  const [t, c, m] = view.data;
  view.cpu.setData([t, c]);
  view.mem.setData([t, m]);
}

function pushPoint(t, cpu, rss) {
  const [ts, c, m] = view.data;
  if (ts.length && t <= ts[ts.length - 1]) return;
  ts.push(t);
  c.push(cpu);
  m.push(rss);
  while (ts.length && ts[0] < t - HOUR) {
    ts.shift();
    c.shift();
    m.shift();
  }
}

function onStatsHistory(m) {
  if (m.uuid !== view.uuid) return;
  const live = view.data;
  view.data = [[], [], []];
  for (const [t, cpu, rss] of m.samples || []) pushPoint(t, cpu, rss);
  for (let i = 0; i < live[0].length; i++) pushPoint(live[0][i], live[1][i], live[2][i]);
  drawCharts();
}

function onStatsForView(m) {
  if (!view.uuid) return;
  const s = m.workers ? m.workers[view.uuid] : null;
  pushPoint(m.time, s ? s.cpu : null, s ? s.rss : null);
  drawCharts();
}

function initWorker() {
  $("log-pause").addEventListener("click", () => setPaused(!view.paused));
  $("log-search").addEventListener("input", debounce(() => {
    view.search = $("log-search").value.toLowerCase();
    renderLog();
  }, 100));
  $("log-follow").addEventListener("change", () => {
    if ($("log-follow").checked) $("log").scrollTop = $("log").scrollHeight;
  });
  $("w-actions").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (b && view.uuid) act(b.dataset.action, view.uuid);
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    if (!view.cpu) return;
    view.cpu.destroy();
    view.mem.destroy();
    makeCharts();
    drawCharts();
  });
  window.addEventListener("resize", debounce(() => {
    if (!view.cpu) return;
    const w = Math.max(300, $("cpu-chart").clientWidth - 8);
    view.cpu.setSize({ width: w, height: 200 });
    view.mem.setSize({ width: w, height: 200 });
  }, 150));
}
