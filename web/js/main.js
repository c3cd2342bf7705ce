// fnwm dashboard: the connection's messages, the header, the two views.
"use strict";

let manager = null, managerAt = 0;

const refreshDetails = debounce(() => {
  conn.send({ type: "worker_details", history: false });
  if (view.uuid) conn.send({ type: "worker_details", workerid: view.uuid });
}, 150);

const refreshOne = debounce(() => {
  if (view.uuid) conn.send({ type: "worker_details", workerid: view.uuid });
}, 300);

function onMessage(m) {
  switch (m.type) {
    case "worker_status":
      if (!performance.getEntriesByName("fnwm:status").length)
        performance.mark("fnwm:status");
      onWorkerStatus(m);
      refreshDetails();
      break;
    case "worker_details":
      onWorkerDetails(m);
      break;
    case "worker_event":
      onWorkerEvent(m);
      if (m.uuid === view.uuid) refreshOne();
      break;
    case "worker_stats":
      if (m.access) document.body.classList.toggle("read-only", m.access !== "control");
      manager = m.manager;
      managerAt = now();
      renderHeader();
      onWorkerStats(m);
      onStatsForView(m);
      break;
    case "worker_stats_history":
      onStatsHistory(m);
      break;
    case "progress":
      onProgress(m);
      break;
    case "worker_created":
      onWorkerCreated(m);
      break;
    case "error":
      showError(m.message || "error");
      break;
    default:
      break; // set_worker, worker_deleted: the lists say it
  }
}

function renderHeader() {
  if (!manager) return;
  setText($("m-version"), manager.version);
  setText($("m-uptime"), fmtDuration(manager.uptime + (now() - managerAt)));
  setText($("m-rss"), fmtBytes(manager.rss));
  setText($("m-workers"), manager.workers);
  setText($("m-monitors"), manager.monitors);
  setText($("m-clients"), manager.clients);
}

function onConnState(state, ev) {
  const el = $("conn");
  if (state === "open") {
    el.textContent = "connected";
    el.classList.remove("bad");
    return;
  }
  el.classList.add("bad");
  el.textContent = ev && ev.code === 1006 && !TOKEN
    ? "cannot connect: this manager may need a token (open the URL `fnwm url` prints); retrying"
    : `disconnected${ev && ev.reason ? ": " + ev.reason : ""}; retrying`;
}

/** After each flush of the table: the open worker page follows it. */
function onFleetFlushed() {
  if (view.uuid) renderWorker();
}

function route() {
  const m = /^#\/worker\/([^/]+)(\/log)?$/.exec(location.hash);
  const worker = !!m;
  $("fleet-view").hidden = worker;
  $("worker-view").hidden = !worker;
  if (worker) showWorker(decodeURIComponent(m[1]), !!m[2]);
  else {
    hideWorker();
    document.title = "fnwm";
  }
  if (worker) document.title = "fnwm: " + (W.get(view.uuid)?.name || view.uuid);
}

initFleet();
initWorker();
initActions();
const conn = new Conn({
  onOpen: (c) => {
    c.send("worker_status");
    c.send({ type: "worker_details", history: false });
    c.send({ type: "worker_stats" });
    if (view.uuid) {
      c.send({ type: "worker_details", workerid: view.uuid });
      c.send({ type: "worker_stats_history", workerid: view.uuid });
    }
  },
  onMessage,
  onState: onConnState,
});
window.addEventListener("hashchange", route);
setInterval(renderHeader, 1000);
route();
