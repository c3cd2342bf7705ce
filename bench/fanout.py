#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Broadcast fan-out of the fnwm master (prints figures; asserts nothing).

One worker, supervised by its monitor, is the tiny C worker of
bench/stampworker.c (started as the manager's "python", so that a restart
costs a fork and no interpreter). NCONN clients (bench/pingload.c watch,
one process, one connection each) are connected and subscribed. Then:

  1. single: one kill -9 of the worker makes its monitor restart it, and
     the master broadcasts one worker_event ("starting"): the time from the
     kill until the first and the last client have it, and the master's CPU
     for it (/proc/PID/schedstat), repeated --singles times;
  2. sustained: a kill every 0.2 s for --seconds; each makes two events
     (starting, then running after healthy_after = 0.05 s): ten state
     changes a second. Every client must get every event (none starved);
     the master's RSS/PSS is sampled every 10 s (flat or not), and the
     spread first -> last client per event is summarised.

usage: bench/fanout.py [--fnwm PATH] [--clients 1000] [--singles 10]
                       [--seconds 60]
"""
import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def cpu_ns(pid):
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def mem_kib(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and p[2] == "kB":
                out[p[0].rstrip(":")] = int(p[1])
    return out.get("Rss", 0), out.get("Pss", 0)


def build(tmp, name, extra=()):
    exe = os.path.join(tmp, name)
    src = os.path.join(HERE, name + ".c")
    r = subprocess.run(["cc", "-O2", "-o", exe, src, *extra])
    if r.returncode != 0:
        raise SystemExit("cannot build " + src)
    return exe


def read_stamps(path):
    try:
        with open(path) as f:
            return [tuple(int(x) for x in ln.split()) for ln in f
                    if ln.endswith("\n")]
    except FileNotFoundError:
        return []


def wait_stamps(path, n, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        st = read_stamps(path)
        if len(st) >= n:
            return st
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not start (%s)" % path)
        time.sleep(0.002)


class Manager:
    def __init__(self, fnwm, tmp, worker, stamps):
        self.dir = os.path.join(tmp, "cfg")
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "config.json"), "w") as f:
            json.dump({"fnwm": {"stop_timeout": 2, "kill_timeout": 1,
                                "restart_policy": {"healthy_after": 0.05,
                                                   "giveup_count": 0}}},
                      f)
        self.log = os.path.join(tmp, "fnwm.log")
        env = dict(os.environ, STAMP_FILE=stamps)
        self.proc = subprocess.Popen(
            [fnwm, "startworkermanager", "--dir", self.dir, "--port", "0",
             "--python", worker],
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = re.search(r"listening on ws://127\.0\.0\.1:(\d+)/",
                          open(self.log).read())
            if m:
                self.port = int(m.group(1))
                return
            time.sleep(0.02)
        raise SystemExit("manager did not start:\n" + open(self.log).read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


async def start_worker(port):
    async with websockets.connect("ws://127.0.0.1:%d/" % port,
                                  compression=None, ping_interval=None,
                                  max_size=None) as ws:
        await ws.send(json.dumps({"type": "new_worker",
                                  "kwargs": {"name": "fan",
                                             "in_venv": False}}))
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if m.get("type") == "worker_created":
                uuid = m["uuid"]
                break
        await ws.send(json.dumps({"type": "set_active", "workerid": uuid}))
        # The monitor's state is what is broadcast; the C worker never
        # answers as a FuncNodes worker would, so set_worker is not awaited.
        await asyncio.sleep(0.5)
        return uuid


class Watchers:
    """pingload watch: NCONN subscribed connections timing events."""

    def __init__(self, pingload, port, nconn, seconds):
        self.proc = subprocess.Popen(
            [pingload, "watch", "127.0.0.1", str(port), str(nconn),
             str(seconds)], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise SystemExit("pingload watch: %r" % line)

    def result(self):
        out, _ = self.proc.communicate(timeout=600)
        events, summary = [], {}
        for line in out.splitlines():
            kv = dict(x.split("=", 1) for x in line.split())
            if "event" in kv:
                events.append({k: int(v) for k, v in kv.items()})
            else:
                summary = {k: int(v) for k, v in kv.items()}
        return events, summary


def kill_worker(stamps):
    old = read_stamps(stamps)
    pid = old[-1][0]
    t0 = time.monotonic_ns()
    os.kill(pid, signal.SIGKILL)
    return t0, len(old)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fnwm", default=None)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--singles", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    fnwm = a.fnwm or next(p for p in (
        os.path.join(REPO, "build-rel", "master", "fnwm"),
        os.path.join(REPO, "build", "master", "fnwm")) if os.path.exists(p))
    tmp = tempfile.mkdtemp(prefix="fnwm-bench-fanout-")
    mgr = None
    try:
        worker = build(tmp, "stampworker", ["-static"])
        pingload = build(tmp, "pingload")
        stamps = os.path.join(tmp, "stamps")
        print("machine: %d cpus, %s; fnwm %s" % (
            os.cpu_count(), os.uname().release, fnwm))
        mgr = Manager(fnwm, tmp, worker, stamps)
        asyncio.run(start_worker(mgr.port))
        wait_stamps(stamps, 1)
        time.sleep(0.3)

        # 1. single state changes
        w = Watchers(pingload, mgr.port, a.clients,
                     a.singles * 1.5 + 1)
        kills = []
        for _ in range(a.singles):
            time.sleep(0.5)  # healthy (0.05 s) and quiet again
            c0 = cpu_ns(mgr.proc.pid)
            t0, n = kill_worker(stamps)
            wait_stamps(stamps, n + 1)
            # Until the broadcast has surely gone out, before "running".
            time.sleep(0.04)
            kills.append((t0, cpu_ns(mgr.proc.pid) - c0))
        events, summary = w.result()
        # Each kill makes "starting" then "running": events 2i and 2i+1.
        first = [(events[2 * i]["first_ns"] - t0) / 1e6
                 for i, (t0, _) in enumerate(kills) if 2 * i < len(events)]
        last = [(events[2 * i]["last_ns"] - t0) / 1e6
                for i, (t0, _) in enumerate(kills) if 2 * i < len(events)]
        got = [events[2 * i]["conns"] for i in range(len(kills))
               if 2 * i < len(events)]
        cpu = [c / 1e6 for _, c in kills]
        print("\n1. one worker state change -> %d connected clients "
              "(%d kills)" % (a.clients, len(kills)))
        print("   kill -> first client has the worker_event: median %.2f ms"
              % statistics.median(first))
        print("   kill -> last client has it: median %.2f ms, max %.2f ms"
              % (statistics.median(last), max(last)))
        print("   clients that got it: min %d of %d" % (min(got), a.clients))
        print("   master CPU per change (kill to 40 ms after the restart): "
              "median %.2f ms" % statistics.median(cpu))

        # 2. ten changes a second
        w = Watchers(pingload, mgr.port, a.clients, a.seconds + 3)
        mem = [mem_kib(mgr.proc.pid)]
        c0, t_start = cpu_ns(mgr.proc.pid), time.monotonic()
        next_mem = t_start + 10
        nkills = 0
        while time.monotonic() - t_start < a.seconds:
            time.sleep(0.2)
            try:
                _, n = kill_worker(stamps)
            except (IndexError, ProcessLookupError):
                continue
            nkills += 1
            if time.monotonic() >= next_mem:
                mem.append(mem_kib(mgr.proc.pid))
                next_mem += 10
        el = time.monotonic() - t_start
        cpu = (cpu_ns(mgr.proc.pid) - c0) / 1e9
        events, summary = w.result()
        mem.append(mem_kib(mgr.proc.pid))
        spread = [(e["last_ns"] - e["first_ns"]) / 1e6 for e in events]
        print("\n2. %d kills in %.0f s (%.1f state changes a second) -> "
              "%d clients" % (nkills, el, len(events) / el, a.clients))
        print("   events per client: min %d, max %d (of %d broadcast): %s"
              % (summary["min_events"], summary["max_events"], len(events),
                 "no client starved" if summary["min_events"] ==
                 summary["max_events"] == len(events) else "UNEVEN"))
        print("   first -> last client, per event: median %.2f ms, p99 "
              "%.2f ms, max %.2f ms" % (statistics.median(spread),
                                         pct(spread, 99), max(spread)))
        print("   master CPU: %.1f %% of a core (%.2f ms per event)"
              % (cpu / el * 100, cpu * 1000 / max(len(events), 1)))
        print("   master RSS/PSS every 10 s (KiB): %s"
              % ", ".join("%d/%d" % m for m in mem))
    finally:
        if mgr is not None:
            mgr.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
