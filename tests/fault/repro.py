#!/usr/bin/python3
"""Deterministic reproductions of the supervision bugs that the fault
injection test (test_fault_injection.py) runs into at random.

    /usr/bin/python3 tests/fault/repro.py [R1 R2 ...]

(FNWM_BIN picks the binary, default build/master/fnwm.) Each scenario
builds the situation the random run met by chance -- a worker slowed down
before it writes its .p (slowstart/sitecustomize.py), a worker that is slow
to exit, a monitor that never got its configuration -- and prints what
fnwm did against what it should do: REPRODUCED or fine. Exit status 1 if
any scenario reproduced its bug. Not part of CTest: these are evidence for
the bug reports, and the random test covers the same ground.

  R1  a monitor replaced while its worker starts loops on "run lock held"
      instead of adopting the worker, until it gives up (failed)
  R2  a worker orphaned before it wrote its .p is never adopted by a new
      master; stop_worker says done while it runs; it outlives `stop`
  R3  set_active on an active but unsupervised worker answers set_worker
      and leaves it unsupervised: its crash is not restarted
  R4  set_active while a previous master's stop is still under way answers
      set_worker; the stop then completes and the worker stays down
  R5  delete_worker leaves worker_<uuid>.sock behind when the worker's
      monitor was killed during a stop
  R6  a re-adopted monitor that never got its configuration is never sent
      one: restart_worker fails and a crashed worker stays down
  R7  a live monitor that a new master cannot reach (in the wild: one that
      is still starting when the master starts) is never re-adopted: the
      master's own monitor exits 101 and the worker outlives `stop`
"""
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import faultlib as fl  # noqa: E402

SLOWSTART = os.path.join(HERE, "slowstart")


def monitor_bin():
    d = os.path.dirname(fl.FNWM_BIN)
    for cand in (os.path.join(d, "fnwm-monitor"),
                 os.path.join(d, "..", "monitor", "fnwm-monitor")):
        if os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    raise SystemExit("no fnwm-monitor beside %s" % fl.FNWM_BIN)


class Scenario:
    def __init__(self, name):
        self.name = name
        self.root = tempfile.mkdtemp(prefix="fnwm-repro-%s-" % name)
        self.flag = os.path.join(self.root, "SLOW")
        self.fleet = fl.Fleet(self.root, worker_env={
            "PYTHONPATH": fl.WORKER_PATH + ":" + SLOWSTART,
            "FNWM_SLOWSTART_FLAG": self.flag,
            "FNWM_SLOWSTART_SECONDS": "3"})
        self.extra = []

    def slow(self, on):
        if on:
            open(self.flag, "w").close()
        elif os.path.exists(self.flag):
            os.unlink(self.flag)

    async def details(self, u):
        e = (await fl.worker_details(self.fleet.port, 5)).get(u) or {}
        return {k: e[k] for k in ("state", "pid", "monitor_pid",
                                  "supervised", "last_exit", "restarts")
                if k in e}

    def procs(self, u):
        s = self.fleet.snapshot()
        return s.worker_pids(u), s.monitor_pids(u)

    async def running_worker(self, behaviour=None):
        r = await fl.request(self.fleet.port, "new_worker",
                             kwargs={"in_venv": False})
        u = r.final["uuid"]
        if behaviour:
            path = os.path.join(self.fleet.workers_dir, "worker_%s.json" % u)
            with open(path) as f:
                doc = json.load(f)
            doc["test_behaviour"] = behaviour
            fl.write_json(path, doc)
        r = await fl.request(self.fleet.port, "set_active", u)
        assert r.status == "ok", r
        deadline = time.monotonic() + 5
        while (await self.details(u)).get("state") != "running":
            assert time.monotonic() < deadline, await self.details(u)
            await asyncio.sleep(0.05)
        return u

    async def respawned(self, u, old):
        """The worker process that the monitor started after old died."""
        return (await fl.async_wait_for(
            lambda: [p for p in self.procs(u)[0] if p != old], 5,
            "a new worker process of %s" % u))[0]

    def finish(self):
        print("   logs: %s" % self.root, flush=True)
        self.slow(False)
        for p in self.extra:
            if p.poll() is None:
                p.kill()
            p.wait()
        left = self.fleet.cleanup()
        if left:
            print("   (processes survived SIGKILL: %s)" % left)


def verdict(name, bug, observed, expected):
    print("%s: %s\n   observed: %s\n   expected: %s"
          % (name, "REPRODUCED" if bug else "fine (not reproduced)",
             observed, expected), flush=True)
    return bug



async def r1():
    s = Scenario("R1")
    try:
        await s.fleet.start_master()
        u = await s.running_worker()
        (w,), (mon,) = s.procs(u)
        s.slow(True)
        os.kill(w, signal.SIGKILL)
        w2 = await s.respawned(u, w)    # started, asleep before its .p
        os.kill(mon, signal.SIGKILL)    # the master replaces the monitor
        await asyncio.sleep(6)          # the .p exists after 3 s
        d = await s.details(u)
        ws, ms = s.procs(u)
        return verdict(
            "R1 monitor replaced while its worker starts",
            d.get("state") != "running" or d.get("pid") != w2,
            "worker %d runs (/proc %s), its new monitor %s reports %s"
            % (w2, ws, ms, d),
            "the new monitor adopts worker %d once its .p appears "
            "(state running, pid %d)" % (w2, w2))
    finally:
        s.finish()


async def orphan_before_p(s):
    """A worker orphaned (monitor and master killed) before its .p; a new
    master. Returns (uuid, worker pid)."""
    await s.fleet.start_master()
    u = await s.running_worker()
    (w,), (mon,) = s.procs(u)
    s.slow(True)
    os.kill(w, signal.SIGKILL)
    w2 = await s.respawned(u, w)
    os.kill(mon, signal.SIGKILL)
    s.fleet.kill_master()
    await s.fleet.start_master()
    return u, w2


async def r2():
    s = Scenario("R2")
    try:
        u, w2 = await orphan_before_p(s)
        s.slow(False)
        r = await fl.request(s.fleet.port, "stop_worker", u)
        await asyncio.sleep(5)
        alive = fl.pid_alive(w2)
        d = await s.details(u)
        await fl.simple(s.fleet.port, "stop", lambda f: True, 5)
        s.fleet.master.proc.wait(30)
        after = fl.pid_alive(w2)
        return verdict(
            "R2 worker orphaned before its .p, new master",
            alive or after,
            "stop_worker -> %s; 5 s later worker %d %s, worker_details %s; "
            "after the manager's `stop` (exit %s) it is %s"
            % (r.status, w2, "still runs" if alive else "is gone", d,
               s.fleet.master.proc.returncode,
               "still running" if after else "gone"),
            "the new master adopts the worker (its run lock is held); "
            "stop_worker stops it; nothing outlives `stop`")
    finally:
        s.finish()


async def r3():
    s = Scenario("R3")
    try:
        u, w2 = await orphan_before_p(s)
        s.slow(False)
        # until the registry sees it answer: running, unsupervised
        deadline = time.monotonic() + 15
        while (await s.details(u)).get("state") != "running":
            assert time.monotonic() < deadline, await s.details(u)
            await asyncio.sleep(0.05)
        d0 = await s.details(u)
        r = await fl.request(s.fleet.port, "set_active", u)
        d1 = await s.details(u)
        os.kill(w2, signal.SIGKILL)
        await asyncio.sleep(3)
        ws, ms = s.procs(u)
        d2 = await s.details(u)
        return verdict(
            "R3 set_active on an active unsupervised worker",
            not ws or not d1.get("monitor_pid"),
            "before set_active %s; set_active -> %s; then %s; worker %d "
            "killed: 3 s later workers %s monitors %s, %s"
            % (d0, r.status, d1, w2, ws, ms, d2),
            "set_active makes sure a monitor supervises the worker, and a "
            "crash is restarted by policy")
    finally:
        s.finish()


async def r4():
    s = Scenario("R4")
    try:
        await s.fleet.start_master()
        # the stop lasts stop_timeout (2 s) until the monitor's SIGTERM
        u = await s.running_worker({"ignore_stop": True})
        stop = asyncio.ensure_future(fl.request(s.fleet.port, "stop_worker",
                                                u))
        deadline = time.monotonic() + 5
        while (await s.details(u)).get("state") != "stopping":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        s.fleet.kill_master()
        await stop
        await s.fleet.start_master()
        r = await fl.request(s.fleet.port, "set_active", u)
        await asyncio.sleep(5)
        ws, ms = s.procs(u)
        d = await s.details(u)
        return verdict(
            "R4 set_active during a previous master's stop",
            r.status == "ok" and not ws,
            "set_active -> %s (pid %s); 5 s later workers %s monitors %s, "
            "worker_details %s" % (r.status, (r.final or {}).get(
                "data", {}).get("pid"), ws, ms, d),
            "set_active answers set_worker only for a worker that then "
            "runs (start it again once the stop is over)")
    finally:
        s.finish()


async def r5():
    s = Scenario("R5")
    try:
        await s.fleet.start_master()
        # an orderly stop that takes 1.5 s after the stop command
        u = await s.running_worker({"exit_delay": 1.5})
        (w,), (mon,) = s.procs(u)
        stop = asyncio.ensure_future(fl.request(s.fleet.port, "stop_worker",
                                                u))
        deadline = time.monotonic() + 5
        while (await s.details(u)).get("state") != "stopping":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        os.kill(mon, signal.SIGKILL)
        await stop
        await fl.async_wait_for(lambda: not fl.pid_alive(w), 10,
                                "the worker to exit")
        r = await fl.request(s.fleet.port, "delete_worker", u)
        left = fl.files_of(s.fleet.workers_dir, u)
        return verdict(
            "R5 delete after the monitor died during a stop",
            bool(left),
            "delete_worker -> %s; files left: %s" % (r.status, left),
            "no worker_%s.* file is left" % u)
    finally:
        s.finish()


async def r6():
    s = Scenario("R6")
    try:
        await s.fleet.start_master()
        u = await s.running_worker()
        (w,), (mon,) = s.procs(u)
        os.kill(mon, signal.SIGKILL)
        s.fleet.kill_master()
        # a monitor that never gets its configuration: started with a
        # channel whose other end closes at once (as when its master dies
        # between the fork and CMD_CONFIG); it adopts the running worker
        mine, theirs = socket.socketpair()
        cfd = theirs.fileno()

        def to_fd3():
            os.dup2(cfd, 3)
        log = open(os.path.join(s.root, "monitor.log"), "wb")
        p = subprocess.Popen(
            ["fnwm-monitor: %s" % u, "--uuid", u, "--workers-dir",
             s.fleet.workers_dir], executable=monitor_bin(),
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            close_fds=False, preexec_fn=to_fd3, start_new_session=True,
            env=s.fleet.env)
        s.extra.append(p)
        theirs.close()
        mine.close()
        log.close()
        # it listens on worker_<uuid>.sock before it attaches the channel
        await fl.async_wait_for(
            lambda: b"still supervising" in (fl._read(log.name) or b""), 5,
            "the monitor to listen")
        await s.fleet.start_master()
        d0 = await s.details(u)
        r = await fl.request(s.fleet.port, "restart_worker", u, timeout=30)
        await asyncio.sleep(1)
        for p in s.procs(u)[0]:
            os.kill(p, signal.SIGKILL)
        await asyncio.sleep(4)
        ws, ms = s.procs(u)
        d = await s.details(u)
        with open(os.path.join(s.root, "monitor.log"), "rb") as f:
            mlog = [ln for ln in f.read().decode().splitlines()
                    if "configuration" in ln][:3]
        return verdict(
            "R6 re-adopted monitor without configuration",
            r.status != "ok" or not ws,
            "after re-adoption %s; restart_worker -> %s %s; worker killed: "
            "4 s later workers %s, %s; monitor says %s"
            % (d0, r.status, (r.final or {}).get("message", ""), ws, d,
               mlog),
            "the new master configures the monitor it re-adopts: the "
            "restart works and a crash is restarted")
    finally:
        s.finish()


async def r7():
    s = Scenario("R7")
    try:
        await s.fleet.start_master()
        u = await s.running_worker()
        (w,), (mon,) = s.procs(u)
        # A monitor the next master cannot reach: in the wild, one still
        # starting (it holds its lock, it does not listen yet) when a new
        # master starts; here its socket file is gone.
        s.fleet.kill_master()
        os.unlink(os.path.join(s.fleet.workers_dir, "worker_%s.sock" % u))
        await s.fleet.start_master()
        await asyncio.sleep(2)
        d = await s.details(u)
        ws, ms = s.procs(u)
        await fl.simple(s.fleet.port, "stop", lambda f: True, 5)
        s.fleet.master.proc.wait(30)
        await asyncio.sleep(3)
        ws2, ms2 = s.procs(u)
        return verdict(
            "R7 live monitor the new master cannot reach",
            bool(ws2 or ms2),
            "workers %s monitors %s, worker_details %s; master log: %s; "
            "3 s after `stop` (exit %s) workers %s monitors %s"
            % (ws, ms, d, [ln[24:] for ln in
                           s.fleet.masters[1].log().splitlines()
                           if "101" in ln or "supervises" in ln][:2],
               s.fleet.master.proc.returncode, ws2, ms2),
            "the master re-adopts (retries) the monitor that holds the "
            "lock; `stop` leaves nothing running")
    finally:
        s.finish()


SCENARIOS = {"R1": r1, "R2": r2, "R3": r3, "R4": r4, "R5": r5, "R6": r6,
             "R7": r7}


def main():
    names = [a.upper() for a in sys.argv[1:]] or list(SCENARIOS)
    print("fnwm %s" % subprocess.run([fl.FNWM_BIN, "--version"],
                                     capture_output=True,
                                     text=True).stdout.strip(), flush=True)
    bugs = 0
    for n in names:
        bugs += bool(asyncio.run(SCENARIOS[n]()))
    sys.exit(1 if bugs else 0)


if __name__ == "__main__":
    main()
