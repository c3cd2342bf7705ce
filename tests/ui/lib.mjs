// SPDX-License-Identifier: MIT
//
// What the browser tests share: deadlines, waiting, fnwm started and
// stopped with its leftovers checked, node_modules, the WebSocket
// recorder. Used by ui.test.mjs and dashboard.test.mjs.

import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, "..", "..");
export const FNWM_BIN = path.resolve(
  process.env.FNWM_BIN || path.join(REPO, "build", "master", "fnwm")
);
export const SANITIZED = ["ON", "1", "TRUE", "YES"].includes(
  (process.env.FNWM_SANITIZED || "OFF").trim().toUpperCase()
);
export const SLOW = SANITIZED ? 3 : 1;
export const PYTHON = "/usr/bin/python3";
export const CHROMIUM = process.env.FNWM_CHROMIUM || "/usr/bin/chromium";
export const WORKER_PYTHONPATH = path.join(REPO, "tests", "worker");
export const SANITIZER_MARKERS = ["AddressSanitizer", "runtime error:", "LeakSanitizer"];
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
  "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];

export const T = (seconds) => Math.round(seconds * 1000 * SLOW);

const t0 = Date.now();
export function say(...args) {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  console.log(`[${s}s]`, ...args);
}

export class Failure extends Error {}
export function fail(msg) {
  throw new Failure(msg);
}
export function check(cond, msg) {
  if (!cond) fail(msg);
}

// Set while fnwm runs: returns a reason to stop waiting (fnwm is gone).
let abortReason = () => null;
export function setAbort(fn) {
  abortReason = fn;
}
export const abortWhy = () => abortReason();

/** Polls cond() (may be async) until truthy; returns that value. */
export async function waitFor(cond, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    const why = abortReason();
    if (why) fail(`${why} while waiting for ${what}`);
    if (Date.now() >= deadline)
      fail(`timed out after ${(timeoutMs / 1000).toFixed(1)}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function readText(p) {
  try {
    return fs.readFileSync(p, "utf8");
  } catch {
    return "";
  }
}

export function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

export function ensureNodeModules() {
  const lock = fs.readFileSync(path.join(HERE, "package-lock.json"));
  const want = crypto.createHash("sha256").update(lock).digest("hex");
  const stamp = path.join(HERE, "node_modules", ".fnwm-ui-lock.sha256");
  if (readText(stamp).trim() === want) return;
  say("node_modules missing or stale: npm ci");
  const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], {
    cwd: HERE,
    stdio: "inherit",
    timeout: 300_000,
  });
  if (r.error) fail(`npm ci could not run: ${r.error.message}`);
  if (r.status !== 0) fail(`npm ci failed with status ${r.status}`);
  fs.writeFileSync(stamp, want + "\n");
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const LISTEN_RE = /listening on ws:\/\/127\.0\.0\.1:(\d+)\//;

export class Manager {
  constructor(cfgDir, logPath, env) {
    this.cfgDir = cfgDir;
    this.workersDir = path.join(cfgDir, "workers");
    this.logPath = logPath;
    const fd = fs.openSync(logPath, "w");
    this.proc = spawn(
      FNWM_BIN,
      ["--debug", "startworkermanager", "--dir", cfgDir, "--port", "0",
        "--python", PYTHON],
      { env, stdio: ["ignore", fd, fd] }
    );
    fs.closeSync(fd);
    this.exit = null;
    this.exited = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.proc.on("error", (e) => {
        this.exit = { code: null, signal: null, error: e };
        resolve(this.exit);
      });
    });
  }

  log() {
    return readText(this.logPath);
  }

  async waitListening() {
    const m = await waitFor(() => {
      const mm = LISTEN_RE.exec(this.log());
      if (mm) return mm;
      if (this.exit)
        fail(`fnwm exited (${JSON.stringify(this.exit)}) before listening:\n${this.log()}`);
      return null;
    }, T(15), "fnwm's 'listening on ws://127.0.0.1:PORT/' line");
    this.port = Number(m[1]);
    return this.port;
  }

  /** SIGTERM, wait; SIGKILL if ignored. Returns a list of problems. */
  async stop() {
    const problems = [];
    const diedEarly = this.exit !== null;
    if (diedEarly) problems.push(`fnwm exited by itself: ${JSON.stringify(this.exit)}`);
    if (!this.exit) {
      this.proc.kill("SIGTERM");
      const r = await Promise.race([
        this.exited,
        new Promise((res) => setTimeout(() => res(null), T(40))),
      ]);
      if (!r) {
        problems.push(`fnwm (pid ${this.proc.pid}) did not exit within ${T(40) / 1000}s of SIGTERM`);
        this.proc.kill("SIGKILL");
        await this.exited;
      } else if (r.code !== 0) {
        problems.push(`fnwm exited with ${JSON.stringify(r)} on SIGTERM`);
      }
    }
    // A clean shutdown stops every monitor and worker; after a crash they
    // live on (by design) and are ended here.
    const left = await leftovers(this.cfgDir, diedEarly ? 0 : T(5));
    if (left.length) {
      if (!diedEarly)
        problems.push("processes left behind after fnwm's shutdown:\n  " +
          left.map((p) => `${p.pid} ${p.args}`).join("\n  "));
      await endProcesses(left);
    }
    const text = this.log();
    for (const marker of SANITIZER_MARKERS) {
      if (text.includes(marker)) {
        problems.push(`sanitizer report (${marker}) in fnwm's stderr`);
        break;
      }
    }
    return problems;
  }

}

/** Live processes (monitors, workers) whose command line names cfgDir. */
export function processesOf(cfgDir) {
  const out = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    const args = readText(`/proc/${d}/cmdline`).split("\0").join(" ").trim();
    const stat = readText(`/proc/${d}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (args.includes(cfgDir) && state !== "Z") out.push({ pid: Number(d), args });
  }
  return out;
}

/** Waits up to graceMs for them to go; returns those still there. */
export async function leftovers(cfgDir, graceMs) {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = processesOf(cfgDir);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM (a monitor then stops its worker), then SIGKILL; by pid. */
export async function endProcesses(procs) {
  for (const p of procs) {
    try {
      process.kill(p.pid, "SIGTERM");
    } catch {}
  }
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && procs.some((p) => pidAlive(p.pid)))
    await new Promise((r) => setTimeout(r, 100));
  for (const p of procs) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {}
  }
}

// ---------------------------------------------------------------------------
// browser-side recording

/** Records every WebSocket of the page with its frames. */
export class WsRecorder {
  constructor(page) {
    this.sockets = [];
    page.on("websocket", (ws) => {
      const rec = { url: ws.url(), sent: [], received: [], closed: false, errors: [], t: Date.now() - t0 };
      this.sockets.push(rec);
      ws.on("framesent", (f) => rec.sent.push(String(f.payload)));
      ws.on("framereceived", (f) => rec.received.push(String(f.payload)));
      ws.on("socketerror", (e) => rec.errors.push(String(e)));
      ws.on("close", () => (rec.closed = true));
    });
  }

  to(prefix) {
    return this.sockets.filter((s) => s.url.startsWith(prefix));
  }

  /** All frames of the sockets to prefix, parsed where they are JSON. */
  frames(prefix, dir) {
    const out = [];
    for (const s of this.to(prefix))
      for (const f of s[dir]) {
        let j = null;
        try {
          j = JSON.parse(f);
        } catch {}
        out.push({ text: f, json: j });
      }
    return out;
  }

  dump() {
    const lines = [];
    for (const s of this.sockets) {
      lines.push(`== ${s.url} (opened at ${(s.t / 1000).toFixed(1)}s, closed=${s.closed}, errors=${JSON.stringify(s.errors)})`);
      for (const f of s.sent) lines.push(`  -> ${f.slice(0, 2000)}`);
      for (const f of s.received) lines.push(`  <- ${f.slice(0, 2000)}`);
    }
    return lines.join("\n") + "\n";
  }
}

/*
 * A page in a new browser context whose WebSocket frames ctx.rec records
 * and whose console lines and page errors go to ctx.consoleLines.
 */
export async function recordedPage(browser, ctx) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  context.setDefaultTimeout(T(20));
  const page = ctx.page = await context.newPage();
  ctx.rec = new WsRecorder(page);
  page.on("console", (m) => ctx.consoleLines.push(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => ctx.consoleLines.push(`[pageerror] ${e.stack || e}`));
  return page;
}
