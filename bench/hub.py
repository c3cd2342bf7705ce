#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
Benchmark of the fnwm master (the WebSocket hub), against the targets set
from the Python FuncNodes worker manager.

Starts its own masters (`fnwm startworkermanager --dir TMP --port 0`) on
private temporary config dirs, measures, stops them and removes the dirs.

  1. `ping` round trip, one connection, sequential
  2. `ping` throughput, 8 clients x 32 pings in flight
  3. master RSS / PSS, idle with 0 and with 1000 registered workers
  4. `worker_status` reply time with 1000 workers
  5. master CPU time while idle with 1000 registered workers

Figure 2 (and, as a cross-check, 1 and 4) are also measured with a small C
client (bench/pingload.c, compiled on the fly with `cc -O2`) because the
Python websockets client is slower than the server it measures.

With the C client the master's cost per message is printed too: pongs
per master CPU-second for `ping` with 8 connections x 32 in flight, and
closed loop (8 x 1). `--reference CMD` measures another manager the same
way, side by side: CMD is a shell command line in which {port} and {dir}
are replaced by a free port and an empty directory, e.g.

  --reference 'funcnodes --dir {dir} startworkermanager --port {port}'

Its CPU is that of every process in CMD's process group. `--quick` runs
only these C-client figures.

Needs /usr/bin/python3 with python3-websockets (10.x, asyncio API).
"""

import argparse
import asyncio
import datetime
import gc
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")

N_CLIENTS = 8
IN_FLIGHT = 32
N_WORKERS = 1000


# --------------------------------------------------------------------------
# small helpers


def pct(sorted_vals, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_vals:
        return float("nan")
    i = int(round((len(sorted_vals) - 1) * p / 100.0))
    return sorted_vals[i]


def verdict(ok):
    return "ok" if ok else "MISSED"


def line(label, value, target, ok):
    print(f"{label:<58} {value:<40} target: {target:<34} [{verdict(ok)}]",
          flush=True)


def info(label, value):
    print(f"{label:<58} {value}", flush=True)


def note(msg):
    print(f"    note: {msg}", flush=True)


def proc_status(pid):
    d = {}
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            k, _, v = ln.partition(":")
            d[k] = v.strip()
    return d


def mem_kb(pid):
    """(VmRSS kB, Pss kB, Anonymous kB) of pid."""
    rss = int(proc_status(pid)["VmRSS"].split()[0])
    roll = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for ln in f:
                k, _, v = ln.partition(":")
                if v.strip().endswith("kB"):
                    roll[k] = int(v.split()[0])
    except OSError:
        pass
    return rss, roll.get("Pss", 0), roll.get("Anonymous", 0)


def fmt_mem(m):
    rss, pss, anon = m
    return (f"VmRSS {mib(rss):.2f} MB, Pss {mib(pss):.2f} MB "
            f"(anon {mib(anon):.2f})")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime/stime are fields 14/15
    return int(fields[11]) + int(fields[12])


def ctxt_switches(pid):
    st = proc_status(pid)
    return (int(st.get("voluntary_ctxt_switches", 0)),
            int(st.get("nonvoluntary_ctxt_switches", 0)))


def mib(kb):
    return kb / 1024.0


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def report_dead(m, dead):
    """Startup probes that were accepted but never answered: a server bug."""
    for d in dead:
        m.dead_conns.append(d)
        print(f"    SERVER PROBLEM: a connection {d}; reconnected",
              flush=True)


def find_fnwm(explicit):
    if explicit:
        return os.path.abspath(explicit)
    for cand in (os.path.join(HERE, "..", "build-rel", "master", "fnwm"),
                 os.path.join(HERE, "..", "build", "master", "fnwm")):
        if os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    sys.exit("hub.py: no fnwm binary found; build it or pass --fnwm PATH")


# --------------------------------------------------------------------------
# the master under test


class Master:
    def __init__(self, fnwm, tmproot, name):
        self.fnwm = fnwm
        self.dir = os.path.join(tmproot, name)
        os.makedirs(os.path.join(self.dir, "workers"), exist_ok=True)
        self.errpath = os.path.join(tmproot, name + ".stderr")
        self.proc = None
        self.port = None
        self.t_spawn = None
        self.t_listen = None
        self.dead_conns = []

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        self.errf = open(self.errpath, "wb")
        self.t_spawn = time.monotonic()
        self.proc = subprocess.Popen(
            [self.fnwm, "startworkermanager", "--dir", self.dir,
             "--port", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.errf, start_new_session=True)
        deadline = time.monotonic() + 15
        rx = re.compile(rb"listening on ws://127\.0\.0\.1:(\d+)/")
        while time.monotonic() < deadline:
            with open(self.errpath, "rb") as f:
                m = rx.search(f.read())
            if m:
                self.port = int(m.group(1))
                self.t_listen = time.monotonic()
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        self.kill()
        sys.exit(f"hub.py: master did not start:\n{self.stderr_text()}")

    def stderr_text(self):
        try:
            with open(self.errpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """Sends `stop`, waits; SIGKILL if it does not go. Returns how."""
        if self.proc is None or self.proc.poll() is not None:
            return "not running"
        how = "stop"

        async def send_stop():
            async with websockets.connect(
                    self.url, compression=None, ping_interval=None,
                    open_timeout=3, close_timeout=1) as ws:
                await ws.send("stop")
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 3)
                except Exception:
                    pass

        try:
            asyncio.run(asyncio.wait_for(send_stop(), 6))
        except Exception as e:
            how = f"stop failed ({e!r})"
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            how += ", then SIGTERM"
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                how += ", then SIGKILL"
        self.kill()  # SIGKILL if still there; closes our stderr file
        return how

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        if getattr(self, "errf", None):
            self.errf.close()
            self.errf = None

    def log_interval(self, first, second):
        """Seconds between the log lines containing first and second."""
        ts = {}
        for ln in self.stderr_text().splitlines():
            for key in (first, second):
                if key in ln and key not in ts:
                    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:"
                                 r"\d\d\.\d+)Z", ln)
                    if m:
                        ts[key] = datetime.datetime.fromisoformat(m.group(1))
        if first in ts and second in ts:
            return (ts[second] - ts[first]).total_seconds()
        return None

    def problems(self):
        """stderr lines that are not plain info lines."""
        out = []
        for ln in self.stderr_text().splitlines():
            if re.search(r"\] info: ", ln):
                continue
            out.append(ln)
        return out


def write_workers(workers_dir, n):
    for i in range(n):
        u = uuid.uuid4().hex
        w = {
            "type": "WSWorker",
            "uuid": u,
            "name": f"w{i}",
            "data_path": None,
            "env_path": None,
            "worker_dependencies": {},
            "package_dependencies": {},
            "pid": None,
            "update_on_startup": {"funcnodes": True, "funcnodes-core": True,
                                  "funcnodes-worker": True},
            "host": "localhost",
            "port": 9382 + i,
            "ssl": False,
        }
        with open(os.path.join(workers_dir, f"worker_{u}.json"), "w") as f:
            json.dump(w, f)


def connect(url):
    return websockets.connect(url, compression=None, ping_interval=None,
                              max_size=None, max_queue=None)


# --------------------------------------------------------------------------
# figure 1: ping round trip (Python client)


async def ping_latency(url, warmup, count):
    async with connect(url) as ws:
        for _ in range(warmup):
            await ws.send("ping")
            r = await asyncio.wait_for(ws.recv(), 10)
            assert r == "pong", r
        samples = []
        pc = time.perf_counter_ns
        gc.disable()
        try:
            async with asyncio.timeout(120):  # never hang the bench
                for _ in range(count):
                    t = pc()
                    await ws.send("ping")
                    r = await ws.recv()
                    samples.append(pc() - t)
                    if r != "pong":
                        raise RuntimeError(f"unexpected reply {r!r}")
        finally:
            gc.enable()
    samples.sort()
    return [s / 1e6 for s in samples]  # ms


# --------------------------------------------------------------------------
# figure 2: ping throughput, Python clients in separate processes


def _tput_child(url, inflight, ready_q, go_ev, t_start, dur, result_q):
    async def run():
        async with connect(url) as ws:
            ready_q.put(os.getpid())
            go_ev.wait()  # blocks the loop, nothing to serve meanwhile
            start = t_start.value
            end = start + dur
            for _ in range(inflight):
                await ws.send("ping")
            outstanding = inflight
            counted = 0
            bad = 0
            mono = time.monotonic
            while True:
                r = await ws.recv()
                outstanding -= 1
                now = mono()
                if r != "pong":
                    bad += 1
                if now >= end:
                    break
                if now >= start:
                    counted += 1
                await ws.send("ping")
                outstanding += 1
            # drain what is still in flight
            try:
                while outstanding > 0:
                    await asyncio.wait_for(ws.recv(), 2)
                    outstanding -= 1
            except asyncio.TimeoutError:
                pass
            return counted, bad

    async def guarded():
        async with asyncio.timeout(dur + 60):
            return await run()

    gc.disable()
    try:
        counted, bad = asyncio.run(guarded())
        result_q.put((counted, bad, None))
    except Exception as e:
        result_q.put((0, 0, repr(e)))


def ping_tput_python(url, nclients, inflight, warmup, seconds):
    ctx = multiprocessing.get_context("fork")
    ready_q, result_q = ctx.Queue(), ctx.Queue()
    go_ev = ctx.Event()
    t_start = ctx.Value("d", 0.0)
    procs = [ctx.Process(target=_tput_child,
                         args=(url, inflight, ready_q, go_ev, t_start,
                               seconds, result_q))
             for _ in range(nclients)]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready_q.get(timeout=20)
        t_start.value = time.monotonic() + warmup
        go_ev.set()
        results = [result_q.get(timeout=seconds + warmup + 30)
                   for _ in procs]
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join()
    errs = [e for _, _, e in results if e]
    if errs:
        raise RuntimeError(f"python client failed: {errs[0]}")
    total = sum(c for c, _, _ in results)
    bad = sum(b for _, b, _ in results)
    return total / seconds, bad


# --------------------------------------------------------------------------
# the C client


def group_ticks(pgid):
    """CPU ticks (user + system) of every process in process group pgid."""
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        # fields[2] is field 5 (pgrp); utime/stime are fields 14/15
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total


class Reference:
    """Another manager, started from a command line template."""

    def __init__(self, cmd, tmproot):
        self.dir = os.path.join(tmproot, "reference")
        os.makedirs(self.dir)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.cmd = cmd.replace("{port}", str(self.port)).replace(
            "{dir}", self.dir)
        self.errpath = os.path.join(tmproot, "reference.stderr")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            self.cmd, shell=True, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(self.errpath, "wb"),
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                time.sleep(1.0)  # let it finish starting up
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        with open(self.errpath, "rb") as f:
            err = f.read().decode("utf-8", "replace")[-2000:]
        sys.exit(f"hub.py: reference did not listen on {self.port}:\n{err}")

    def ticks(self):
        return group_ticks(self.proc.pid)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


def c_figures(pingload, name, port, ticks, seconds):
    """ping round trip, throughput (8 x 32) and closed loop (8 x 1) with
    the C client; returns {figure: value} for the side-by-side table."""
    out = {}
    r = run_pingload(pingload, "lat", "127.0.0.1", port, "ping", "pong",
                     200, 5000)
    out["rtt"] = (float(r["median_us"]), float(r["p99_us"]))
    info(f"{name}: ping round trip, C client, 5000 seq",
         f"median {out['rtt'][0]:.0f} us, p99 {out['rtt'][1]:.0f} us")
    for key, inflight in (("tput", IN_FLIGHT), ("closed", 1)):
        c0, t0 = ticks(), time.monotonic()
        r = run_pingload(pingload, "tput", "127.0.0.1", port, N_CLIENTS,
                         inflight, 0.5, seconds, timeout=seconds + 60)
        cpu = (ticks() - c0) / CLK_TCK
        el = time.monotonic() - t0
        rate = float(r["rate"])
        # Pongs over the whole run (warm-up included) per CPU-second.
        per_cpu = rate * el / max(cpu, 1e-9) if cpu > 0 else float("nan")
        out[key] = (rate, cpu / el, per_cpu)
        info(f"{name}: ping, C client, {N_CLIENTS} conns x {inflight} in "
             "flight",
             f"{rate / 1000:.1f} k pongs/s at {cpu / el * 100:.0f} % of a "
             f"core -> {per_cpu / 1000:.0f} k pongs per CPU-second"
             + (f" ({r['bad']} bad)" if r["bad"] != "0" else ""))
    return out


def quick(args, fnwm, tmproot, masters):
    """The C-client figures only, fnwm and the reference side by side."""
    pingload, why = build_pingload(tmproot)
    if pingload is None:
        sys.exit(f"hub.py: {why}")
    print(f"load average at start: {loadavg()}", flush=True)
    a = Master(fnwm, tmproot, "empty")
    masters.append(a)
    a.start()
    report_dead(a, asyncio.run(probe_ready(a.url, a.t_listen)))
    time.sleep(0.5)
    f = c_figures(pingload, "fnwm", a.port, lambda: cpu_ticks(a.pid),
                  args.tput_seconds)
    a.stop()
    if not args.reference:
        return
    ref = Reference(args.reference, tmproot)
    ref.start()
    try:
        g = c_figures(pingload, "reference", ref.port, ref.ticks,
                      args.tput_seconds)
    finally:
        ref.stop()
    print(flush=True)
    for key, what in (("tput", f"{N_CLIENTS} x {IN_FLIGHT}"),
                      ("closed", f"{N_CLIENTS} x 1")):
        info(f"fnwm / reference, pongs per CPU-second, {what}",
             f"{f[key][2] / g[key][2]:.2f}x "
             f"({f[key][2] / 1000:.0f} k vs {g[key][2] / 1000:.0f} k)")
        info(f"fnwm / reference, pongs/s, {what}",
             f"{f[key][0] / g[key][0]:.2f}x")
    info("round trip median, fnwm vs reference",
         f"{f['rtt'][0]:.0f} us vs {g['rtt'][0]:.0f} us")
    print(f"load average at end: {loadavg()}", flush=True)


def build_pingload(tmproot):
    src = os.path.join(HERE, "pingload.c")
    exe = os.path.join(tmproot, "pingload")
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc or not os.path.exists(src):
        return None, "no C compiler or bench/pingload.c missing"
    r = subprocess.run([cc, "-O2", "-o", exe, src], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return None, f"cc failed: {r.stderr.strip()[:500]}"
    return exe, None


def run_pingload(exe, *args, timeout=120):
    r = subprocess.run([exe, *map(str, args)], capture_output=True,
                       text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"pingload {args[0]} failed: {r.stderr.strip()}")
    return dict(kv.split("=", 1) for kv in r.stdout.split())


# --------------------------------------------------------------------------
# figures 3-5 helpers


async def probe_ready(url, t_listen, attempts=5, wait=2.0):
    """
    Connects and pings until a pong comes back. Returns a list of strings,
    one per connection that was accepted but never answered.
    """
    dead = []
    for _ in range(attempts):
        t_conn = time.monotonic() - t_listen
        async with websockets.connect(
                url, compression=None, ping_interval=None, open_timeout=5,
                close_timeout=1) as ws:
            await ws.send("ping")
            try:
                r = await asyncio.wait_for(ws.recv(), wait)
                if r == "pong":
                    return dead
                dead.append(f"opened {t_conn * 1000:.0f} ms after the "
                            f"listening line: answered {r[:60]!r}")
            except asyncio.TimeoutError:
                dead.append(f"opened {t_conn * 1000:.0f} ms after the "
                            f"listening line: no pong within {wait:.0f} s")
    raise RuntimeError(f"master never answered ping: {dead}")


async def wait_for_workers(url, n, timeout):
    """Polls worker_status until it lists n workers; returns the reply."""
    deadline = time.monotonic() + timeout
    async with connect(url) as ws:
        while True:
            await ws.send("worker_status")
            while True:
                r = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if r.get("type") == "worker_status":
                    break
            got = len(r["active"]) + len(r["inactive"])
            if got >= n:
                return r
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker_status lists {got} of {n}")
            await asyncio.sleep(0.02)


async def status_latency(url, warmup, count):
    async with connect(url) as ws:
        for _ in range(warmup):
            await ws.send("worker_status")
            await asyncio.wait_for(ws.recv(), 10)
        samples = []
        size = 0
        pc = time.perf_counter_ns
        gc.disable()
        try:
            async with asyncio.timeout(300):  # never hang the bench
                for _ in range(count):
                    t = pc()
                    await ws.send("worker_status")
                    while True:  # skip anything unsolicited
                        r = await ws.recv()
                        if r.startswith('{"type":"worker_status"'):
                            break
                    samples.append(pc() - t)
                    size = len(r)
        finally:
            gc.enable()
    samples.sort()
    return [s / 1e6 for s in samples], size


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--fnwm", help="fnwm binary (default: "
                    "../build-rel/master/fnwm next to this script, else "
                    "../build/master/fnwm)")
    ap.add_argument("--idle-seconds", type=float, default=60.0,
                    help="length of the idle CPU measurement (default 60)")
    ap.add_argument("--tput-seconds", type=float, default=5.0,
                    help="length of each throughput run (default 5)")
    ap.add_argument("--no-c", action="store_true",
                    help="skip the C client measurements")
    ap.add_argument("--quick", action="store_true",
                    help="only the C-client ping figures (and the "
                    "reference's, with --reference)")
    ap.add_argument("--reference", metavar="CMD",
                    help="another manager to measure the same way (see "
                    "above); implies --quick")
    args = ap.parse_args()

    fnwm = find_fnwm(args.fnwm)
    tmproot = tempfile.mkdtemp(prefix="fnwm-bench-")
    masters = []

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    try:
        if args.quick or args.reference:
            quick(args, fnwm, tmproot, masters)
        else:
            run(args, fnwm, tmproot, masters)
    except BaseException:
        for m in masters:
            if m.proc is not None and m.proc.poll() is not None:
                print(f"master {os.path.basename(m.dir)} exited with "
                      f"status {m.proc.returncode}", flush=True)
            print(f"master {os.path.basename(m.dir)} stderr (tail):",
                  flush=True)
            for ln in m.stderr_text().splitlines()[-30:]:
                print(f"    {ln}", flush=True)
        raise
    finally:
        for m in masters:
            how = m.stop()
            if how not in ("stop", "not running"):
                print(f"master {m.dir}: {how}", flush=True)
            m.kill()
        shutil.rmtree(tmproot, ignore_errors=True)


def run(args, fnwm, tmproot, masters):
    ver = subprocess.run([fnwm, "--version"], capture_output=True,
                         text=True).stdout.strip()
    u = os.uname()
    print(f"machine: nproc={os.cpu_count()} (affinity "
          f"{len(os.sched_getaffinity(0))}), {u.sysname} {u.release} "
          f"{u.machine}; python {sys.version.split()[0]}, websockets "
          f"{websockets.__version__}", flush=True)
    print(f"fnwm:    {ver} ({fnwm})", flush=True)
    print(f"load average at start: {loadavg()}", flush=True)
    print("note: server and all clients share this machine's cores; "
          "MB below means MiB (1024 kB).", flush=True)
    print(flush=True)

    pingload, why = (None, "skipped (--no-c)") if args.no_c else \
        build_pingload(tmproot)
    if pingload is None:
        print(f"C client: {why}", flush=True)

    # ---------------- master A: no workers ----------------
    a = Master(fnwm, tmproot, "empty")
    masters.append(a)
    a.start()
    report_dead(a, asyncio.run(probe_ready(a.url, a.t_listen)))
    asyncio.run(wait_for_workers(a.url, 0, 10))
    time.sleep(0.5)
    mem0 = mem_kb(a.pid)

    print("== master with 0 workers ==", flush=True)
    # 1. ping latency
    lat = asyncio.run(ping_latency(a.url, 200, 5000))
    med, p99 = pct(lat, 50), pct(lat, 99)
    line("1. ping RTT, 1 conn, 5000 seq (Python websockets client)",
         f"median {med:.3f} ms, p99 {p99:.3f} ms (max {lat[-1]:.2f})",
         "median <= 0.1 ms, p99 <= 0.2 ms", med <= 0.1 and p99 <= 0.2)
    if pingload:
        r = run_pingload(pingload, "lat", "127.0.0.1", a.port, "ping",
                         "pong", 200, 5000)
        cmed, cp99 = float(r["median_us"]) / 1000, float(r["p99_us"]) / 1000
        line("1. ping RTT, 1 conn, 5000 seq (C client)",
             f"median {cmed:.3f} ms, p99 {cp99:.3f} ms "
             f"(max {float(r['max_us']) / 1000:.2f})",
             "median <= 0.1 ms, p99 <= 0.2 ms", cmed <= 0.1 and cp99 <= 0.2)

    # 2. ping throughput
    # The master's CPU over the whole run (warm-up and connection set-up
    # included, so the per-core figure is a slight underestimate).
    c0, t0 = cpu_ticks(a.pid), time.monotonic()
    rate, bad = ping_tput_python(a.url, N_CLIENTS, IN_FLIGHT, 0.5,
                                 args.tput_seconds)
    srv = (cpu_ticks(a.pid) - c0) / CLK_TCK / (time.monotonic() - t0)
    line(f"2. ping tput, {N_CLIENTS} Python procs x {IN_FLIGHT} in flight",
         f"{rate / 1000:.1f} k pongs/s" + (f" ({bad} bad)" if bad else ""),
         ">= 240 k/s (Python mgr 51-61 k/s)", rate >= 240e3)
    info("   master CPU during that run",
         f"{srv * 100:.0f} % of a core")
    if pingload:
        c0, t0 = cpu_ticks(a.pid), time.monotonic()
        r = run_pingload(pingload, "tput", "127.0.0.1", a.port, N_CLIENTS,
                         IN_FLIGHT, 0.5, args.tput_seconds,
                         timeout=args.tput_seconds + 60)
        srv = (cpu_ticks(a.pid) - c0) / CLK_TCK / (time.monotonic() - t0)
        crate = float(r["rate"])
        line(f"2. ping tput, 1 C proc, {N_CLIENTS} conns x {IN_FLIGHT} "
             "in flight",
             f"{crate / 1000:.1f} k pongs/s"
             + (f" ({r['bad']} bad)" if r["bad"] != "0" else ""),
             ">= 240 k/s (Python mgr 51-61 k/s)", crate >= 240e3)
        info("   master CPU during that run",
             f"{srv * 100:.0f} % of a core -> ~{crate / max(srv, 1e-9) / 1000:.0f}"
             " k pongs per master CPU-second")
    note(f"{os.cpu_count()} cores shared by server and clients; the "
         "Python figure is bounded by the clients, the C one much less so")

    time.sleep(0.5)
    mem0b = mem_kb(a.pid)
    line("3. RSS idle, 0 workers (fresh)", fmt_mem(mem0),
         "<= 6 MB (Python mgr 53 MB)", mib(mem0[0]) <= 6)
    info("   RSS idle, 0 workers (after the ping load)", fmt_mem(mem0b))
    how = a.stop()
    info("   master A stopped by", how)
    print(flush=True)

    # ---------------- master B: 1000 workers ----------------
    print(f"== master with {N_WORKERS} registered workers ==", flush=True)
    b = Master(fnwm, tmproot, "thousand")
    masters.append(b)
    write_workers(os.path.join(b.dir, "workers"), N_WORKERS)
    b.start()
    report_dead(b, asyncio.run(probe_ready(b.url, b.t_listen)))
    st = asyncio.run(wait_for_workers(b.url, N_WORKERS, 60))
    scan = b.log_interval("listening on ", "workers known")
    info("   initial scan (log: 'listening' -> 'N workers known')",
         (f"{scan * 1000:.0f} ms" if scan is not None else "?")
         + f"; worker_status lists {len(st['active'])} active, "
         f"{len(st['inactive'])} inactive")
    time.sleep(1.0)
    mem1 = mem_kb(b.pid)
    line(f"3. RSS idle, {N_WORKERS} workers", fmt_mem(mem1),
         "<= 10 MB (Python mgr 62-66 MB)", mib(mem1[0]) <= 10)

    # 4. worker_status latency
    c0 = cpu_ticks(b.pid)
    slat, size = asyncio.run(status_latency(b.url, 20, 1000))
    srv_ms = (cpu_ticks(b.pid) - c0) * 1000 / CLK_TCK / 1020
    smed, sp99, smax = pct(slat, 50), pct(slat, 99), slat[-1]
    line(f"4. worker_status, {N_WORKERS} workers, 1000 seq (Python)",
         f"median {smed:.2f}, p99 {sp99:.2f}, max {smax:.2f} ms",
         "median <= 2 ms, max <= 20 ms", smed <= 2 and smax <= 20)
    info("   worker_status reply size; master CPU per request",
         f"{size} bytes; {srv_ms:.2f} ms (load-independent; "
         "includes the 20 warm-up requests)")
    if pingload:
        c0 = cpu_ticks(b.pid)
        r = run_pingload(pingload, "lat", "127.0.0.1", b.port,
                         "worker_status", '{"type":"worker_status"', 20,
                         1000)
        srv_ms = (cpu_ticks(b.pid) - c0) * 1000 / CLK_TCK / 1020
        cmed = float(r["median_us"]) / 1000
        cp99 = float(r["p99_us"]) / 1000
        cmax = float(r["max_us"]) / 1000
        line(f"4. worker_status, {N_WORKERS} workers, 1000 seq (C)",
             f"median {cmed:.2f}, p99 {cp99:.2f}, max {cmax:.2f} ms",
             "median <= 2 ms, max <= 20 ms", cmed <= 2 and cmax <= 20)
        info("   master CPU per request (C run)", f"{srv_ms:.2f} ms")
    info("   RSS after the worker_status runs", fmt_mem(mem_kb(b.pid)))

    # 5. idle CPU, no client connected
    time.sleep(1.0)
    c0, (v0, n0), t0 = cpu_ticks(b.pid), ctxt_switches(b.pid), \
        time.monotonic()
    time.sleep(args.idle_seconds)
    c1, (v1, n1), t1 = cpu_ticks(b.pid), ctxt_switches(b.pid), \
        time.monotonic()
    el = t1 - t0
    cpu = (c1 - c0) / CLK_TCK / el * 100
    line(f"5. idle CPU, {N_WORKERS} workers, {el:.0f} s, no clients",
         f"{cpu:.3f} % of a core ({(c1 - c0) * 1000 // CLK_TCK} ms)",
         "<= 0.5 % (Python mgr 7-8 %)", cpu <= 0.5)
    info("   wakeups while idle (context switches)",
         f"{(v1 - v0) / el:.1f}/s voluntary, {(n1 - n0) / el:.1f}/s "
         f"involuntary; tick {1000 // CLK_TCK} ms")
    info("   RSS after the idle period", fmt_mem(mem_kb(b.pid)))
    how = b.stop()
    info("   master B stopped by", how)

    print(f"load average at end: {loadavg()}", flush=True)
    print(flush=True)
    for m in (a, b):
        probs = [f"(startup: a connection {d})" for d in m.dead_conns]
        probs += m.problems()
        if m.proc.returncode not in (0, None):
            probs.append(f"(exit status {m.proc.returncode})")
        if probs:
            print(f"master {os.path.basename(m.dir)}: {len(probs)} "
                  "problems (dead connections, non-info stderr lines, "
                  "exit status):", flush=True)
            for ln in probs[:20]:
                print(f"    {ln}", flush=True)
        else:
            print(f"master {os.path.basename(m.dir)}: stderr clean "
                  f"(info lines only), exit status {m.proc.returncode}",
                  flush=True)


if __name__ == "__main__":
    main()
