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

With --side-by-side it compares supervisors instead, in one run, each
supervising the same tiny C worker (bench/stampworker.c, which stamps its
own start on CLOCK_MONOTONIC and sleeps):

  * fnwm-monitor (driven over its channel as the master drives it),
  * runit's runsv (Debian's runit package; apt-get installs it when it is
    missing), its ./run being the worker binary itself,
  * bench/minisup.c, fork + exec + waitpid and nothing else: the floor;

kill -9 of the worker -> the new process's own stamp (median, p90, and
the ratios), and PSS / private dirty of one supervisor with 20 and 100 of
them running (/proc/PID/smaps_rollup). With --disk-busy the kills happen
while another process writes and fsyncs 8 MiB at a time, without pause,
on the file system of the supervisors' files (it prints its fsync times).

usage: bench/supervise.py [--fnwm PATH] [--kills N] [--workers N]
                          [--idle-seconds S]
       bench/supervise.py --side-by-side [--monitor PATH] [--kills N]
                          [--counts 20,100] [--disk-busy]
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
sys.path.insert(0, os.path.join(REPO, "tests", "proto"))


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


# ----------------------------------------------------------------------------
# side by side: fnwm-monitor, runsv, the floor

def build_tools(tmp):
    """Compiles the tiny worker (static: no loader time in its stamp) and
    the minimal supervisor; returns their paths."""
    out = {}
    for name, extra in (("stampworker", ["-static"]), ("minisup", [])):
        exe = os.path.join(tmp, name)
        src = os.path.join(HERE, name + ".c")
        r = subprocess.run(["cc", "-O2", "-o", exe, src] + extra)
        if r.returncode != 0 and extra:
            r = subprocess.run(["cc", "-O2", "-o", exe, src])
        if r.returncode != 0:
            raise SystemExit("cannot build %s" % src)
        out[name] = exe
    return out


def ensure_runsv():
    path = shutil.which("runsv")
    if path is None:
        print("runsv missing: apt-get install runit", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends",
                        "runit"], env=env, stdout=subprocess.DEVNULL,
                       check=True)
        path = shutil.which("runsv")
    if path is None:
        raise SystemExit("no runsv after installing runit")
    return path


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().strip()


def smaps_rollup(pid):
    """{'Pss': KiB, 'Private_Dirty': KiB, ...} of pid."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def read_stamps(path):
    """[(pid, ns)] the worker instances wrote, in order."""
    try:
        with open(path) as f:
            return [tuple(int(x) for x in line.split())
                    for line in f if line.endswith("\n")]
    except FileNotFoundError:
        return []


def wait_stamp(path, count, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        st = read_stamps(path)
        if len(st) >= count:
            return st
        if time.monotonic() > deadline:
            raise SystemExit("no worker start in %s after %ds" % (path, timeout))
        time.sleep(0.002)


class Supervised:
    """One supervisor of one tiny worker; kind is fnwm, runsv or floor."""

    def __init__(self, kind, tools, tmp, i):
        self.kind = kind
        self.dir = os.path.join(tmp, "%s-%d" % (kind, i))
        os.makedirs(self.dir)
        self.stamps = os.path.join(self.dir, "stamps")
        env = dict(os.environ, STAMP_FILE=self.stamps)
        err = open(os.path.join(self.dir, "stderr"), "wb")
        self.mon = None
        if kind == "fnwm":
            import harness
            self.mon = harness.Monitor(self.dir, "%032x" % (i + 1),
                                       os.path.join(self.dir, "stderr"),
                                       debug=False, env=env)
            self.mon.config([tools["stampworker"]],
                            os.path.join(self.dir, "worker.log"),
                            restart=harness.RESTART_ALWAYS, healthy_ms=500,
                            backoff_initial_ms=50, backoff_max_ms=200,
                            giveup_count=0)
            self.mon.start()
            self.proc = self.mon.proc
        elif kind == "runsv":
            svc = os.path.join(self.dir, "svc")
            os.makedirs(svc)
            shutil.copy(tools["stampworker"], os.path.join(svc, "run"))
            self.proc = subprocess.Popen([tools["runsv"], svc], env=env,
                                         stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err)
        else:
            self.proc = subprocess.Popen([tools["minisup"],
                                          tools["stampworker"]], env=env,
                                         stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err)
        err.close()

    def worker(self):
        st = read_stamps(self.stamps)
        return st[-1][0] if st else None

    def close(self):
        pid = self.worker()
        for p in (self.proc.pid, pid):
            try:
                os.kill(p, signal.SIGKILL)
            except (TypeError, ProcessLookupError):
                pass
        self.proc.wait()
        if self.mon is not None:
            self.mon.cleanup()


KINDS = ("fnwm", "runsv", "floor")
KIND_NAMES = {"fnwm": "fnwm-monitor", "runsv": "runsv", "floor": "minisup"}


def side_kills(tools, tmp, n):
    """Round after round, kill -9 each supervisor's worker in turn and
    read the new worker's own stamp. Each worker has lived 1.1 s first:
    runsv sleeps a second after a run shorter than that, and fnwm's
    monitor restarts at once only after healthy_after (0.5 s here)."""
    sups = {k: Supervised(k, tools, os.path.join(tmp, "kills"), 0)
            for k in KINDS}
    lat = {k: [] for k in KINDS}
    try:
        for k in KINDS:
            wait_stamp(sups[k].stamps, 1)
        for _ in range(n):
            time.sleep(1.1)
            for k in KINDS:
                s = sups[k]
                before = read_stamps(s.stamps)
                old = before[-1][0]
                t0 = time.monotonic_ns()
                os.kill(old, signal.SIGKILL)
                new = wait_stamp(s.stamps, len(before) + 1)[-1]
                lat[k].append((new[1] - t0) / 1e6)
    finally:
        for s in sups.values():
            s.close()
    return lat


def side_memory(tools, tmp, count):
    """PSS and private dirty (KiB) of each supervisor, count of a kind
    running at once; {kind: (median PSS, median private dirty)}."""
    out = {}
    for k in KINDS:
        base = os.path.join(tmp, "mem-%s-%d" % (k, count))
        sups = [Supervised(k, tools, base, i) for i in range(count)]
        try:
            for s in sups:
                wait_stamp(s.stamps, 1, timeout=60)
            time.sleep(0.5)
            roll = [smaps_rollup(s.proc.pid) for s in sups]
        finally:
            for s in sups:
                s.close()
        out[k] = (statistics.median(r["Pss"] for r in roll),
                  statistics.median(r["Private_Dirty"] for r in roll))
    return out


# Writes and fsyncs 8 MiB at a time into argv[1] until SIGTERM, then
# prints its fsync times (ms): median, p90, max.
DISK_HOG = r'''
import os, signal, sys, time
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
path, chunk, times = os.path.join(sys.argv[1], "hog"), b"x" * (8 << 20), []
while not stop:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, chunk)
    t = time.monotonic()
    os.fsync(fd)
    times.append((time.monotonic() - t) * 1000)
    os.close(fd)
os.unlink(path)
times.sort()
print("%.1f %.1f %.1f %d" % (times[len(times) // 2],
      times[int(len(times) * 0.9)], times[-1], len(times)), flush=True)
'''


def side_by_side(a):
    monitor = a.monitor or next(p for p in (
        os.path.join(REPO, "build-rel", "monitor", "fnwm-monitor"),
        os.path.join(REPO, "build", "monitor", "fnwm-monitor"))
        if os.path.exists(p))
    os.environ["FNWM_MONITOR_BIN"] = os.path.abspath(monitor)
    tmp = tempfile.mkdtemp(prefix="fnwm-bench-side-")
    try:
        tools = build_tools(tmp)
        tools["runsv"] = ensure_runsv()
        # A binary just linked is dirty in the page cache until written
        # back, and its mapped pages would count as private dirty.
        os.sync()
        print("machine: %d cpus, %s" % (os.cpu_count(), os.uname().release))
        print("load average before: %s" % loadavg())
        print("fnwm-monitor: %s; runsv: %s; floor: bench/minisup.c"
              % (monitor, tools["runsv"]))
        hog = None
        if a.disk_busy:
            hog = subprocess.Popen([sys.executable, "-c", DISK_HOG, tmp],
                                   stdout=subprocess.PIPE, text=True)
        try:
            lat = side_kills(tools, tmp, a.kills)
        finally:
            if hog is not None:
                hog.terminate()
                out = hog.communicate()[0].split()
        print("\nkill -9 -> the new worker's own start stamp, %d kills each%s"
              % (a.kills, ", disk busy" if hog is not None else ""))
        if hog is not None and len(out) == 4:
            print("  (the disk: %s fsyncs of 8 MiB meanwhile, median %s ms, "
                  "p90 %s ms, max %s ms)" % (out[3], out[0], out[1], out[2]))
        med = {k: statistics.median(v) for k, v in lat.items()}
        p90 = {k: pct(v, 90) for k, v in lat.items()}
        for k in KINDS:
            print("  %-13s median %6.3f ms  p90 %6.3f ms  max %6.3f ms"
                  % (KIND_NAMES[k], med[k], p90[k], max(lat[k])))
        print("  fnwm-monitor / runsv: median %.2fx, p90 %.2fx"
              % (med["fnwm"] / med["runsv"], p90["fnwm"] / p90["runsv"]))
        print("  fnwm-monitor - minisup: median %+.3f ms, p90 %+.3f ms"
              % (med["fnwm"] - med["floor"], p90["fnwm"] - p90["floor"]))
        for count in a.counts:
            mem = side_memory(tools, tmp, count)
            print("\none supervisor's memory, %d of a kind running "
                  "(median KiB)" % count)
            for k in KINDS:
                print("  %-13s PSS %5d  private dirty %5d"
                      % (KIND_NAMES[k], mem[k][0], mem[k][1]))
            print("  fnwm-monitor / runsv: PSS %.2fx, private dirty %.2fx"
                  % (mem["fnwm"][0] / mem["runsv"][0],
                     mem["fnwm"][1] / mem["runsv"][1]))
        print("\nload average after: %s" % loadavg())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fnwm", default=None)
    ap.add_argument("--kills", type=int, default=None,
                    help="50, or 30 with --side-by-side")
    ap.add_argument("--workers", type=int, default=100)
    ap.add_argument("--idle-seconds", type=float, default=30)
    ap.add_argument("--side-by-side", action="store_true")
    ap.add_argument("--monitor", default=None,
                    help="fnwm-monitor for --side-by-side")
    ap.add_argument("--disk-busy", action="store_true",
                    help="--side-by-side: the kills while another process "
                    "writes and fsyncs without pause")
    ap.add_argument("--counts", default="20,100",
                    help="supervisors running at once for the memory "
                    "figures of --side-by-side")
    a = ap.parse_args()
    if a.side_by_side:
        a.kills = 30 if a.kills is None else a.kills
        a.counts = [int(x) for x in a.counts.split(",") if x]
        side_by_side(a)
        return
    a.kills = 50 if a.kills is None else a.kills
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
