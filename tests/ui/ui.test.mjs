#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// fnwm with the real FuncNodes browser UI (@linkdlab/funcnodes_react_flow)
// in Debian's headless Chromium, driven by playwright-core.
//
// Setup: `npm ci` in tests/ui when node_modules is missing or was installed
// from another package-lock.json; vite bundles page/ (the package's ES build
// plus React) into <tmp>/www, which a static HTTP server of this script
// serves on 127.0.0.1. fnwm runs with `--debug startworkermanager --dir
// <tmp>/cfg --port 0 --python /usr/bin/python3` and the stdlib worker double
// of tests/worker on PYTHONPATH; one worker JSON exists before it starts.
//
// Claims (reference-behaviour.md §10):
//  1. the UI connects to ?worker_manager_url, sends worker_status and lists
//     the pre-created worker in its Worker > Select menu;
//  2. the "New" dialog (venv box unchecked) sends new_worker with in_venv
//     false; fnwm answers worker_created, the worker JSON appears on disk
//     (env_path null) and the UI lists the new worker;
//  3. selecting it sends set_active; fnwm starts the worker process and
//     sends set_worker, after which the browser opens a WebSocket to the
//     worker's host:port, seen both by playwright and in the worker's log.
//
// The worker double does not implement the worker RPC the UI uses after
// connecting (get_library, ...); the UI's errors about that are expected.
//
// With FNWM_UI_REQUIRE_TOKEN=1 the same run is made with fnwm.require_token
// true (no trust by peer uid): the UI is given ws://127.0.0.1:PORT/?token=T
// with the token of <cfg>/fnwm.token, a handshake without it gets 401, and
// the token is not in fnwm's debug log.
//
// Environment: FNWM_BIN (default build/master/fnwm), FNWM_SANITIZED=ON
// (stretches deadlines), FNWM_CHROMIUM (default /usr/bin/chromium),
// FNWM_UI_KEEP=1 (keep the tmp dir after a pass). On failure the tmp dir is
// kept and holds failure.png, browser.log, ws-frames.log and fnwm.log.
// Exit status: 0 pass, 1 fail.


import fs from "node:fs";
import http from "node:http";
import crypto from "node:crypto";
import os from "node:os";
import path from "node:path";

import {
  CHROMIUM, CHROMIUM_ARGS, Failure, FNWM_BIN, HERE, Manager, PYTHON,
  SANITIZED, T, WORKER_PYTHONPATH, check, ensureNodeModules,
  abortWhy, fail, freePort, pidAlive, processesOf, readText, say, setAbort,
  waitFor,
  recordedPage,
} from "./lib.mjs";

const OVERALL_DEADLINE_S = 540; // below CTest's TIMEOUT 600
const REQUIRE_TOKEN = process.env.FNWM_UI_REQUIRE_TOKEN === "1";

const SEED_UUID = "ui-seed_0123456789abcdef";
const SEED_NAME = "UI Seed Worker";
const NEW_NAME = "UI Browser Worker";
// §2.1: slug(name) cut to 16 characters, "_", 16 hex digits
const NEW_UUID_RE = /^ui-browser-worke_[0-9a-f]{16}$/;


async function buildPage(outDir) {
  const { build } = await import("vite");
  await build({
    configFile: path.join(HERE, "vite.config.mjs"),
    logLevel: "warn",
    build: { outDir, emptyOutDir: true },
  });
  check(fs.existsSync(path.join(outDir, "index.html")), "vite built no index.html");
}

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
};

/** A static file server for root on 127.0.0.1:<free port>. */
function serveStatic(root) {
  const server = http.createServer((req, res) => {
    let rel;
    try {
      rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (rel.endsWith("/")) rel += "index.html";
    const file = path.join(root, path.normalize(rel));
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found");
        return;
      }
      res.writeHead(200, {
        "content-type": MIME[path.extname(file)] || "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(data);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}



function writeSeedWorker(workersDir, port) {
  const cfg = {
    type: "WSWorker",
    uuid: SEED_UUID,
    name: SEED_NAME,
    data_path: null,
    env_path: null,
    worker_dependencies: {},
    package_dependencies: {},
    pid: null,
    update_on_startup: {
      funcnodes: true,
      "funcnodes-core": true,
      "funcnodes-worker": true,
    },
    host: "localhost",
    port,
    ssl: false,
  };
  fs.writeFileSync(
    path.join(workersDir, `worker_${SEED_UUID}.json`),
    JSON.stringify(cfg, null, 2)
  );
}


// ---------------------------------------------------------------------------
// the scenario

/** Runs a UI step; a playwright error becomes a Failure saying what. */
async function ui(what, fn) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof Failure) throw e;
    const why = abortWhy();
    fail(`UI step failed: ${what}${why ? ` (${why})` : ""}: ${String(e.message || e).split("\n")[0]}`);
  }
}

async function openWorkerMenu(page) {
  const button = page.getByRole("button", { name: "Worker", exact: true });
  await button.waitFor({ state: "visible", timeout: T(30) });
  await button.click();
  await page.getByRole("menu").first().waitFor({ state: "visible", timeout: T(10) });
}

async function closeMenus(page) {
  for (let i = 0; i < 3 && (await page.getByRole("menu").count()) > 0; i++)
    await page.keyboard.press("Escape");
  await page.getByRole("menu").first().waitFor({ state: "hidden", timeout: T(10) });
}

/** Opens Worker > Select and waits for the entry named name. */
async function openSelectAndFind(page, name, timeoutMs) {
  await openWorkerMenu(page);
  const select = page.getByRole("menuitem", { name: "Select", exact: true });
  await select.waitFor({ state: "visible", timeout: T(20) });
  await select.click();
  const item = page.getByRole("menuitemradio", { name, exact: true });
  await item.waitFor({ state: "visible", timeout: timeoutMs });
  return item;
}

async function scenario(ctx) {
  const { page, rec, mgr, cfgDir } = ctx;
  const workersDir = path.join(cfgDir, "workers");
  const mgrUrl = ctx.token
    ? `ws://127.0.0.1:${mgr.port}/?token=${ctx.token}`
    : `ws://127.0.0.1:${mgr.port}/`;
  const mgrPrefix = `ws://127.0.0.1:${mgr.port}`;
  const sentToMgr = () => rec.frames(mgrPrefix, "sent");
  const fromMgr = () => rec.frames(mgrPrefix, "received");

  // 1. the UI finds the manager and lists the existing worker
  const pageUrl = `http://127.0.0.1:${ctx.httpPort}/index.html?worker_manager_url=${encodeURIComponent(mgrUrl)}`;
  say("open", pageUrl);
  await ui("load the page", () => page.goto(pageUrl, { waitUntil: "load", timeout: T(30) }));
  await waitFor(() => sentToMgr().some((f) => f.text === "worker_status"),
    T(30), `the UI to send worker_status to ${mgrUrl}`);
  const status = await waitFor(
    () => fromMgr().find((f) => f.json?.type === "worker_status"),
    T(15), "a worker_status reply");
  check(Array.isArray(status.json.active) && Array.isArray(status.json.inactive),
    `worker_status without active/inactive arrays: ${status.text}`);
  check(status.json.inactive.some((w) => w.uuid === SEED_UUID),
    `the seed worker is not inactive in ${status.text}`);
  say("UI sent worker_status; reply lists", SEED_UUID);

  await ui(`Worker > Select lists "${SEED_NAME}"`,
    () => openSelectAndFind(page, SEED_NAME, T(20)));
  say(`Worker > Select lists "${SEED_NAME}"`);
  await ui("close the menu", () => closeMenus(page));

  // 2. create a worker through the "New" dialog
  const dialog = page.getByRole("dialog", { name: "New Worker" });
  await ui('open the "New Worker" dialog from Worker > New', async () => {
    await openWorkerMenu(page);
    await page.getByRole("menuitem", { name: "New", exact: true }).click();
    await dialog.waitFor({ state: "visible", timeout: T(10) });
  });
  await ui("fill in and submit the dialog", async () => {
    await dialog.getByRole("textbox").fill(NEW_NAME);
    const venv = dialog.getByLabel("Create in new virtual environment");
    check(await venv.isChecked(), 'the "Create in new virtual environment" box is not checked by default');
    await venv.uncheck();
    check(!(await venv.isChecked()), "could not uncheck the venv box");
    await dialog.getByRole("button", { name: "Create", exact: true }).click();
    await dialog.waitFor({ state: "hidden", timeout: T(10) });
  });
  say(`"New" dialog submitted (name "${NEW_NAME}", no venv)`);

  const nw = await waitFor(() => sentToMgr().find((f) => f.json?.type === "new_worker"),
    T(10), "the UI to send new_worker");
  const kw = nw.json.kwargs || {};
  check(kw.name === NEW_NAME && kw.in_venv === false && kw.copyLib === false && kw.copyNS === false,
    `unexpected new_worker frame: ${nw.text}`);
  const created = await waitFor(() => fromMgr().find((f) => f.json?.type === "worker_created"),
    T(30), "worker_created from fnwm");
  const uuid = created.json.uuid;
  check(typeof uuid === "string" && NEW_UUID_RE.test(uuid),
    `worker_created uuid ${JSON.stringify(uuid)} does not match ${NEW_UUID_RE}`);
  say("fnwm answered", created.text);

  const jsonPath = path.join(workersDir, `worker_${uuid}.json`);
  const onDisk = JSON.parse(await waitFor(() => readText(jsonPath), T(10), jsonPath));
  check(onDisk.uuid === uuid && onDisk.type === "WSWorker" && onDisk.name === NEW_NAME,
    `${jsonPath} has the wrong type/uuid/name: ${JSON.stringify(onDisk)}`);
  check(onDisk.env_path === null, `env_path is ${JSON.stringify(onDisk.env_path)}, expected null (in_venv false)`);
  check(typeof onDisk.host === "string" && Number.isInteger(onDisk.port) && onDisk.ssl === false,
    `${jsonPath} lacks host/port/ssl: ${JSON.stringify(onDisk)}`);
  say("on disk:", path.basename(jsonPath), JSON.stringify(onDisk));

  const item = await ui(`Worker > Select lists the new "${NEW_NAME}"`,
    () => openSelectAndFind(page, NEW_NAME, T(30)));
  check(fromMgr().some((f) => f.json?.type === "worker_status" &&
    [...f.json.inactive, ...f.json.active].some((w) => w.uuid === uuid)),
    "the UI lists the new worker but no worker_status frame named it");
  say(`Worker > Select lists "${NEW_NAME}"`);

  // 3. select it: set_active, set_worker, the browser connects to the worker
  await ui(`select "${NEW_NAME}"`, () => item.click());
  const sa = await waitFor(() => sentToMgr().find((f) => f.json?.type === "set_active"),
    T(10), "the UI to send set_active");
  check(sa.json.workerid === uuid, `set_active for the wrong worker: ${sa.text}`);
  check(ctx.dialogs.some((d) => d.type === "confirm" && /inactive worker/.test(d.message)),
    `no "inactive worker" confirmation was shown (dialogs: ${JSON.stringify(ctx.dialogs)})`);
  say("UI sent", sa.text);

  const sw = await waitFor(() => fromMgr().find((f) => f.json?.type === "set_worker"),
    T(90), "set_worker from fnwm");
  const data = sw.json.data || {};
  check(data.type === "WSWorker" && data.uuid === uuid && typeof data.host === "string" &&
    Number.isInteger(data.port) && data.ssl === false,
    `unusable set_worker: ${sw.text}`);
  say("fnwm sent set_worker for", `${data.host}:${data.port}`);

  const pText = readText(path.join(workersDir, `worker_${uuid}.p`)).trim();
  const wpid = Number(pText);
  check(/^\d+$/.test(pText) && pidAlive(wpid), `worker_${uuid}.p is ${JSON.stringify(pText)}, not a live pid`);
  const cmdline = readText(`/proc/${wpid}/cmdline`).split("\0");
  check(cmdline.includes("funcnodes") && cmdline.includes(uuid) && cmdline.includes("start"),
    `pid ${wpid} from the .p file is not the worker: ${JSON.stringify(cmdline)}`);
  say(`worker process ${wpid}:`, cmdline.join(" ").trim());

  const workerPrefix = `ws://${data.host}:${data.port}`;
  // (the UI pings first and sends its first command after the pong)
  const browserCmds = () => rec.frames(workerPrefix, "sent")
    .map((f) => f.json?.cmd).filter((c) => typeof c === "string" && c !== "uuid");
  const cmds = await waitFor(() => browserCmds().length > 0 && browserCmds(),
    T(30), `the browser to open a WebSocket to ${workerPrefix} and send a worker command on it`);
  say(`browser WebSocket ${rec.to(workerPrefix)[0].url} sent:`, [...new Set(cmds)].join(", "));

  // the worker's side: its log (stdout/stderr, captured by fnwm) names a
  // command that only the browser sent
  const wlog = path.join(workersDir, `worker_${uuid}`, "worker.log");
  const seen = await waitFor(() => {
    const text = readText(wlog);
    return cmds.find((c) => text.includes(`"cmd": "${c}"`) || text.includes(`command '${c}'`));
  }, T(15), `${wlog} to show a command the browser sent (${cmds.join(", ")})`);
  say(`worker log shows the browser's "${seen}" command`);
}

// ---------------------------------------------------------------------------

// The status of a WebSocket upgrade request without credentials.
function upgradeStatus(port) {
  return new Promise((resolve, reject) => {
    const req = http.get({
      host: "127.0.0.1", port, path: "/", headers: {
        Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": crypto.randomBytes(16).toString("base64"),
      },
    }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on("upgrade", (res, sock) => { sock.destroy(); resolve(101); });
    req.on("error", reject);
    req.setTimeout(T(10), () => req.destroy(new Error("no answer")));
  });
}

async function main() {
  const major = process.versions.node.split(".").map(Number);
  check(major[0] >= 18,
    `node ${process.versions.node} is too old for vite 6 / playwright-core 1.61 (needs >= 18)`);
  check(fs.existsSync(FNWM_BIN), `FNWM_BIN ${FNWM_BIN} does not exist (build fnwm first)`);
  check(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install chromium)`);
  check(fs.existsSync(PYTHON), `${PYTHON} is missing`);

  ensureNodeModules();
  const { chromium } = await import("playwright-core");

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fnwm-ui-"));
  say("tmp dir", tmp);
  const www = path.join(tmp, "www");
  const cfgDir = path.join(tmp, "cfg");
  fs.mkdirSync(path.join(cfgDir, "workers"), { recursive: true });

  const ctx = { tmp, cfgDir, dialogs: [], consoleLines: [] };
  let server = null, browser = null, mgr = null, ok = false;
  const problems = [];
  const watchdog = setTimeout(() => {
    console.error(`FAIL: overall deadline of ${OVERALL_DEADLINE_S}s exceeded; tmp dir ${tmp}`);
    try {
      mgr?.proc.kill("SIGKILL");
      for (const p of processesOf(cfgDir)) process.kill(p.pid, "SIGKILL");
    } catch {}
    process.exit(1);
  }, OVERALL_DEADLINE_S * 1000);

  try {
    await buildPage(www);
    say("page built by vite into", www);
    server = await serveStatic(www);
    ctx.httpPort = server.address().port;

    const startPort = await freePort();
    const env = { ...process.env };
    for (const k of ["FUNCNODES_HOST", "FUNCNODES_CONFIG_DIR", "FUNCNODES_WORKER_IN_VENV",
      "SUBPROCESS_MONITOR_PORT"]) delete env[k];
    env.PYTHONPATH = WORKER_PYTHONPATH + (env.PYTHONPATH ? path.delimiter + env.PYTHONPATH : "");
    env.FUNCNODES_WS_WORKER_STARTPORT = String(startPort);
    env.FUNCNODES_WS_WORKER_ENDPORT = String(Math.min(65535, startPort + 100));
    if (SANITIZED) {
      env.ASAN_OPTIONS ??= "detect_leaks=1:abort_on_error=0";
      env.UBSAN_OPTIONS ??= "print_stacktrace=1";
    }
    writeSeedWorker(path.join(cfgDir, "workers"), startPort);
    if (REQUIRE_TOKEN)
      fs.writeFileSync(path.join(cfgDir, "config.json"),
        JSON.stringify({ fnwm: { require_token: true } }));
    mgr = ctx.mgr = new Manager(cfgDir, path.join(tmp, "fnwm.log"), env);
    await mgr.waitListening();
    if (REQUIRE_TOKEN) {
      ctx.token = readText(path.join(cfgDir, "fnwm.token")).trim();
      const refused = await upgradeStatus(mgr.port);
      check(refused === 401, `a handshake without the token got ${refused}, not 401`);
      say("require_token: a handshake without the token gets 401");
    }
    setAbort(() => mgr.exit &&
      `fnwm exited unexpectedly (${JSON.stringify(mgr.exit)}; see fnwm.log)`);
    say(`fnwm (pid ${mgr.proc.pid}) listening on port ${mgr.port}; worker ports from ${startPort}`);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      timeout: T(60),
    });
    say("chromium", browser.version());
    const page = await recordedPage(browser, ctx);
    page.on("dialog", (d) => {
      ctx.dialogs.push({ type: d.type(), message: d.message() });
      ctx.consoleLines.push(`[dialog ${d.type()}] ${d.message()} -> accept`);
      d.accept().catch(() => {});
    });

    await scenario(ctx);
    if (ctx.token)
      check(!mgr.log().includes(ctx.token), "the token appears in fnwm.log");
    ok = true;
  } catch (e) {
    console.error(`FAIL: ${e instanceof Failure ? e.message : e.stack || e}`);
    if (ctx.page) {
      const shot = path.join(tmp, "failure.png");
      try {
        await ctx.page.screenshot({ path: shot, fullPage: true, timeout: 15000 });
        console.error("screenshot:", shot);
      } catch (se) {
        console.error("no screenshot:", se.message);
      }
    }
  } finally {
    if (ctx.rec) fs.writeFileSync(path.join(tmp, "ws-frames.log"), ctx.rec.dump());
    fs.writeFileSync(path.join(tmp, "browser.log"), ctx.consoleLines.join("\n") + "\n");
    if (browser) await browser.close().catch(() => {});
    if (server) server.close();
    if (mgr) {
      setAbort(() => null);
      problems.push(...(await mgr.stop()));
      for (const p of problems) console.error("FAIL:", p);
    }
    clearTimeout(watchdog);
  }

  if (ok && problems.length === 0) {
    say("PASS");
    if (process.env.FNWM_UI_KEEP === "1") console.log("kept", tmp);
    else fs.rmSync(tmp, { recursive: true, force: true });
    return 0;
  }
  console.error(`--- fnwm.log (tail) ---\n${readText(path.join(tmp, "fnwm.log")).slice(-6000)}`);
  console.error(`--- browser console (tail) ---\n${ctx.consoleLines.slice(-40).join("\n")}`);
  if (ctx.rec) console.error(`--- WebSocket frames (tail) ---\n${ctx.rec.dump().slice(-6000)}`);
  console.error(`FAIL: artefacts kept in ${tmp}`);
  return 1;
}

main().then(
  (rc) => process.exit(rc),
  (e) => {
    console.error(`FAIL: ${e instanceof Failure ? e.message : e.stack || e}`);
    process.exit(1);
  }
);
