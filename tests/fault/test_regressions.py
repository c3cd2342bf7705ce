"""Deterministic regression tests for the supervision bugs that the fault
injection test (test_fault_injection.py) ran into at random.

Each test builds the situation the random run met by chance -- a worker
slowed down before it writes its .p (slowstart/sitecustomize.py), a worker
that is slow to exit, a monitor that never got its configuration -- and
fails, with what fnwm did against what it should do, if the bug is back.

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

The monitor of R6 is $FNWM_MONITOR_BIN (default: fnwm-monitor beside
$FNWM_BIN, or in the build tree's monitor/). A scenario's dir (config,
masters' stderr) is kept when its test fails, or always with
FNWM_KEEP_TMP=1.
"""
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import faultlib as fl

HERE = os.path.dirname(os.path.abspath(__file__))
SLOWSTART = os.path.join(HERE, "slowstart")


def monitor_bin():
    if os.environ.get("FNWM_MONITOR_BIN"):
        return os.path.abspath(os.environ["FNWM_MONITOR_BIN"])
    d = os.path.dirname(fl.FNWM_BIN)
    for cand in (os.path.join(d, "fnwm-monitor"),
                 os.path.join(d, "..", "monitor", "fnwm-monitor")):
        if os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    raise AssertionError("no fnwm-monitor beside %s (set FNWM_MONITOR_BIN)"
                         % fl.FNWM_BIN)


class Scenario:
    def __init__(self, name):
        self.name = name
        # Short, under /tmp: the monitors' unix sockets live in it.
        self.root = tempfile.mkdtemp(prefix="fnwm-%s-" % name)
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
        await self.until_state(u, "running", 5)
        return u

    async def until_state(self, u, state, timeout):
        deadline = time.monotonic() + fl.T(timeout)
        while (await self.details(u)).get("state") != state:
            assert time.monotonic() < deadline, (state, await self.details(u))
            await asyncio.sleep(0.02)

    async def orphan(self, u):
        """Kills the master and every monitor of u, the replacement the
        master may have spawned for a killed one included: the worker is
        left running without either."""
        self.fleet.kill_master()

        def no_monitor():
            mons = self.procs(u)[1]
            for p in mons:
                fl.kill_pid(p)
            return not mons
        for _ in range(2):  # again once a forked child had time to exec
            await fl.async_wait_for(no_monitor, fl.T(5),
                                    "no monitor of %s left" % u)
            await asyncio.sleep(0.2)

    async def respawned(self, u, old):
        """The worker process that the monitor started after old died."""
        return (await fl.async_wait_for(
            lambda: [p for p in self.procs(u)[0] if p != old], fl.T(5),
            "a new worker process of %s" % u))[0]

    def finish(self, failed):
        self.slow(False)
        for p in self.extra:
            if p.poll() is None:
                p.kill()
            p.wait()
        left = self.fleet.cleanup()
        problems = self.fleet.sanitizer_problems()
        if left:
            problems.append("processes survived SIGKILL: %s" % left)
        if failed or problems or os.environ.get("FNWM_KEEP_TMP"):
            print("scenario dir (config, masters' stderr): %s" % self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        return problems


def scenario(name, body, expect_bug=False):
    """Runs body(s) on a fresh Scenario, always cleaning up; fails on a
    sanitizer report or a process that survives the clean-up. The dir of
    a failed scenario is kept, but not that of one whose bug is known to
    be open (expect_bug): it would pile up, one per run."""
    s = Scenario(name)
    failed = not expect_bug
    try:
        asyncio.run(body(s))
        failed = False
    finally:
        problems = s.finish(failed)
    assert not problems, "\n".join(problems)


def check(bug, observed, expected):
    assert not bug, "observed: %s\nexpected: %s" % (observed, expected)


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
    await s.orphan(u)
    await s.fleet.start_master()
    return u, w2


def test_r1_monitor_replaced_while_worker_starts():
    async def body(s):
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
        check(d.get("state") != "running" or d.get("pid") != w2,
              "worker %d runs (/proc %s), its new monitor %s reports %s"
              % (w2, ws, ms, d),
              "the new monitor adopts worker %d once its .p appears "
              "(state running, pid %d)" % (w2, w2))
    scenario("R1", body)


def test_r2_orphan_before_p_adopted_by_new_master():
    async def body(s):
        u, w2 = await orphan_before_p(s)
        s.slow(False)
        r = await fl.request(s.fleet.port, "stop_worker", u)
        await asyncio.sleep(5)
        alive = fl.pid_alive(w2)
        d = await s.details(u)
        await fl.simple(s.fleet.port, "stop", lambda f: True, 5)
        s.fleet.master.proc.wait(30)
        after = fl.pid_alive(w2)
        check(alive or after,
              "stop_worker -> %s; 5 s later worker %d %s, worker_details "
              "%s; after the manager's `stop` (exit %s) it is %s"
              % (r.status, w2, "still runs" if alive else "is gone", d,
                 s.fleet.master.proc.returncode,
                 "still running" if after else "gone"),
              "the new master adopts the worker (its run lock is held); "
              "stop_worker stops it; nothing outlives `stop`")
    scenario("R2", body)


def test_r3_set_active_supervises_unsupervised_worker():
    async def body(s):
        u, w2 = await orphan_before_p(s)
        s.slow(False)
        # until the registry sees it answer: running, unsupervised
        await s.until_state(u, "running", 15)
        d0 = await s.details(u)
        r = await fl.request(s.fleet.port, "set_active", u)
        d1 = await s.details(u)
        os.kill(w2, signal.SIGKILL)
        await asyncio.sleep(3)
        ws, ms = s.procs(u)
        d2 = await s.details(u)
        check(not ws or not d1.get("monitor_pid"),
              "before set_active %s; set_active -> %s; then %s; worker %d "
              "killed: 3 s later workers %s monitors %s, %s"
              % (d0, r.status, d1, w2, ws, ms, d2),
              "set_active makes sure a monitor supervises the worker, and "
              "a crash is restarted by policy")
    scenario("R3", body)


def test_r4_set_active_during_previous_masters_stop():
    async def body(s):
        await s.fleet.start_master()
        # the stop lasts stop_timeout (2 s) until the monitor's SIGTERM
        u = await s.running_worker({"ignore_stop": True})
        stop = asyncio.ensure_future(fl.request(s.fleet.port,
                                                "stop_worker", u))
        await s.until_state(u, "stopping", 5)
        s.fleet.kill_master()
        await stop
        await s.fleet.start_master()
        r = await fl.request(s.fleet.port, "set_active", u)
        await asyncio.sleep(5)
        ws, ms = s.procs(u)
        d = await s.details(u)
        check(r.status == "ok" and not ws,
              "set_active -> %s (pid %s); 5 s later workers %s monitors %s, "
              "worker_details %s" % (r.status, (r.final or {}).get(
                  "data", {}).get("pid"), ws, ms, d),
              "set_active answers set_worker only for a worker that then "
              "runs (start it again once the stop is over)")
    scenario("R4", body)


def test_r5_delete_after_monitor_died_during_stop():
    async def body(s):
        await s.fleet.start_master()
        # an orderly stop that takes 1.5 s after the stop command
        u = await s.running_worker({"exit_delay": 1.5})
        (w,), (mon,) = s.procs(u)
        stop = asyncio.ensure_future(fl.request(s.fleet.port,
                                                "stop_worker", u))
        await s.until_state(u, "stopping", 5)
        os.kill(mon, signal.SIGKILL)
        await stop
        await fl.async_wait_for(lambda: not fl.pid_alive(w), fl.T(10),
                                "the worker to exit")
        r = await fl.request(s.fleet.port, "delete_worker", u)
        left = fl.files_of(s.fleet.workers_dir, u)
        check(bool(left),
              "delete_worker -> %s; files left: %s" % (r.status, left),
              "no worker_%s.* file is left" % u)
    scenario("R5", body)


def test_r6_readopted_monitor_without_configuration():
    async def body(s):
        await s.fleet.start_master()
        u = await s.running_worker()
        (w,), (mon,) = s.procs(u)
        os.kill(mon, signal.SIGKILL)
        await s.orphan(u)
        # a monitor that never gets its configuration: started with a
        # channel whose other end closes at once (as when its master dies
        # between the fork and CMD_CONFIG); it adopts the running worker
        mine, theirs = socket.socketpair()
        cfd = theirs.fileno()

        def to_fd3():
            os.dup2(cfd, 3)
        log_path = os.path.join(s.root, "monitor.log")
        with open(log_path, "wb") as log:
            p = subprocess.Popen(
                ["fnwm-monitor: %s" % u, "--uuid", u, "--workers-dir",
                 s.fleet.workers_dir], executable=monitor_bin(),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                close_fds=False, preexec_fn=to_fd3, start_new_session=True,
                env=s.fleet.env)
        s.extra.append(p)
        theirs.close()
        mine.close()
        # it listens on worker_<uuid>.sock before it attaches the channel
        await fl.async_wait_for(
            lambda: b"still supervising" in (fl._read(log_path) or b""),
            fl.T(5), "the monitor to listen")
        await s.fleet.start_master()
        d0 = await s.details(u)
        r = await fl.request(s.fleet.port, "restart_worker", u, timeout=30)
        await asyncio.sleep(1)
        for pid in s.procs(u)[0]:
            os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(4)
        ws, ms = s.procs(u)
        d = await s.details(u)
        mlog = [ln for ln in (fl._read(log_path) or b"").decode(
            "utf-8", "replace").splitlines() if "configuration" in ln][:3]
        check(r.status != "ok" or not ws,
              "after re-adoption %s; restart_worker -> %s %s; worker "
              "killed: 4 s later workers %s, %s; monitor says %s"
              % (d0, r.status, (r.final or {}).get("message", ""), ws, d,
                 mlog),
              "the new master configures the monitor it re-adopts: the "
              "restart works and a crash is restarted")
    scenario("R6", body)


def test_r7_unreachable_live_monitor_readopted():
    async def body(s):
        await s.fleet.start_master()
        u = await s.running_worker()
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
        check(bool(ws2 or ms2),
              "workers %s monitors %s, worker_details %s; master log: %s; "
              "3 s after `stop` (exit %s) workers %s monitors %s"
              % (ws, ms, d, [ln[24:] for ln in
                             s.fleet.masters[1].log().splitlines()
                             if "101" in ln or "supervises" in ln][:2],
                 s.fleet.master.proc.returncode, ws2, ms2),
              "the master re-adopts (retries) the monitor that holds the "
              "lock; `stop` leaves nothing running")
    scenario("R7", body)
