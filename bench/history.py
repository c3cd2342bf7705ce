#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
What the exit history costs the master: worker_details and GET /metrics
read every worker's .status (its last 20 exits and the totals by reason).

Starts its own master on a private temporary config dir with --workers
worker JSON files (not running: only the files matter here), and times
worker_details (over one WebSocket connection, back to back), the same
with "history": false (what the CLI's tables ask for) and GET /metrics, first with no .status files, then with a .status of 20 exits
for every worker, as a crash-looping monitor leaves it. Prints median
and p99 of --runs requests each; removes the dir.

  /usr/bin/python3 bench/history.py [--workers 500] [--runs 50]
"""
import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid as uuidmod

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))


def find_fnwm(explicit):
    for cand in (explicit, os.environ.get("FNWM_BIN"),
                 os.path.join(HERE, "..", "build-rel", "master", "fnwm"),
                 os.path.join(HERE, "..", "build", "master", "fnwm")):
        if cand and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    sys.exit("history.py: no fnwm binary found; pass --fnwm PATH")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def status_text(n_exits):
    t0 = int(time.time() * 1000) - 60000
    lines = ["version=2", "state=failed", "pid=0", "adopted=0",
             "monitor=999999999", "restarts=19", "last_exit=1", "since=1",
             "exiting=0", "exits_crash=%d" % (n_exits - 1), "exits_exited=0",
             "exits_liveness=0", "exits_stop=0", "exits_restart=0",
             "exits_gave_up=1"]
    for i in range(n_exits):
        lines.append("exit=%d status:1 %d %s" % (
            t0 + i * 1000, 500 + i, "gave-up" if i == n_exits - 1
            else "crash"))
    return "\n".join(lines) + "\n"


def pct(vals, p):
    s = sorted(vals)
    return s[max(0, min(len(s) - 1, -(-p * len(s) // 100) - 1))]


async def time_details(port, runs, text="worker_details"):
    out = []
    async with websockets.connect("ws://127.0.0.1:%d/" % port,
                                  max_size=None) as ws:
        for _ in range(runs + 1):
            t = time.perf_counter()
            await ws.send(text)
            while True:
                f = await ws.recv()
                if '"worker_details"' in f[:40]:
                    break
            out.append(time.perf_counter() - t)
    return out[1:]


def time_metrics(port, runs):
    out = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                    timeout=30) as r:
            r.read()
        out.append(time.perf_counter() - t)
    return out[1:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=500)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--fnwm")
    a = ap.parse_args()
    fnwm = find_fnwm(a.fnwm)
    d = tempfile.mkdtemp(prefix="fnwm-bench-history-")
    wd = os.path.join(d, "workers")
    os.makedirs(wd)
    uuids = [uuidmod.uuid4().hex for _ in range(a.workers)]
    for u in uuids:
        with open(os.path.join(wd, "worker_%s.json" % u), "w") as f:
            json.dump({"type": "WSWorker", "uuid": u, "name": "b-" + u[:6],
                       "host": "127.0.0.1", "port": 1, "env_path": None,
                       "update_on_startup": {}}, f, indent=2)
    port = free_port()
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"fnwm": {"python": "/usr/bin/python3"}}, f)
    log = open(os.path.join(d, "fnwm.log"), "w")
    p = subprocess.Popen([fnwm, "--dir", d, "startworkermanager", "--host",
                          "127.0.0.1", "--port", str(port)], stdout=log,
                         stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("the master did not listen")
                time.sleep(0.05)
        print("fnwm %s, %d workers, %d requests each" % (fnwm, a.workers,
                                                         a.runs))
        for label, n in (("no .status", 0), ("20 exits each", 20)):
            for u in uuids:
                path = os.path.join(wd, "worker_%s.status" % u)
                if n == 0:
                    if os.path.exists(path):
                        os.unlink(path)
                else:
                    with open(path, "w") as f:
                        f.write(status_text(n))
            det = asyncio.run(time_details(port, a.runs))
            brief = asyncio.run(time_details(
                port, a.runs, '{"type":"worker_details","history":false}'))
            met = time_metrics(port, a.runs)
            for what, v in (("worker_details", det),
                            ("worker_details history:false", brief),
                            ("/metrics", met)):
                print("%-14s %-29s median %6.1f ms  p99 %6.1f ms" % (
                    label, what, statistics.median(v) * 1000,
                    pct(v, 99) * 1000))
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
        log.close()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
