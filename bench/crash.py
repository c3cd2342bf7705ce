#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
Crash-recovery benchmark of fnwm: how fast the master's supervision comes
back after a SIGKILL.

Starts its own master on a private temporary config dir with 100 live
workers (new_worker with in_venv false, then set_active; the workers are
the stdlib FuncNodes double of tests/worker, started quickly through its
FNWM_TEST_* switches), measures, stops everything and removes the dir.

  1. master SIGKILL -> a new master (same dir and port) has re-adopted all
     100 workers: worker_details lists every one as running/starting with a
     monitor_pid and the same worker pid as before. Reported in total (from
     the kill) and the part after the new master logged `listening on`;
     repeated --master-runs times.
  2. monitor SIGKILL -> re-adoption: the master sees its monitor die,
     starts a new one, which adopts the running worker; measured until
     worker_details shows a new monitor_pid with the same worker pid.
     Median and p99 over --monitor-runs kills (a random worker each).

worker_details is polled over one WebSocket connection, back to back, so a
figure is the time of the first reply that shows the state (the poll
itself costs about 1 ms with 100 workers).

Needs /usr/bin/python3 with python3-websockets (10.x, asyncio API).
"""

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fault"))

import websockets  # noqa: E402

import faultlib as fl  # noqa: E402


def find_fnwm(explicit):
    if explicit:
        return os.path.abspath(explicit)
    if os.environ.get("FNWM_BIN"):
        return os.path.abspath(os.environ["FNWM_BIN"])
    for cand in (os.path.join(HERE, "..", "build-rel", "master", "fnwm"),
                 os.path.join(HERE, "..", "build", "master", "fnwm")):
        if os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    sys.exit("crash.py: no fnwm binary found; build it or pass --fnwm PATH")


def pct(vals, p):
    """Nearest-rank percentile."""
    s = sorted(vals)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def ms(x):
    return "%.1f ms" % (x * 1000)


class Poller:
    """worker_details over one connection, back to back."""

    def __init__(self, port):
        self.port = port
        self.ws = None

    async def details(self, timeout=10):
        for _ in range(2):
            try:
                if self.ws is None:
                    self.ws = await fl.ws_connect(self.port, timeout)
                await self.ws.send("worker_details")
                while True:
                    frame = await asyncio.wait_for(self.ws.recv(), timeout)
                    if isinstance(frame, str) and \
                            '"worker_details"' in frame[:40]:
                        return {e["uuid"]: e
                                for e in json.loads(frame)["workers"]}
            except (OSError, asyncio.TimeoutError,
                    websockets.exceptions.WebSocketException):
                await self.close()
        raise RuntimeError("no worker_details reply")

    async def close(self):
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 2)
            except Exception:
                pass
            self.ws = None


async def start_workers(fleet, n, parallel):
    uuids = []
    t = time.monotonic()
    for i in range(n):
        r = await fl.request(fleet.port, "new_worker",
                             kwargs={"name": "bench%03d" % i,
                                     "in_venv": False})
        if r.status != "ok":
            raise RuntimeError("new_worker: %r" % r)
        uuids.append(r.final["uuid"])
    sem = asyncio.Semaphore(parallel)

    async def activate(u):
        async with sem:
            r = await fl.request(fleet.port, "set_active", u, timeout=120)
            if r.status != "ok":
                raise RuntimeError("set_active %s: %r" % (u, r))
    await asyncio.gather(*(activate(u) for u in uuids))
    return uuids, time.monotonic() - t


def adopted(details, before):
    """Whether every worker of before (uuid -> pid) is listed as running or
    starting, with a monitor_pid and the same worker pid."""
    for u, pid in before.items():
        e = details.get(u)
        if e is None or e.get("state") not in ("running", "starting") or \
                not e.get("monitor_pid") or e.get("pid") != pid:
            return False
    return True


async def wait_all_running(poller, uuids, timeout):
    deadline = time.monotonic() + timeout
    while True:
        d = await poller.details()
        if all(d.get(u, {}).get("state") == "running" and
               d[u].get("monitor_pid") and d[u].get("pid") for u in uuids):
            return d
        if time.monotonic() > deadline:
            bad = {u: d.get(u) for u in uuids
                   if d.get(u, {}).get("state") != "running"}
            raise RuntimeError("not all running: %s" % fl.short(bad, 2000))
        await asyncio.sleep(0.05)


async def master_run(fleet, poller, uuids):
    d = await wait_all_running(poller, uuids, 60)
    before = {u: d[u]["pid"] for u in uuids}
    mons_before = {u: d[u]["monitor_pid"] for u in uuids}
    await poller.close()
    old = fleet.master
    t0 = time.monotonic()
    old.proc.send_signal(signal.SIGKILL)
    old.proc.wait()
    m = fleet.spawn_master()
    # the `listening on` line, polled every millisecond
    deadline = time.monotonic() + 20
    while not fl.LISTEN_RE.search(m.log()):
        if time.monotonic() > deadline or not m.alive():
            raise RuntimeError("new master did not listen:\n" + m.log())
        await asyncio.sleep(0.001)
    t_listen = time.monotonic()
    polls = 0
    while True:
        d = await poller.details()
        polls += 1
        if adopted(d, before):
            break
        if time.monotonic() - t0 > 60:
            raise RuntimeError("not re-adopted within 60 s: %s"
                               % fl.short(d, 3000))
    t_done = time.monotonic()
    same_monitors = sum(1 for u in uuids
                        if d[u]["monitor_pid"] == mons_before[u])
    return t_done - t0, t_listen - t0, t_done - t_listen, polls, \
        same_monitors


async def monitor_run(fleet, poller, uuids, rng):
    d = await wait_all_running(poller, uuids, 60)
    u = rng.choice(uuids)
    pid, mon = d[u]["pid"], d[u]["monitor_pid"]
    t0 = time.monotonic()
    os.kill(mon, signal.SIGKILL)
    while True:
        e = (await poller.details()).get(u, {})
        if e.get("monitor_pid") and e["monitor_pid"] != mon and \
                e.get("pid") == pid and \
                e.get("state") in ("running", "starting"):
            return time.monotonic() - t0
        if time.monotonic() - t0 > 30:
            raise RuntimeError("monitor of %s not replaced: %s" % (u, e))


async def run(args, fnwm):
    root = tempfile.mkdtemp(prefix="fnwm-crash-bench-")
    os.environ["FNWM_BIN"] = fnwm
    config = {"fnwm": {"stop_timeout": 2, "kill_timeout": 1,
                       "restart_policy": {"healthy_after": 1,
                                          "backoff_initial": 0.1,
                                          "backoff_max": 0.5,
                                          "giveup_count": 50,
                                          "giveup_window": 60}}}
    fl.FNWM_BIN = fnwm
    # quick start-up of the worker double; its .p rewritten every 30 s
    # (the default 5 s of 100 workers would be background noise)
    fleet = fl.Fleet(root, config=config,
                     worker_env={"FNWM_TEST_STARTUP_PAUSE": "0.01",
                                 "FNWM_TEST_SAVE_INTERVAL": "30"})
    poller = None
    rng = random.Random(args.seed)
    try:
        await fleet.start_master()
        uuids, took = await start_workers(fleet, args.workers, 8)
        print("%-58s %s" % ("%d workers started (new_worker + set_active)"
                            % args.workers, "%.1f s" % took), flush=True)
        poller = Poller(fleet.port)
        await wait_all_running(poller, uuids, 120)

        totals, afters, listens = [], [], []
        for i in range(args.master_runs):
            total, listen, after, polls, same = await master_run(
                fleet, poller, uuids)
            totals.append(total)
            afters.append(after)
            listens.append(listen)
            print("  master kill %d: %s total = %s to `listening on` + %s "
                  "after (%d polls; %d/%d monitors the same processes)"
                  % (i + 1, ms(total), ms(listen), ms(after), polls, same,
                     len(uuids)), flush=True)
        print("%-58s %s" % (
            "1. master SIGKILL -> %d workers re-adopted, total"
            % len(uuids), "median %s  (min %s, max %s)"
            % (ms(statistics.median(totals)), ms(min(totals)),
               ms(max(totals)))))
        print("%-58s %s" % (
            "   of which after the new master listens",
            "median %s  (min %s, max %s)"
            % (ms(statistics.median(afters)), ms(min(afters)),
               ms(max(afters)))), flush=True)

        times = []
        for i in range(args.monitor_runs):
            times.append(await monitor_run(fleet, poller, uuids, rng))
        print("%-58s %s" % (
            "2. monitor SIGKILL -> new monitor adopted the worker",
            "median %s  p99 %s  (min %s, max %s; n=%d)"
            % (ms(statistics.median(times)), ms(pct(times, 99)),
               ms(min(times)), ms(max(times)), len(times))), flush=True)
        print("   samples: %s" % " ".join("%.1f" % (t * 1000)
                                           for t in times))
        # the end: a clean stop of everything
        await poller.close()
        poller = None
        await fl.simple(fleet.port, "stop", lambda f: True, 10)
        fleet.master.proc.wait(60)
    finally:
        if poller is not None:
            await poller.close()
        left = fleet.cleanup()
        problems = fleet.sanitizer_problems()
        if left:
            print("processes survived SIGKILL: %s" % left)
        for p in problems:
            print(p)
        if args.keep:
            print("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--fnwm", help="fnwm binary (default: $FNWM_BIN, "
                    "build-rel/master/fnwm, build/master/fnwm)")
    ap.add_argument("--workers", type=int, default=100)
    ap.add_argument("--master-runs", type=int, default=5)
    ap.add_argument("--monitor-runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary config dir and logs")
    args = ap.parse_args()
    fnwm = find_fnwm(args.fnwm)
    version = subprocess.run([fnwm, "--version"], capture_output=True,
                             text=True).stdout.strip()
    print("fnwm crash-recovery benchmark")
    print("%-58s %s" % ("machine", "%d CPUs (nproc), %s, Linux %s"
                        % (os.cpu_count(), cpu_model(), platform.release())))
    print("%-58s %s" % ("fnwm", "%s (%s)" % (version, fnwm)))
    print("%-58s %s" % ("load average before", " ".join(
        open("/proc/loadavg").read().split()[:3])), flush=True)
    asyncio.run(run(args, fnwm))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


if __name__ == "__main__":
    main()
