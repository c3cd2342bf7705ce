// fnwm dashboard: the fleet table. One record per worker, one <tr> per
// record, made once; a message changes the cells it concerns (batched
// per animation frame), so 1,000 workers are not re-rendered per event.
"use strict";

const W = new Map(); // uuid -> record
const dirty = new Set();
let frameAsked = false;
let sortKey = "name", sortDir = 1, needSort = true;
let filterText = "", filterState = "";

function record(uuid) {
  let r = W.get(uuid);
  if (!r) {
    r = { uuid, name: "", entry: null, active: false, state: null,
      pid: null, restarts: null, started: null, last_exit: null,
      cpu: null, rss: null, procs: null, port: null, row: null };
    W.set(uuid, r);
  }
  return r;
}

function stateOf(r) {
  return r.state || (r.active ? "running" : "down");
}

const ROW = (() => {
  const tr = document.createElement("tr");
  tr.innerHTML = '<td class="name"><a></a></td><td class="uuid"></td>' +
    '<td><span class="state"></span></td><td class="num"></td>' +
    '<td class="num"></td><td class="num"></td><td></td>' +
    '<td class="num"></td><td class="num"></td><td class="num"></td>' +
    '<td class="actions">' +
    '<button type="button" class="control" data-action="start">Start</button>' +
    '<button type="button" class="control" data-action="stop">Stop</button>' +
    '<button type="button" class="control" data-action="restart">Restart</button>' +
    '<button type="button" class="control danger" data-action="delete">Delete</button>' +
    '<button type="button" data-action="logs">Logs</button></td>';
  return tr;
})();

function makeRow(r) {
  const tr = ROW.cloneNode(true);
  tr.dataset.uuid = r.uuid;
  const c = tr.children;
  r.row = tr;
  r.cells = { name: c[0].firstChild, uuid: c[1], state: c[2].firstChild,
    pid: c[3], uptime: c[4], restarts: c[5], exit: c[6], cpu: c[7],
    rss: c[8], port: c[9], start: c[10].children[0],
    stop: c[10].children[1] };
  r.cells.name.href = "#/worker/" + encodeURIComponent(r.uuid);
  setText(r.cells.uuid, r.uuid);
  return tr;
}

function uptimeOf(r) {
  const st = stateOf(r);
  if (!r.pid || !r.started || (st !== "running" && st !== "starting" &&
      st !== "unresponsive" && st !== "stopping")) return null;
  return Math.max(0, now() - r.started);
}

function renderRow(r) {
  const c = r.cells, st = stateOf(r);
  setText(c.name, r.name || r.uuid);
  setText(c.state, st);
  const cls = "state st-" + st;
  if (c.state.className !== cls) c.state.className = cls;
  setText(c.pid, r.pid || "");
  setText(c.uptime, fmtDuration(uptimeOf(r)));
  setText(c.restarts, r.restarts == null ? "" : r.restarts);
  setText(c.exit, fmtExit(r.last_exit));
  setText(c.cpu, r.cpu == null || !r.pid ? "" : r.cpu.toFixed(1) + " %");
  setText(c.rss, r.pid ? fmtBytes(r.rss) : "");
  setText(c.port, r.port || "");
  const running = !!r.pid;
  if (c.start.disabled !== running) c.start.disabled = running;
  if (c.stop.disabled === running) c.stop.disabled = !running;
  const hide = !matches(r);
  if (r.row.hidden !== hide) r.row.hidden = hide;
}

function matches(r) {
  if (filterState && stateOf(r) !== filterState) return false;
  if (!filterText) return true;
  return (r.name || "").toLowerCase().includes(filterText) ||
    r.uuid.toLowerCase().includes(filterText);
}

function sortValue(r, key) {
  switch (key) {
    case "name": return (r.name || r.uuid).toLowerCase();
    case "uuid": return r.uuid;
    case "state": return stateOf(r);
    case "uptime": return uptimeOf(r) ?? -1;
    case "exit": return fmtExit(r.last_exit);
    case "cpu": return r.pid && r.cpu != null ? r.cpu : -1;
    case "rss": return r.pid && r.rss != null ? r.rss : -1;
    default: return r[key] ?? -1;
  }
}

function compare(a, b) {
  const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
  if (x < y) return -sortDir;
  if (x > y) return sortDir;
  return a.uuid < b.uuid ? -1 : 1;
}

/** Puts the rows in order; moves only what the order changes. */
function resort() {
  const body = $("fleet-body");
  const list = [...W.values()].filter((r) => r.row).sort(compare);
  needSort = false;
  if (!body.firstChild) {
    appendInChunks(body, list);
    return;
  }
  chunkJob++; // every row is placed below: no chunk is left to add
  let el = body.firstChild;
  for (const r of list) {
    if (r.row === el) {
      el = el.nextSibling;
      continue;
    }
    body.insertBefore(r.row, el);
  }
}

/*
 * The first rows: those a screen shows at once, then the rest after that
 * paint (in one piece: each insertion lays the whole table out again), so
 * a long list is on screen before all of it is laid out.
 */
let chunkJob = 0;
function appendInChunks(body, list) {
  const job = ++chunkJob;
  let i = 0;
  const step = (n) => {
    if (job !== chunkJob) return;
    const frag = document.createDocumentFragment();
    for (const end = Math.min(list.length, i + n); i < end; i++)
      if (!list[i].row.parentNode) frag.appendChild(list[i].row);
    body.appendChild(frag);
    updateCount();
    if (i < list.length) requestAnimationFrame(() => setTimeout(() => step(list.length)));
    else mark("fnwm:all-rows");
  };
  step(60);
}

/** A performance mark, once (read by tests and the devtools). */
function mark(name) {
  if (performance.getEntriesByName(name).length) return;
  performance.mark(name);
  requestAnimationFrame(() => setTimeout(() => performance.mark(name + ":painted")));
}

/** Marks r changed; its row is updated at the next frame. */
function touch(r, affectsOrder = true) {
  dirty.add(r);
  if (affectsOrder) needSort = true;
  if (!frameAsked) {
    frameAsked = true;
    requestAnimationFrame(flush);
  }
}

function flush() {
  frameAsked = false;
  for (const r of dirty) {
    if (!r.row) {
      makeRow(r); // placed by resort()
      needSort = true;
    }
    renderRow(r);
  }
  dirty.clear();
  if (needSort) resort();
  updateCount();
  if (W.size) mark("fnwm:rows");
  onFleetFlushed();
}

function updateCount() {
  let shown = 0;
  for (const r of W.values()) if (r.row && !r.row.hidden && r.row.parentNode) shown++;
  setText($("count"), W.size === shown ? `(${W.size})` : `(${shown} of ${W.size})`);
  $("empty").hidden = W.size > 0;
}

function removeWorker(uuid) {
  const r = W.get(uuid);
  if (!r) return;
  if (r.row) r.row.remove();
  W.delete(uuid);
  dirty.delete(r);
  updateCount();
}

// --- messages --------------------------------------------------------------

/** worker_status: FuncNodes' lists; a worker not listed is gone. */
function onWorkerStatus(m) {
  const seen = new Set();
  let added = false;
  for (const [list, active] of [[m.active || [], true], [m.inactive || [], false]]) {
    for (const e of list) {
      if (!e || typeof e.uuid !== "string") continue;
      seen.add(e.uuid);
      added = added || !W.has(e.uuid);
      const r = record(e.uuid);
      r.entry = e;
      r.name = e.name || "";
      r.port = e.port ?? null;
      r.active = active;
      if (e.unresponsive) r.state = "unresponsive";
      touch(r);
    }
  }
  for (const uuid of [...W.keys()]) if (!seen.has(uuid)) removeWorker(uuid);
  return added;
}

/** worker_details: supervision state of every (or one) worker. */
function onWorkerDetails(m) {
  for (const d of m.workers || []) {
    // The lists say which workers exist (a late answer may name a
    // worker deleted since).
    const r = W.get(d.uuid);
    if (!r) continue;
    if (d.name) r.name = d.name;
    if (d.port != null) r.port = d.port;
    r.state = d.state;
    r.pid = d.pid ?? null;
    if (d.restarts != null) r.restarts = d.restarts;
    if (d.started != null) r.started = d.started;
    r.last_exit = d.last_exit ?? r.last_exit;
    r.details = d;
    touch(r);
  }
}

/** worker_event: the moment a monitor reports a change. */
function onWorkerEvent(m) {
  const r = W.get(m.uuid);
  if (!r) return;
  if (m.pid && m.pid !== r.pid) r.started = now();
  r.state = m.state;
  r.pid = m.pid ?? null;
  r.restarts = m.restarts ?? r.restarts;
  if (m.last_exit !== undefined) r.last_exit = m.last_exit;
  r.next_restart = m.next_restart ?? null;
  touch(r);
  if (r.row) {
    r.row.classList.remove("flash");
    void r.row.offsetWidth;
    r.row.classList.add("flash");
  }
}

/** worker_stats: CPU, memory and start time of the running ones. */
function onWorkerStats(m) {
  for (const r of W.values()) {
    const s = m.workers ? m.workers[r.uuid] : null;
    if (s) {
      if (s.pid !== r.pid && r.pid) continue; // an event is newer
      r.cpu = s.cpu;
      r.rss = s.rss;
      r.procs = s.procs;
      if (s.started) r.started = s.started;
      touch(r, sortKey === "cpu" || sortKey === "rss" || sortKey === "uptime");
    } else if (r.cpu != null || r.rss != null) {
      r.cpu = r.rss = null;
      touch(r, sortKey === "cpu" || sortKey === "rss");
    } else if (r.pid) {
      touch(r, sortKey === "uptime");
    }
  }
}

// --- controls --------------------------------------------------------------

function setSort(key) {
  if (sortKey === key) sortDir = -sortDir;
  else {
    sortKey = key;
    sortDir = 1;
  }
  for (const th of document.querySelectorAll("#fleet thead th")) {
    const b = th.querySelector("button[data-sort]");
    if (!b) continue;
    if (b.dataset.sort === sortKey)
      th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
    else th.removeAttribute("aria-sort");
  }
  resort();
}

function refilter() {
  filterText = $("filter").value.trim().toLowerCase();
  filterState = $("state-filter").value;
  for (const r of W.values()) if (r.row) r.row.hidden = !matches(r);
  updateCount();
}

function initFleet() {
  $("fleet").querySelector("thead").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-sort]");
    if (b) setSort(b.dataset.sort);
  });
  $("filter").addEventListener("input", debounce(refilter, 80));
  $("state-filter").addEventListener("change", refilter);
  $("fleet-body").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (!b) return;
    const uuid = b.closest("tr").dataset.uuid;
    if (b.dataset.action === "logs") location.hash = "#/worker/" + encodeURIComponent(uuid) + "/log";
    else act(b.dataset.action, uuid);
  });
}
