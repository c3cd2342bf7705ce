#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Supervision figures of fnwm (prints them; asserts nothing):

  * kill -9 of a healthy worker -> its new pid (the monitor's own
    overhead: read from /proc while it happens), and -> the worker_event
    broadcast that shows the restart (at a WebSocket client); 50 kills;
  * set_active -> set_worker, minus the worker's own start time;
  * PSS of one monitor (/proc/PID/smaps_rollup) and its wakeups while idle
    (context switches over 30 s);
  * total PSS of the master plus its monitors with 100 active workers.

usage: bench/supervise.py [--fnwm PATH] [--kills N] [--workers N]
                          [--idle-seconds S]
"""
import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORKER_TREE = os.path.join(REPO, "tests", "worker")


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def pss_kib(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def ctxt(pid):
    n = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if "ctxt_switches" in line:
                n += int(line.split()[1])
    return n


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Manager:
    def __init__(self, fnwm, tmp, config):
        self.dir = os.path.join(tmp, "cfg")
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "config.json"), "w") as f:
            json.dump(config, f)
        self.log = os.path.join(tmp, "fnwm.log")
        start = 20000 + (os.getpid() * 7) % 30000
        env = dict(os.environ, PYTHONPATH=WORKER_TREE,
                   FUNCNODES_WS_WORKER_STARTPORT=str(start),
                   FUNCNODES_WS_WORKER_ENDPORT=str(start + 2000))
        self.proc = subprocess.Popen(
            [fnwm, "startworkermanager", "--dir", self.dir, "--port", "0",
             "--python", "/usr/bin/python3"],
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = re.search(r"listening on ws://127\.0\.0\.1:(\d+)/",
                          open(self.log).read())
            if m:
                self.url = "ws://127.0.0.1:%s/" % m.group(1)
                return
            time.sleep(0.02)
        raise SystemExit("manager did not start:\n" + open(self.log).read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


async def recv_until(ws, pred, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        raw = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
        msg = json.loads(raw) if raw.startswith("{") else raw
        if pred(msg):
            return msg


async def create_and_start(ws, name):
    await ws.send(json.dumps({"type": "new_worker",
                              "kwargs": {"name": name, "in_venv": False}}))
    uuid = (await recv_until(ws, lambda m: isinstance(m, dict) and
                             m.get("type") == "worker_created"))["uuid"]
    t0 = time.monotonic()
    await ws.send(json.dumps({"type": "set_active", "workerid": uuid}))
    sw = await recv_until(ws, lambda m: isinstance(m, dict) and
                          m.get("type") in ("set_worker", "error"), 120)
    if sw["type"] != "set_worker":
        raise SystemExit("could not start a worker: %s" % sw)
    return uuid, sw["data"]["pid"], time.monotonic() - t0


async def details(ws):
    await ws.send("worker_details")
    d = await recv_until(ws, lambda m: isinstance(m, dict) and
                         m.get("type") == "worker_details")
    return {w["uuid"]: w for w in d["workers"]}


def own_start_time(tmp, n=5):
    """The worker double's own start: exec to answering on its port."""
    times = []
    cfg = os.path.join(tmp, "own")
    os.makedirs(os.path.join(cfg, "workers"))
    for i in range(n):
        port = free_port()
        uuid = "own%d" % i
        with open(os.path.join(cfg, "workers", "worker_%s.json" % uuid),
                  "w") as f:
            json.dump({"type": "WSWorker", "uuid": uuid, "host": "127.0.0.1",
                       "port": port}, f)
        env = dict(os.environ, PYTHONPATH=WORKER_TREE)
        t0 = time.monotonic()
        p = subprocess.Popen(["/usr/bin/python3", "-m", "funcnodes", "--dir",
                              cfg, "worker", "--uuid", uuid, "start"],
                             env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)

        async def answered():
            while True:
                try:
                    async with websockets.connect(
                            "ws://127.0.0.1:%d/" % port, compression=None,
                            ping_interval=None, open_timeout=1) as w:
                        await w.send('{"type": "cmd", "cmd": "uuid"}')
                        await recv_until(w, lambda m: isinstance(m, dict) and
                                         m.get("type") == "result")
                        return
                except (OSError, asyncio.TimeoutError,
                        websockets.exceptions.InvalidHandshake):
                    await asyncio.sleep(0.005)
        asyncio.run(answered())
        times.append(time.monotonic() - t0)
        p.kill()
        p.wait()
        os.unlink(os.path.join(cfg, "workers", "worker_%s.p" % uuid))
    return statistics.median(times)


async def kills(mgr, n):
    async with websockets.connect(mgr.url, compression=None,
                                  ping_interval=None, max_size=None) as ws:
        uuid, pid, _ = await create_and_start(ws, "killme")
        mon = (await details(ws))[uuid]["monitor_pid"]
        to_pid, to_event = [], []
        for i in range(n):
            # Healthy first (healthy_after is 0.5 s): restarts are at once.
            if i > 0 or (await details(ws))[uuid]["state"] != "running":
                await recv_until(ws, lambda m: isinstance(m, dict) and
                                 m.get("type") == "worker_event" and
                                 m["uuid"] == uuid and
                                 m["state"] == "running", 30)
            t0 = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            # Busy-read the monitor's children: the fork, as it happens.
            while True:
                kids = [c for c in children(mon) if c != pid]
                if kids:
                    break
            to_pid.append(time.monotonic() - t0)
            ev = await recv_until(ws, lambda m: isinstance(m, dict) and
                                  m.get("type") == "worker_event" and
                                  m["uuid"] == uuid and
                                  m["state"] == "starting" and
                                  m["pid"] not in (None, pid))
            to_event.append(time.monotonic() - t0)
            pid = ev["pid"]
        return to_pid, to_event


async def many(mgr, n, idle):
    async with websockets.connect(mgr.url, compression=None,
                                  ping_interval=None, max_size=None) as ws:
        overheads = []
        for i in range(n):
            _, _, t = await create_and_start(ws, "w%d" % i)
            overheads.append(t)
        d = await details(ws)
        mons = [w["monitor_pid"] for w in d.values()]
        pss = [pss_kib(p) for p in mons]
        master = pss_kib(mgr.proc.pid)
        c0 = {p: ctxt(p) for p in mons[:5]}
        m0 = ctxt(mgr.proc.pid)
        await asyncio.sleep(idle)
        wake = [ctxt(p) - c0[p] for p in c0]
        mwake = ctxt(mgr.proc.pid) - m0
        return overheads, pss, master, wake, mwake


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fnwm", default=None)
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--workers", type=int, default=100)
    ap.add_argument("--idle-seconds", type=float, default=30)
    a = ap.parse_args()
    fnwm = a.fnwm or next(p for p in (
        os.path.join(REPO, "build-rel", "master", "fnwm"),
        os.path.join(REPO, "build", "master", "fnwm")) if os.path.exists(p))
    print("machine: %d cpus, %s" % (os.cpu_count(), os.uname().release))
    print("fnwm: %s (%s)" % (subprocess.run([fnwm, "--version"],
          stdout=subprocess.PIPE, text=True).stdout.strip(), fnwm))
    config = {"fnwm": {"stop_timeout": 2, "kill_timeout": 1,
                       "restart_policy": {"healthy_after": 0.5,
                                          "giveup_count": 0}}}
    tmp = tempfile.mkdtemp(prefix="fnwm-bench-sup-")
    try:
        own = own_start_time(tmp)
        os.makedirs(os.path.join(tmp, "a"))
        mgr = Manager(fnwm, os.path.join(tmp, "a"), config)
        try:
            to_pid, to_event = asyncio.run(kills(mgr, a.kills))
        finally:
            mgr.stop()
        ms = lambda v: v * 1000
        cost = [float(x) for x in re.findall(
            r"worker started, pid \d+, ([0-9.]+) ms after the last one exited",
            open(mgr.log).read())]
        if cost:
            print("monitor's own cost, worker exit -> new fork (its log): "
                  "median %.3f ms, p99 %.3f ms, n=%d (target about 1 ms)"
                  % (statistics.median(cost), pct(cost, 99), len(cost)))
        print("kill -9 -> new pid (incl. the kernel tearing the old "
              "worker down): median %.2f ms, p99 %.2f ms "
              "(target <= 2 ms median; runit 2.0, supervisord 5.9, s6 1000)"
              % (ms(statistics.median(to_pid)), ms(pct(to_pid, 99))))
        print("kill -9 -> worker_event broadcast at a client: median %.2f ms,"
              " p99 %.2f ms (target p99 <= 10 ms; Python manager 1-10 s)"
              % (ms(statistics.median(to_event)), ms(pct(to_event, 99))))
        os.makedirs(os.path.join(tmp, "b"))
        mgr = Manager(fnwm, os.path.join(tmp, "b"), config)
        try:
            overheads, pss, master, wake, mwake = asyncio.run(
                many(mgr, a.workers, a.idle_seconds))
        finally:
            mgr.stop()
        print("worker's own start (exec -> answering): median %.1f ms"
              % ms(own))
        print("set_active -> set_worker: median %.1f ms, i.e. %.1f ms beyond"
              " the worker's own start (target <= 20 ms)"
              % (ms(statistics.median(overheads)),
                 ms(statistics.median(overheads) - own)))
        print("monitor PSS: median %d KiB, max %d KiB (target <= 100 KiB;"
              " runsv 98, s6-supervise 130)"
              % (statistics.median(pss), max(pss)))
        print("monitor wakeups (context switches) over %.0f s idle: %s "
              "(target 0)" % (a.idle_seconds, wake))
        print("master context switches over %.0f s idle with %d workers: %d"
              % (a.idle_seconds, len(pss), mwake))
        print("total PSS, master + %d monitors: %.1f MiB (master %.1f MiB)"
              % (len(pss), (master + sum(pss)) / 1024.0, master / 1024.0))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
