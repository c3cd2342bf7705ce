#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// fnwm's own dashboard (GET /, web/) in Debian's headless Chromium, driven
// by playwright-core, against a real fnwm with the stdlib worker double of
// tests/worker as its workers.
//
// Claims:
//  1. the page loads from the hub's port with no console error, and
//     workers created through the WebSocket (the CLI's new_worker, the
//     page's own New dialog) appear in its table; a refused one shows the
//     manager's error;
//  2. Start, Stop, Restart and Delete (confirmed) from the page act on the
//     real processes and files;
//  3. kill -9 of a worker's process shows its restart (new pid, restart
//     count) within 1 s, without a reload;
//  4. the worker page's log shows a line the worker printed while the
//     page was open, and its charts fill from worker_stats;
//  5. 1,000 registered workers render; the time is printed and written
//     to timing.json.
// Screenshots of the fleet view (fleet.png, fleet-1000.png) and of a worker
// page (worker.png) go to $FNWM_UI_OUT (CTest: build/tests/dashboard-output).
//
// Environment: FNWM_BIN, FNWM_SANITIZED, FNWM_CHROMIUM as for ui.test.mjs;
// FNWM_UI_KEEP=1 keeps the tmp dir after a pass. Exit status: 0 pass, 1 fail.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";

import {
  CHROMIUM, CHROMIUM_ARGS, Failure, FNWM_BIN, Manager, PYTHON, SANITIZED,
  T, WORKER_PYTHONPATH, check, ensureNodeModules, fail,
  freePort, pidAlive, processesOf, readText, say, setAbort, waitFor,
  recordedPage,
} from "./lib.mjs";

const OVERALL_DEADLINE_S = 540;
const OUT = path.resolve(process.env.FNWM_UI_OUT || "dashboard-output");
const MANY = 1000;

function cli(ctx, ...args) {
  const r = spawnSync(FNWM_BIN, ["--dir", ctx.cfgDir, "--port",
    String(ctx.mgr.port), "--no-start", ...args],
  { env: ctx.env, encoding: "utf8", timeout: T(60) });
  check(r.status === 0, `fnwm ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

/** The cells of a worker's row, as the page shows them. */
async function row(page, uuid) {
  return page.evaluate((u) => {
    const tr = document.querySelector(`#fleet-body tr[data-uuid="${u}"]`);
    if (!tr) return null;
    const c = [...tr.cells].map((td) => td.textContent.trim());
    return { name: c[0], state: c[2], pid: Number(c[3]) || 0, restarts: c[5] };
  }, uuid);
}

async function waitRow(page, uuid, pred, ms, what) {
  return waitFor(async () => {
    const r = await row(page, uuid);
    return r && pred(r) ? r : null;
  }, ms, what);
}

function workerProcess(pid, uuid) {
  const args = readText(`/proc/${pid}/cmdline`).split("\0");
  return pidAlive(pid) && args.includes(uuid);
}

async function rowButton(page, uuid, label) {
  return page.locator(`#fleet-body tr[data-uuid="${uuid}"]`)
    .getByRole("button", { name: label, exact: true });
}

/** Claims 1 and 2 (creation, Start): returns the two uuids. */
async function createAndStart(ctx) {
  const { page } = ctx;
  await waitFor(async () => (await page.textContent("#conn")) === "connected",
    T(10), "the page to connect");
  const a = cli(ctx, "worker", "new", "--name", "dash-a", "--not-in-venv");
  await waitRow(page, a, (r) => r.name === "dash-a", T(5), "dash-a's row");
  say("dash-a, made by the CLI over the WebSocket, is listed:", a);

  await page.getByRole("button", { name: "New worker" }).click();
  await page.getByLabel("Name").fill("dash-b");
  await page.getByLabel("In its own virtual environment").uncheck();
  await page.getByRole("button", { name: "Create" }).click();
  const b = await waitFor(() => page.evaluate(() =>
    [...W.values()].find((r) => r.name === "dash-b")?.uuid), T(10),
  "dash-b, made by the page's New dialog");
  check(fs.existsSync(path.join(ctx.workersDir, `worker_${b}.json`)),
    "dash-b has no JSON file");
  say("dash-b, made by the page's dialog, is listed:", b);

  // A refusal is shown as the manager words it, and nothing is made.
  const before = fs.readdirSync(ctx.workersDir).length;
  await page.getByRole("button", { name: "New worker" }).click();
  await page.getByLabel("Name").fill("dash-bad");
  await page.getByLabel("In its own virtual environment").uncheck();
  await page.getByLabel(/Dependencies/).fill("--index-url=http://evil.example/");
  await page.getByRole("button", { name: "Create" }).click();
  const err = await waitFor(() => page.evaluate(() =>
    document.querySelector("#progress-list li.error")?.textContent), T(10),
  "the manager's error on the page");
  check(err.includes("is not a PEP 508 requirement"), `the page shows ${JSON.stringify(err)}`);
  check(fs.readdirSync(ctx.workersDir).length === before, "a refused worker left files");
  say("a refused new_worker: the page shows", JSON.stringify(err.slice(0, 80) + "…"));

  await (await rowButton(page, a, "Start")).click();
  const r = await waitRow(page, a, (x) => x.state === "running" && x.pid,
    T(20), "dash-a running after Start");
  check(workerProcess(r.pid, a), `pid ${r.pid} is not dash-a's process`);
  say("Start: dash-a runs as pid", r.pid);
  return { a, b, pid: r.pid };
}

/** Claim 3: kill -9, the page follows within 1 s. */
async function killShowsRestart(ctx, a, pid) {
  const { page } = ctx;
  const before = await row(page, a);
  const t = Date.now();
  process.kill(pid, "SIGKILL");
  const r = await waitRow(page, a, (x) => x.pid && x.pid !== pid &&
    Number(x.restarts) > Number(before.restarts || 0), T(5),
  "the restart after kill -9 on the page");
  const ms = Date.now() - t;
  check(ms <= T(1), `the page showed the restart ${ms} ms after kill -9 (over 1 s)`);
  check(workerProcess(r.pid, a), `new pid ${r.pid} is not dash-a's process`);
  say(`kill -9 ${pid}: the page shows pid ${r.pid}, restarts ${r.restarts}, after ${ms} ms`);
  ctx.timing.kill_to_page_ms = ms;
  return r.pid;
}

/** Claims 2 and 4 on the worker page: log, Restart, charts, Stop, Start. */
async function workerPage(ctx, a, pid) {
  const { page } = ctx;
  await (await rowButton(page, a, "Logs")).click();
  await page.waitForSelector("#worker-view:not([hidden])");
  await waitFor(async () => (await page.textContent("#log")).includes(`(pid ${pid},`),
    T(10), "the log tail with the running process's start line");
  const view = page.locator("#worker-view");
  await view.getByRole("button", { name: "Restart", exact: true }).click();
  const line = await waitFor(async () => {
    const m = /Starting worker \S+ \(pid (\d+),/g;
    const text = await page.textContent("#log");
    const pids = [...text.matchAll(m)].map((x) => Number(x[1]));
    return pids.find((p) => p !== pid && workerProcess(p, a));
  }, T(20), "the restarted worker's start line in the followed log");
  check(!pidAlive(pid) || !workerProcess(pid, a), `Restart left pid ${pid} running`);
  say("Restart: the followed log shows the line of the new process, pid", line);
  // worker_stats every 2 s: the charts have points of the new process.
  await waitFor(() => page.evaluate(() => view.data[1].filter((v) => v != null).length >= 2 &&
    view.data[2].filter((v) => v > 0).length >= 2), T(15), "CPU and memory points in the charts");
  await page.screenshot({ path: path.join(OUT, "worker.png"), fullPage: true });
  say("screenshot", path.join(OUT, "worker.png"));
  await page.emulateMedia({ colorScheme: "dark" });
  await page.screenshot({ path: path.join(OUT, "worker-dark.png") });
  await page.emulateMedia({ colorScheme: "light" });

  await view.getByRole("button", { name: "Stop", exact: true }).click();
  await waitFor(() => !pidAlive(line), T(20), `pid ${line} gone after Stop`);
  await waitRow(page, a, (x) => x.state === "down" && !x.pid, T(10), "dash-a down on the page");
  say("Stop: pid", line, "is gone and the page says down");
  await view.getByRole("button", { name: "Start", exact: true }).click();
  const r = await waitRow(page, a, (x) => x.state === "running" && x.pid, T(20),
    "dash-a running again");
  check(workerProcess(r.pid, a), `pid ${r.pid} is not dash-a's process`);
  say("Start: dash-a runs again as pid", r.pid);
}

/** Claim 2: Delete asks, then removes the worker's files. */
async function deleteWorker(ctx, b) {
  const { page } = ctx;
  await page.getByRole("link", { name: "← All workers" }).click();
  await page.waitForSelector("#fleet-view:not([hidden])");
  await (await rowButton(page, b, "Delete")).click();
  const dlg = page.getByRole("dialog");
  await dlg.waitFor();
  await dlg.getByRole("button", { name: "Cancel" }).click();
  check(fs.existsSync(path.join(ctx.workersDir, `worker_${b}.json`)),
    "Cancel deleted the worker");
  await (await rowButton(page, b, "Delete")).click();
  await dlg.getByRole("button", { name: "Delete" }).click();
  await waitFor(async () => !(await row(page, b)), T(20), "dash-b's row to go");
  check(!fs.existsSync(path.join(ctx.workersDir, `worker_${b}.json`)),
    "dash-b's JSON is still there");
  say("Delete (confirmed): dash-b's files and row are gone");
  // Filter and sort by keyboard.
  await page.locator("#filter").fill("dash-a");
  await waitFor(() => page.evaluate(() =>
    document.querySelectorAll("#fleet-body tr:not([hidden])").length === 1),
  T(5), "the filter");
  await page.locator("#filter").fill("");
  await page.getByRole("button", { name: "State", exact: true }).focus();
  await page.keyboard.press("Enter");
  check(await page.evaluate(() =>
    document.querySelector("th:nth-child(3)").getAttribute("aria-sort") === "ascending"),
  "Enter on the State header does not sort by state");
  await page.screenshot({ path: path.join(OUT, "fleet.png") });
  say("screenshot", path.join(OUT, "fleet.png"));
}

function writeWorkers(workersDir, n, port) {
  for (let i = 0; i < n; i++) {
    const uuid = `many-${String(i).padStart(4, "0")}_${(0xabc000 + i).toString(16)}`;
    const doc = { type: "WSWorker", uuid, name: `many ${i}`, data_path: null,
      env_path: null, worker_dependencies: {}, package_dependencies: {}, pid: null,
      update_on_startup: {}, host: "localhost", port: port + i, ssl: false };
    const p = path.join(workersDir, `worker_${uuid}.json`);
    fs.writeFileSync(p + ".tmp-test", JSON.stringify(doc));
    fs.renameSync(p + ".tmp-test", p);
  }
}

/** Claim 5: 1,000 workers, first render timed. */
async function manyWorkers(ctx) {
  const { page } = ctx;
  writeWorkers(ctx.workersDir, MANY, 40000);
  await waitFor(() => page.evaluate((n) => W.size >= n, MANY), T(30),
    `${MANY} workers listed`);
  await page.reload();
  const marks = await waitFor(() => page.evaluate((n) => {
    const get = (k) => performance.getEntriesByName(k)[0]?.startTime;
    const rows = document.querySelectorAll("#fleet-body tr").length;
    if (rows < n || get("fnwm:all-rows:painted") == null) return null;
    return { status: get("fnwm:status"), first: get("fnwm:rows:painted"),
      all: get("fnwm:all-rows:painted"), count: rows };
  }, MANY), T(30), `${MANY} rows after a reload`);
  const t = ctx.timing;
  t.workers = marks.count;
  t.list_to_first_paint_ms = Math.round(marks.first - marks.status);
  t.list_to_all_rows_painted_ms = Math.round(marks.all - marks.status);
  t.navigation_to_first_paint_ms = Math.round(marks.first);
  t.load_average = os.loadavg()[0];
  say(`${marks.count} workers: the first rows painted ${t.list_to_first_paint_ms} ms ` +
    `and all rows ${t.list_to_all_rows_painted_ms} ms after the list arrived; ` +
    `${t.navigation_to_first_paint_ms} ms after navigation began (load average ` +
    `${t.load_average.toFixed(1)})`);
  await page.screenshot({ path: path.join(OUT, "fleet-1000.png") });
  const wrong = await page.evaluate(() => [...document.querySelectorAll("#fleet-body tr")]
    .filter((tr) => tr.dataset.uuid.startsWith("many-") && tr.cells[2].textContent !== "down")
    .map((tr) => `${tr.dataset.uuid}: ${tr.cells[2].textContent} ` +
      JSON.stringify({ ...W.get(tr.dataset.uuid), row: undefined, cells: undefined })));
  check(wrong.length === 0, `workers never started shown as running: ${wrong.join(", ")}`);
}

async function scenario(ctx) {
  const { page } = ctx;
  await page.goto(`http://127.0.0.1:${ctx.mgr.port}/`);
  const { a, b, pid } = await createAndStart(ctx);
  const pid2 = await killShowsRestart(ctx, a, pid);
  await workerPage(ctx, a, pid2);
  await deleteWorker(ctx, b);
  await manyWorkers(ctx);
  const errors = ctx.consoleLines.filter((l) => /^\[(error|pageerror)/.test(l));
  check(errors.length === 0, `console errors:\n${errors.join("\n")}`);
  say("no console error");
}

function setup() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fnwm-dash-"));
  const cfgDir = path.join(tmp, "cfg");
  const workersDir = path.join(cfgDir, "workers");
  fs.mkdirSync(workersDir, { recursive: true });
  fs.writeFileSync(path.join(cfgDir, "config.json"), JSON.stringify({
    fnwm: { python: PYTHON, stop_timeout: 2, kill_timeout: 1, debounce: 0.02,
      probe_interval: 2, restart_policy: { healthy_after: 1, backoff_initial: 0.1 } },
  }));
  fs.mkdirSync(OUT, { recursive: true });
  return { tmp, cfgDir, workersDir, consoleLines: [], timing: {} };
}

async function main() {
  check(fs.existsSync(FNWM_BIN), `FNWM_BIN ${FNWM_BIN} does not exist (build fnwm first)`);
  check(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install chromium)`);
  ensureNodeModules();
  const { chromium } = await import("playwright-core");
  const ctx = setup();
  say("tmp dir", ctx.tmp, "output", OUT);
  const watchdog = setTimeout(() => {
    console.error(`FAIL: overall deadline of ${OVERALL_DEADLINE_S}s exceeded; tmp dir ${ctx.tmp}`);
    for (const p of processesOf(ctx.cfgDir)) process.kill(p.pid, "SIGKILL");
    process.exit(1);
  }, OVERALL_DEADLINE_S * 1000);
  let browser = null, ok = false;
  const problems = [];
  try {
    const startPort = await freePort();
    const env = ctx.env = { ...process.env };
    for (const k of ["FUNCNODES_HOST", "FUNCNODES_CONFIG_DIR", "FUNCNODES_WORKER_IN_VENV"])
      delete env[k];
    env.PYTHONPATH = WORKER_PYTHONPATH;
    env.FUNCNODES_WS_WORKER_STARTPORT = String(startPort);
    env.FUNCNODES_WS_WORKER_ENDPORT = String(Math.min(65535, startPort + 100));
    if (SANITIZED) env.ASAN_OPTIONS ??= "detect_leaks=1:abort_on_error=0";
    ctx.mgr = new Manager(ctx.cfgDir, path.join(ctx.tmp, "fnwm.log"), env);
    await ctx.mgr.waitListening();
    setAbort(() => ctx.mgr.exit && `fnwm exited (${JSON.stringify(ctx.mgr.exit)})`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS,
      timeout: T(60) });
    say("chromium", browser.version(), "fnwm port", ctx.mgr.port);
    const page = await recordedPage(browser, ctx);
    await scenario(ctx);
    fs.writeFileSync(path.join(OUT, "timing.json"), JSON.stringify(ctx.timing, null, 2) + "\n");
    ok = true;
  } catch (e) {
    console.error(`FAIL: ${e instanceof Failure ? e.message : e.stack || e}`);
    if (ctx.page)
      await ctx.page.screenshot({ path: path.join(ctx.tmp, "failure.png"), fullPage: true })
        .catch(() => {});
  } finally {
    if (ctx.rec) fs.writeFileSync(path.join(ctx.tmp, "ws-frames.log"), ctx.rec.dump());
    fs.writeFileSync(path.join(ctx.tmp, "browser.log"), ctx.consoleLines.join("\n") + "\n");
    if (browser) await browser.close().catch(() => {});
    if (ctx.mgr) {
      setAbort(() => null);
      problems.push(...(await ctx.mgr.stop()));
      for (const p of problems) console.error("FAIL:", p);
    }
    clearTimeout(watchdog);
  }
  if (ok && problems.length === 0) {
    say("PASS");
    if (process.env.FNWM_UI_KEEP !== "1") fs.rmSync(ctx.tmp, { recursive: true, force: true });
    return 0;
  }
  console.error(`--- fnwm.log (tail) ---\n${readText(path.join(ctx.tmp, "fnwm.log")).slice(-6000)}`);
  console.error(`--- browser console (tail) ---\n${ctx.consoleLines.slice(-40).join("\n")}`);
  console.error(`FAIL: artefacts kept in ${ctx.tmp}`);
  return 1;
}

main().then((rc) => process.exit(rc), (e) => {
  console.error(`FAIL: ${e instanceof Failure ? e.message : e.stack || e}`);
  process.exit(1);
});
