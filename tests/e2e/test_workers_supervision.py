"""Supervision: restarts with backoff after a kill -9, a crash loop that
gives up, the stop escalation against a worker that ignores everything
(its whole process group goes), and a killed monitor whose replacement
adopts the running worker."""
import asyncio
import os
import signal
import stat
import time

from workers_util import harness  # noqa: F401 (the fixture)
from workers_util import (KILL_TIMEOUT, PYTHON, STOP_TIMEOUT, T,
                          async_wait_for, group_pids, is_event, is_progress,
                          is_reset, is_type, monitor_pids, pid_alive,
                          progress_line, replies, short, wait_gone,
                          wait_worker_pids, worker_pids)

SLACK = 4.0  # s beyond stop_timeout + kill_timeout


def status_has(uuid, lst, pid=None):
    def pred(x):
        if not is_type("worker_status")(x):
            return False
        for e in x[lst]:
            if e.get("uuid") == uuid and (pid is None or e.get("pid") == pid):
                return True
        return False
    return pred


def test_kill9_restarts_with_backoff_and_broadcast(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        other = await h.client("other")
        policy = {"restart": "on-failure", "healthy_after": 60,
                  "backoff_initial": 1, "backoff_max": 8,
                  "giveup_count": 10, "giveup_window": 60}
        uuid, pid = await h.running_worker(c, fnwm=policy)
        pids = [pid]
        for n, delay in ((1, 1.0), (2, 2.0)):
            m, mo = c.mark(), other.mark()
            os.kill(pids[-1], signal.SIGKILL)
            i = await c.wait(is_event(uuid, "backoff"), T(5), m,
                             "a backoff event")
            ev = c.msgs[i]
            assert ev["pid"] is None, ev
            assert ev["last_exit"] == {"code": None, "signal": 9}, ev
            assert ev["restarts"] == n, ev
            assert ev["adopted"] is False
            left = ev["next_restart"] - c.walls[i]
            assert delay - 0.5 <= left <= delay + 0.5 * T(1), (left, ev)
            j = await c.wait(is_event(uuid, "starting"), T(5) + delay, i,
                             "the restart")
            new = c.msgs[j]["pid"]
            assert new not in pids and new > 0
            # The backoff was kept.
            assert c.times[j] - c.times[i] >= delay - 0.2, (
                c.times[j] - c.times[i])
            assert c.msgs[j]["restarts"] == n
            # Every client is told; the new worker turns active.
            await other.wait(is_event(uuid, "backoff"), T(5), mo)
            await other.wait(is_event(uuid, "starting"), T(5), mo)
            await c.wait(status_has(uuid, "active", new), T(15), j,
                         "status with the restarted worker active")
            assert worker_pids(uuid) == [new]
            pids.append(new)
        assert len(monitor_pids(uuid)) == 1
        # It is the worker in the manager's hands: set_active is cheap.
        data = await h.activate(c, uuid, timeout=T(3))
        assert data["pid"] == pids[-1]
    harness.run(body())


def test_kill9_after_healthy_period_restarts_at_once(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        uuid, pid = await h.running_worker(
            c, fnwm={"healthy_after": 0.3, "backoff_initial": 5})
        i = await c.wait(is_event(uuid, "starting"), T(5), 0)
        await c.wait(is_event(uuid, "running"), T(5), i, "running (healthy)")
        # Well past the healthy period (the monitor's timer and its
        # uptime clock may disagree by a few ms; not the subject here).
        t_start = c.times[i]
        await async_wait_for(lambda: time.monotonic() > t_start + 0.6,
                             T(2))
        m = c.mark()
        os.kill(pid, signal.SIGKILL)
        j = await c.wait(is_event(uuid, "starting"), T(3), m,
                         "an immediate restart")
        assert not [x for x in c.msgs[m:j] if is_event(uuid, "backoff")(x)]
        assert c.msgs[j]["last_exit"] == {"code": None, "signal": 9}
        new = c.msgs[j]["pid"]
        assert new != pid
        await c.wait(status_has(uuid, "active", new), T(15), j)
        assert worker_pids(uuid) == [new]
    harness.run(body())


def test_crash_loop_gives_up(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        policy = {"backoff_initial": 0.1, "backoff_max": 0.2,
                  "giveup_count": 3, "giveup_window": 60}
        uuid = await h.created_worker(c, fnwm=policy,
                                      test_behaviour={"exit_at_once": 3})
        m = c.mark()
        tr, last = await h.set_active(c, uuid)
        # The reference's text, optionally followed by fnwm's detail.
        assert last["type"] == "error"
        assert last["message"].startswith(
            "Could not activate worker with id %s." % uuid), last
        lines = [progress_line(x) for x in replies(tr)]
        assert lines[:3] == [("Activating worker.", 0.1, True),
                             ("Starting worker.", 0.4, True),
                             ("Contacting worker.", 0.5, True)], short(lines)
        assert lines[-2:] == ["error", ("", 1, False)], short(lines)
        i = await c.wait(is_event(uuid, "failed"), T(10), m)
        states = [x["state"] for x in c.msgs[m:i + 1]
                  if is_event(uuid)(x)]
        # down (new monitor), then three lives with backoffs between.
        assert [s for s in states if s != "down"] == [
            "starting", "backoff", "starting", "backoff", "starting",
            "failed"], states
        ev = c.msgs[i]
        assert ev["last_exit"] == {"code": 3, "signal": None}, ev
        assert ev["pid"] is None and ev["next_restart"] is None
        # No more restarts: nothing starts within many backoff periods.
        n = c.mark()
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert worker_pids(uuid) == []
            await asyncio.sleep(0.05)
        assert not [x for x in c.msgs[n:] if is_event(uuid)(x)], \
            short(c.msgs[n:])
        # A new set_active is a fresh start (and fails the same way).
        m = c.mark()
        tr, last = await h.set_active(c, uuid)
        assert last["type"] == "error"
        assert [x["state"] for x in c.msgs[m:] if is_event(uuid)(x)
                ].count("starting") == 3
    harness.run(body())


def wrapper_python(tmp):
    """A "python" that first starts a SIGTERM-ignoring child in the
    worker's process group, then execs the real one."""
    path = os.path.join(tmp, "python-with-child")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                "%s -c 'import signal, time; "
                "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "time.sleep(600)' fnwm-test-grandchild &\n"
                "exec %s \"$@\"\n" % (PYTHON, PYTHON))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def test_stop_escalates_on_worker_ignoring_everything(harness, tmp_path):
    async def body():
        h = harness.start(python=wrapper_python(str(tmp_path)))
        c = await h.client()
        uuid, pid = await h.running_worker(
            c, test_behaviour={"ignore_stop": True, "ignore_sigterm": True})
        group = await async_wait_for(
            lambda: len(group_pids(pid)) >= 2 and group_pids(pid), T(5),
            "the worker's child in its process group")
        assert pid in group
        m = c.mark()
        t0 = time.monotonic()
        await c.send({"type": "stop_worker", "workerid": uuid})
        bound = T(STOP_TIMEOUT + KILL_TIMEOUT + SLACK)
        await async_wait_for(lambda: not group_pids(pid), bound,
                             "the worker's process group %s to be gone "
                             "(stop_timeout %g + kill_timeout %g + %g s)"
                             % (group, STOP_TIMEOUT, KILL_TIMEOUT, SLACK))
        took = time.monotonic() - t0
        # It did not go early: the worker ignored the stop and SIGTERM.
        assert took >= STOP_TIMEOUT + KILL_TIMEOUT - 0.3, took
        i = await c.wait(is_reset, T(5), m, "the end of stop_worker")
        assert [progress_line(x) for x in replies(c.msgs[m:i + 1])] == [
            ("Stopping worker.", 0.1, True), ("", 1, False)]
        k = await c.wait(is_event(uuid, "down"), T(5), m)
        assert c.msgs[k]["last_exit"] == {"code": None, "signal": 9}
        assert worker_pids(uuid) == []
        await wait_gone(monitor_pids(uuid), T(5), "the monitor")
    harness.run(body())


def test_delete_worker_ignoring_everything(harness, tmp_path):
    async def body():
        h = harness.start(python=wrapper_python(str(tmp_path)))
        c = await h.client()
        uuid, pid = await h.running_worker(
            c, test_behaviour={"ignore_stop": True, "ignore_sigterm": True})
        group = await async_wait_for(
            lambda: len(group_pids(pid)) >= 2 and group_pids(pid), T(5))
        bound = T(STOP_TIMEOUT + KILL_TIMEOUT + SLACK)
        tr, last = await h.op(c, "delete_worker", uuid,
                              lambda x: is_type("worker_deleted")(x) or
                              is_type("error")(x), bound)
        assert last == {"type": "worker_deleted", "uuid": uuid}, short(tr)
        assert not [p for p in group if pid_alive(p)], group
        assert h.files_of(uuid) == []
        assert not os.path.exists(h.data_dir(uuid))
    harness.run(body())


def test_activation_by_a_new_master_leaves_worker_supervised(harness):
    """A worker still starting when its master is killed: the next master
    re-adopts its monitor and, asked to activate it, sends that monitor a
    start that changes nothing. The monitor answers it, and the master
    keeps showing the worker as supervised by it."""
    async def body():
        h = harness.start()
        c = await h.client()
        uuid = await h.created_worker(c, test_behaviour={"start_delay": 3})
        await c.send({"type": "set_active", "workerid": uuid})
        [pid] = await wait_worker_pids(uuid, 1)
        [mon] = monitor_pids(uuid)
        h.proc.kill()
        h.proc.wait()
        h.start()
        c2 = await h.client()
        tr, last = await h.set_active(c2, uuid, timeout=T(15))
        assert last["type"] == "set_worker", short(tr)
        assert last["data"]["pid"] == pid
        assert worker_pids(uuid) == [pid] and monitor_pids(uuid) == [mon]
        m = c2.mark()
        await c2.send("worker_details")
        i = await c2.wait(is_type("worker_details"), T(5), m)
        [d] = [x for x in c2.msgs[i]["workers"] if x["uuid"] == uuid]
        assert d.get("monitor_pid") == mon and d["pid"] == pid, d
        assert d.get("supervised", True) and d["state"] in (
            "starting", "running"), d
    harness.run(body())


def test_worker_in_backoff_is_started_after_master_and_monitor_die(harness):
    """The master and then the monitor are killed while the worker waits
    in backoff (its restart policy had decided to restart it): the .status
    the dead monitor left says so, and the next master starts the worker.
    A worker stopped on request stays stopped."""
    async def body():
        h = harness.start()
        c = await h.client()
        policy = {"backoff_initial": 30, "backoff_max": 60,
                  "healthy_after": 60}
        uuid, pid = await h.running_worker(c, fnwm=policy)
        idle, _ = await h.running_worker(c)
        await h.stop_worker(c, idle, timeout=T(10))
        [mon] = monitor_pids(uuid)
        m = c.mark()
        os.kill(pid, signal.SIGKILL)
        await c.wait(is_event(uuid, "backoff"), T(5), m)
        h.proc.kill()
        h.proc.wait()
        os.kill(mon, signal.SIGKILL)
        await wait_gone([pid, mon], T(5), "the worker and its monitor")
        h.start()
        [new] = await wait_worker_pids(uuid, 1, T(10))
        assert new != pid
        [new_mon] = await async_wait_for(lambda: monitor_pids(uuid), T(5),
                                         "a monitor for the worker")
        assert new_mon != mon
        c2 = await h.client()
        m = c2.mark()
        await c2.send("worker_details")
        i = await c2.wait(is_type("worker_details"), T(5), m)
        d = {x["uuid"]: x for x in c2.msgs[i]["workers"]}
        assert d[uuid].get("monitor_pid") == new_mon, d[uuid]
        assert d[uuid]["pid"] == new, d[uuid]
        assert worker_pids(idle) == [] and monitor_pids(idle) == []
        assert d[idle]["state"] == "down", d[idle]
    harness.run(body())


def test_killed_monitor_is_replaced_and_adopts_worker(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        uuid, pid = await h.running_worker(c)
        [mon] = monitor_pids(uuid)
        m = c.mark()
        os.kill(mon, signal.SIGKILL)
        new_mon = await async_wait_for(
            lambda: [p for p in monitor_pids(uuid) if p != mon], T(10),
            "a replacement monitor")
        assert len(new_mon) == 1
        i = await c.wait(lambda x: is_event(uuid, "running")(x) and
                         x["adopted"] is True, T(10), m,
                         "the adopted worker reported running")
        assert c.msgs[i]["pid"] == pid
        # Never a second worker, never a restart of this one.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            assert worker_pids(uuid) == [pid]
            await asyncio.sleep(0.05)
        assert not [x for x in c.msgs[m:] if is_event(uuid, "starting")(x)]
        # Still the active worker, handed out without a start.
        tr, last = await h.set_active(c, uuid, timeout=T(3))
        assert last["type"] == "set_worker" and last["data"]["pid"] == pid
        assert "Starting worker." not in [x["message"] for x in tr
                                          if is_progress(x)]
        # The new monitor supervises it: a kill -9 of the worker is
        # noticed and it is restarted.
        m = c.mark()
        os.kill(pid, signal.SIGKILL)
        j = await c.wait(is_event(uuid, "starting"), T(10), m,
                         "the restart by the new monitor")
        new = c.msgs[j]["pid"]
        assert new != pid
        # The monitor cannot know how a process it did not start ended;
        # whatever it says must not be a wrong signal.
        ends = [x for x in c.msgs[m:j] if is_event(uuid)(x) and
                x["state"] in ("backoff", "down", "failed")]
        assert ends, short(c.msgs[m:j])
        wrong = [x["last_exit"] for x in ends if x["last_exit"] is not None
                 and x["last_exit"]["signal"] not in (None, 9)]
        await c.wait(status_has(uuid, "active", new), T(15), j,
                     "status with the restarted worker active")
        assert worker_pids(uuid) == [new]
        # And stop_worker stops it for good.
        await h.stop_worker(c, uuid, timeout=T(15))
        await wait_gone([new], T(5), "the worker")
        assert worker_pids(uuid) == []
        assert not wrong, ("adopted worker killed by SIGKILL reported "
                           "with last_exit %r" % wrong)
    harness.run(body())


def test_kill9_worker_leftover_children_do_not_block_restart(harness,
                                                             tmp_path):
    """A worker killed hard may leave children in its process group
    (they inherited the worker's run lock). The monitor must clean them
    up, and the restart must succeed."""
    async def body():
        h = harness.start(python=wrapper_python(str(tmp_path)))
        c = await h.client()
        uuid, pid = await h.running_worker(
            c, fnwm={"backoff_initial": 0.2, "healthy_after": 60})
        group = await async_wait_for(
            lambda: len(group_pids(pid)) >= 2 and group_pids(pid), T(5),
            "the worker's child in its process group")
        m = c.mark()
        os.kill(pid, signal.SIGKILL)
        i = await c.wait(lambda x: is_event(uuid, "failed")(x) or (
            is_type("worker_status")(x) and any(
                e["uuid"] == uuid and e["pid"] != pid for e in x["active"])),
            T(15), m, "the restarted worker active")
        assert c.msgs[i]["type"] == "worker_status", (
            "the restart failed (old group %s still alive: %s): %s"
            % (group, group_pids(pid), short([x for x in c.msgs[m:i + 1]
                                             if is_event(uuid)(x)])))
        new = [e["pid"] for e in c.msgs[i]["active"] if e["uuid"] == uuid][0]
        assert worker_pids(uuid) == [new]
        # The old worker's leftovers are gone.
        await async_wait_for(lambda: not group_pids(pid), T(5),
                             "the killed worker's group %s to be gone"
                             % group)
    harness.run(body())


def test_delete_worker_in_backoff_or_failed_leaves_nothing(harness):
    """Deleting a worker whose monitor is alive but whose worker is not
    (backoff after a kill, failed after a crash loop) removes everything,
    the monitor included."""
    async def body():
        h = harness.start()
        c = await h.client()
        for state in ("backoff", "failed"):
            m = c.mark()
            if state == "backoff":
                uuid, pid = await h.running_worker(
                    c, fnwm={"backoff_initial": 30, "healthy_after": 60})
                os.kill(pid, signal.SIGKILL)
            else:
                uuid = await h.created_worker(
                    c, fnwm={"backoff_initial": 0.1, "giveup_count": 2},
                    test_behaviour={"exit_at_once": 1})
                tr, last = await h.set_active(c, uuid)
                assert last["type"] == "error", short(tr)
            await c.wait(is_event(uuid, state), T(10), m)
            mons = monitor_pids(uuid)
            assert len(mons) == 1
            tr, last = await h.op(c, "delete_worker", uuid,
                                  lambda x: is_type("worker_deleted")(x) or
                                  is_type("error")(x), T(15))
            assert last == {"type": "worker_deleted", "uuid": uuid}, \
                short(tr)
            await wait_gone(mons, T(5), "the monitor")
            assert h.files_of(uuid) == [], h.files_of(uuid)
            assert not os.path.exists(h.data_dir(uuid))
            assert worker_pids(uuid) == []
    harness.run(body())
