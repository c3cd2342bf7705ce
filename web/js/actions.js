// fnwm dashboard: the actions, with the progress messages the manager
// sends their requester and its errors as it words them.
"use strict";

const ACTIONS = {
  start: { type: "set_active", verb: "Starting" },
  stop: { type: "stop_worker", verb: "Stopping" },
  restart: { type: "restart_worker", verb: "Restarting" },
  repair: { type: "repair_worker", verb: "Repairing" },
  delete: { type: "delete_worker", verb: "Deleting" },
};

let current = null; // the progress item of the newest operation

function progressItem(title) {
  const li = document.createElement("li");
  const h = document.createElement("strong");
  const p = document.createElement("div");
  const bar = document.createElement("progress");
  h.textContent = title;
  bar.max = 1;
  bar.value = 0;
  li.append(h, p, bar);
  li.msg = p;
  li.bar = bar;
  $("progress-list").append(li);
  return li;
}

function finish(li, delay) {
  if (li === current) current = null;
  setTimeout(() => li.remove(), delay);
}

function showError(text) {
  const li = progressItem("Error");
  li.classList.add("error");
  li.bar.remove();
  li.msg.textContent = text;
  li.tabIndex = 0;
  li.title = "click to dismiss";
  li.addEventListener("click", () => li.remove());
  if (current) finish(current, 0);
  finish(li, 20000);
}

function onProgress(m) {
  if (m.message === "" && m.progress >= 1) {
    if (current) {
      current.bar.value = 1;
      current.msg.textContent = "done";
      finish(current, 2500);
    }
    return;
  }
  if (!current) current = progressItem("Operation");
  current.msg.textContent = m.message;
  if (typeof m.progress === "number") current.bar.value = m.progress;
  if (m.status === "error") current.classList.add("error");
}

function workerLabel(uuid) {
  const r = W.get(uuid);
  return r && r.name ? `${r.name} (${uuid})` : uuid;
}

function act(action, uuid) {
  const a = ACTIONS[action];
  if (!a) return;
  if (action === "delete") {
    confirmDelete(uuid);
    return;
  }
  send(a, uuid);
}

function send(a, uuid) {
  if (!conn.send({ type: a.type, workerid: uuid })) {
    showError("not connected to the manager");
    return;
  }
  if (current) finish(current, 0);
  current = progressItem(`${a.verb} ${workerLabel(uuid)}`);
}

function confirmDelete(uuid) {
  const dlg = $("confirm-dialog");
  setText($("confirm-text"), `Delete ${workerLabel(uuid)}? Its files, and its data ` +
    "directory when it lies beneath the workers directory, are removed.");
  dlg.dataset.uuid = uuid;
  dlg.showModal();
  $("confirm-cancel").focus();
}

function onWorkerCreated(m) {
  if (current) {
    current.msg.textContent = `created ${m.uuid || ""}`;
    current.bar.value = 1;
    finish(current, 2500);
  }
}

function newWorker(ev) {
  ev.preventDefault();
  const name = $("new-name").value.trim();
  if (!name) return;
  const kwargs = { name, in_venv: $("new-venv").checked };
  const deps = $("new-deps").value.split("\n").map((s) => s.trim()).filter(Boolean);
  if (deps.length) {
    kwargs.package_dependencies = {};
    for (const d of deps) {
      const key = d.split(/[\s<>=!~;[@]/)[0] || d;
      kwargs.package_dependencies[key] = { package: d };
    }
  }
  if (!conn.send({ type: "new_worker", kwargs })) {
    showError("not connected to the manager");
    return;
  }
  $("new-dialog").close();
  $("new-form").reset();
  if (current) finish(current, 0);
  current = progressItem(`Creating ${name}`);
}

function initActions() {
  $("new-btn").addEventListener("click", () => {
    $("new-dialog").showModal();
    $("new-name").focus();
  });
  $("new-form").addEventListener("submit", newWorker);
  $("new-cancel").addEventListener("click", () => $("new-dialog").close());
  $("confirm-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const dlg = $("confirm-dialog");
    dlg.close();
    send(ACTIONS.delete, dlg.dataset.uuid);
  });
  $("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close());
}
