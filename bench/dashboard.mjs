#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// The dashboard's costs (prints figures; asserts nothing):
//  1. the master's CPU over --seconds (60) with --running (100) workers
//     of the stdlib worker double running, first with no dashboard open,
//     then while one dashboard in headless Chromium watches them (the
//     sampler reads /proc every 2 s and sends worker_stats);
//  2. the first render of the fleet table with --workers (1,000) listed
//     (the running ones included): from the arrival of the worker list to
//     the rows in the DOM and to the next paint, and from navigation to
//     that paint; the median of --reloads (5) page loads.
//
// Uses tests/ui's node_modules (playwright-core; `npm ci` there first) and
// Debian's /usr/bin/chromium.
// usage: node bench/dashboard.mjs [--fnwm PATH] [--running 100]
//                                 [--workers 1000] [--seconds 60] [--reloads 5]

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const opts = { fnwm: path.join(HERE, "..", "build", "master", "fnwm"),
  running: 100, workers: 1000, seconds: 60, reloads: 5 };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, "");
  if (!(k in opts)) {
    console.error("usage: node bench/dashboard.mjs [--fnwm PATH] [--running N] " +
      "[--workers N] [--seconds S] [--reloads N]");
    process.exit(2);
  }
  opts[k] = k === "fnwm" ? path.resolve(process.argv[i + 1]) : Number(process.argv[i + 1]);
}
process.env.FNWM_BIN = opts.fnwm;
const lib = await import("../tests/ui/lib.mjs");
const { chromium } = await import("../tests/ui/node_modules/playwright-core/index.mjs");

const HZ = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

function cpuSeconds(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / HZ; // utime, stime
}

async function cpuOver(pid, seconds) {
  const a = cpuSeconds(pid), t = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return { cpu: cpuSeconds(pid) - a, wall: (Date.now() - t) / 1000 };
}

function writeWorker(dir, uuid, name, port) {
  const doc = { type: "WSWorker", uuid, name, data_path: null, env_path: null,
    worker_dependencies: {}, package_dependencies: {}, pid: null,
    update_on_startup: {}, host: "localhost", port, ssl: false };
  const p = path.join(dir, `worker_${uuid}.json`);
  fs.writeFileSync(p + ".tmp-bench", JSON.stringify(doc));
  fs.renameSync(p + ".tmp-bench", p);
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function firstRender(page, url, n) {
  await page.goto(url);
  return lib.waitFor(() => page.evaluate((want) => {
    const get = (k) => performance.getEntriesByName(k)[0]?.startTime;
    if (document.querySelectorAll("#fleet-body tr").length < want ||
        get("fnwm:all-rows:painted") == null) return null;
    const st = get("fnwm:status");
    return { first: get("fnwm:rows:painted") - st, all: get("fnwm:all-rows:painted") - st,
      nav: get("fnwm:rows:painted") };
  }, n), 60000, `${n} rows`);
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fnwm-bench-dash-"));
  const cfg = path.join(tmp, "cfg"), wdir = path.join(cfg, "workers");
  fs.mkdirSync(wdir, { recursive: true });
  fs.writeFileSync(path.join(cfg, "config.json"), JSON.stringify({
    fnwm: { python: lib.PYTHON, stop_timeout: 2, kill_timeout: 1 } }));
  const port0 = await lib.freePort();
  const env = { ...process.env, PYTHONPATH: lib.WORKER_PYTHONPATH,
    FUNCNODES_WS_WORKER_STARTPORT: String(port0 + 1),
    FUNCNODES_WS_WORKER_ENDPORT: String(Math.min(65535, port0 + 3000)) };
  for (let i = 0; i < opts.running; i++)
    writeWorker(wdir, `run-${String(i).padStart(4, "0")}_${(0x100000 + i).toString(16)}`,
      `run ${i}`, port0 + 1 + i);
  const mgr = new lib.Manager(cfg, path.join(tmp, "fnwm.log"), env);
  let browser = null;
  try {
    await mgr.waitListening();
    const t = Date.now();
    const r = spawnSync(opts.fnwm, ["--dir", cfg, "--port", String(mgr.port),
      "--no-start", "worker", "start", "--all"], { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`worker start --all: ${r.stdout}${r.stderr}`);
    console.log(`${opts.running} workers started in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    await new Promise((res) => setTimeout(res, 5000)); // let them settle

    const idle = await cpuOver(mgr.proc.pid, opts.seconds);
    console.log(`master CPU, no dashboard, ${opts.running} running, ` +
      `${idle.wall.toFixed(0)} s: ${(idle.cpu * 1000).toFixed(0)} ms ` +
      `(${(100 * idle.cpu / idle.wall).toFixed(3)} %)`);

    browser = await chromium.launch({ executablePath: lib.CHROMIUM, args: lib.CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const url = `http://127.0.0.1:${mgr.port}/`;
    await firstRender(page, url, opts.running);
    const watched = await cpuOver(mgr.proc.pid, opts.seconds);
    console.log(`master CPU, one dashboard watching, ${watched.wall.toFixed(0)} s: ` +
      `${(watched.cpu * 1000).toFixed(0)} ms (${(100 * watched.cpu / watched.wall).toFixed(3)} %)`);

    for (let i = opts.running; i < opts.workers; i++)
      writeWorker(wdir, `many-${String(i).padStart(4, "0")}_${(0x200000 + i).toString(16)}`,
        `many ${i}`, port0 + 1 + i);
    await lib.waitFor(() => page.evaluate((n) => W.size >= n, opts.workers), 60000,
      `${opts.workers} workers listed`);
    const runs = [];
    for (let i = 0; i < opts.reloads; i++) runs.push(await firstRender(page, url, opts.workers));
    const f = (k) => median(runs.map((x) => x[k])).toFixed(0);
    console.log(`first render, ${opts.workers} workers (median of ${runs.length}): first ` +
      `rows painted ${f("first")} ms, all rows painted ${f("all")} ms after the list ` +
      `arrived; first rows ${f("nav")} ms after navigation began`);
    console.log("  each (first/all):", runs.map((x) => `${x.first.toFixed(0)}/${x.all.toFixed(0)}`)
      .join(" "), "ms; load average", os.loadavg()[0].toFixed(1));
  } finally {
    if (browser) await browser.close();
    const problems = await mgr.stop();
    for (const p of problems) console.error(p);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e.stack || e);
  process.exit(1);
});
