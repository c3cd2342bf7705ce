"""A long preparation step (a venv's creation, an upgrade) is cancelled by
delete_worker, stop_worker and the manager's own stop: the step's whole
process group goes at once, not when the step would have finished."""
import os
import signal

from venv_util import (CREATE_TIMEOUT, T, async_wait_for, cmdline,
                       group_pids, is_progress, is_reset, is_type,
                       monitor_pids, pids_with_arg, proc_stat, run, short,
                       slow_pip_in_venv, slow_python, vh, wait_for, wait_gone,
                       wait_worker_pids, wheels, worker_pids)

assert vh and wheels  # fixtures, used by name

SLEEP = 60   # what the slow step would take: far beyond every deadline
QUICK = 10   # s (stretched under sanitizers) for a cancellation to work


async def _step_group(marker, what):
    """Waits for the slow step (a process whose argv contains marker);
    returns the pids of its process group (the sh and its sleep)."""
    found = []

    def cond():
        pids = pids_with_arg(marker)
        for p in pids:
            st = proc_stat(p)
            if st is None:
                continue
            grp = group_pids(st[2])
            # sh has started its sleep: the whole group is there.
            if len(grp) >= 2:
                # The step runs in its own process group (setsid).
                assert st[2] == p, (p, st)
                found[:] = grp
                return True
        return False
    await async_wait_for(cond, T(CREATE_TIMEOUT), what)
    return list(found)


def _uuid_of_monitor_for(vh, name):
    for n in os.listdir(vh.workers_dir):
        if n.startswith("worker_%s_" % name) and n.endswith(".lock"):
            return n[len("worker_"):-len(".lock")]
    return None


def test_delete_during_creation(vh):
    """delete_worker while `python -m venv` runs: the step group is
    killed at once, the creator gets an error and a reset, the deleter
    its answer, and nothing of the worker is left."""
    vh.wh.base()
    slow = slow_python(os.path.join(vh.tmp, "slowpython"), SLEEP)
    vh.start(fnwm={"venv_python": slow})

    async def body():
        a = await vh.client("A")
        d = await vh.client("D")
        ma = await vh.send_new_worker(a, name="slow")
        grp = await _step_group(slow, "the slow venv step")
        # The uuid: from the monitor's files (no JSON exists yet).
        uuid = await async_wait_for(lambda: _uuid_of_monitor_for(vh, "slow"),
                                    T(10), "the monitor's files")
        vh.uuids.add(uuid)
        md = d.mark()
        await d.send({"type": "delete_worker", "workerid": uuid})
        # The step's processes go quickly.
        await wait_gone(grp, T(QUICK), "the slow step's process group")
        # The creation fails; the creator hears of it.
        i = await a.wait(lambda m: is_type("error")(m) or
                         is_type("worker_created")(m), T(QUICK), ma,
                         "the end of the creation")
        assert is_type("error")(a.msgs[i]), short(a.msgs[ma:])
        await a.wait(is_reset, T(5), i + 1, "the creator's reset")
        # The deleter gets an answer (deleted, or not found since the
        # worker never came to exist) and a reset or nothing more.
        j = await d.wait(lambda m: is_type("worker_deleted")(m) or
                         is_type("error")(m), T(QUICK), md,
                         "the answer to delete_worker")
        if is_type("worker_deleted")(d.msgs[j]):
            await d.wait(is_reset, T(5), j + 1, "the deleter's reset")
        return uuid, grp

    uuid, grp = run(body(), CREATE_TIMEOUT + 60, vh)
    wait_for(lambda: not monitor_pids(uuid), T(10), "the monitor to exit")
    wait_for(lambda: os.listdir(vh.workers_dir) == [], T(10),
             "an empty workers dir (have %s)" % os.listdir(vh.workers_dir))


def test_manager_stop_during_creation(vh):
    """SIGTERM to the manager while `python -m venv` runs: the manager
    exits promptly and takes the step's process group and the monitor
    with it; no worker JSON is left."""
    vh.wh.base()
    slow = slow_python(os.path.join(vh.tmp, "slowpython"), SLEEP)
    vh.start(fnwm={"venv_python": slow})

    async def body():
        a = await vh.client("A")
        await vh.send_new_worker(a, name="slow")
        grp = await _step_group(slow, "the slow venv step")
        uuid = await async_wait_for(lambda: _uuid_of_monitor_for(vh, "slow"),
                                    T(10), "the monitor's files")
        vh.uuids.add(uuid)
        mons = monitor_pids(uuid)
        assert mons, "no monitor for %s" % uuid
        vh.proc.send_signal(signal.SIGTERM)
        rc = await vh.wait_exit(T(QUICK + 5))
        assert rc == 0, rc
        await wait_gone(grp, T(QUICK), "the slow step's process group")
        await wait_gone(mons, T(QUICK), "the monitor")
        return uuid

    uuid = run(body(), CREATE_TIMEOUT + 60, vh)
    assert not os.path.exists(vh.json_path(uuid))
    # The half-made venv does not stay behind either.
    assert not os.path.exists(vh.data_dir(uuid)), \
        os.listdir(vh.data_dir(uuid))


def test_manager_stop_message_during_creation(vh):
    """The `stop` message works the same way during a creation."""
    vh.wh.base()
    slow = slow_python(os.path.join(vh.tmp, "slowpython"), SLEEP)
    vh.start(fnwm={"venv_python": slow})

    async def body():
        a = await vh.client("A")
        await vh.send_new_worker(a, name="slow")
        grp = await _step_group(slow, "the slow venv step")
        uuid = await async_wait_for(lambda: _uuid_of_monitor_for(vh, "slow"),
                                    T(10), "the monitor's files")
        vh.uuids.add(uuid)
        mons = monitor_pids(uuid)
        s = await vh.client("S", subscribe=False)
        await s.send("stop")
        rc = await vh.wait_exit(T(QUICK + 5))
        assert rc == 0, rc
        await wait_gone(grp, T(QUICK), "the slow step's process group")
        await wait_gone(mons, T(QUICK), "the monitor")
        return uuid

    uuid = run(body(), CREATE_TIMEOUT + 60, vh)
    assert not os.path.exists(vh.json_path(uuid))
    # The half-made venv does not stay behind either.
    assert not os.path.exists(vh.data_dir(uuid)), \
        os.listdir(vh.data_dir(uuid))


async def _slow_upgrade(vh):
    """A created worker whose venv's `python -m pip` sleeps; set_active is
    sent and the first upgrade (funcnodes) is running. Returns (client,
    mark, uuid, step group)."""
    c = await vh.client("A")
    uuid, _ = await vh.new_worker(c, name="slowpip")
    venv = vh.venv(uuid)
    slow_pip_in_venv(venv, SLEEP)
    # The creation's monitor has gone (activating while it exits is
    # test_activate_right_after_creation's business).
    await async_wait_for(lambda: not monitor_pids(uuid), T(10),
                         "the creation's monitor to exit")
    m = c.mark()
    await c.send({"type": "set_active", "workerid": uuid})
    await c.wait(lambda x: is_progress(x, "updating funcnodes"), T(30), m,
                 "updating funcnodes")
    grp = await _step_group(os.path.join(venv, "bin", "python"),
                            "the slow pip step")
    return c, m, uuid, grp


def test_stop_worker_during_upgrade(vh):
    """stop_worker while an activation's upgrade runs: the step group is
    killed at once, the stop completes, and the activation does not start
    the worker after all."""
    vh.wh.base()
    vh.start()

    async def body():
        c, ma, uuid, grp = await _slow_upgrade(vh)
        s = await vh.client("S")
        ms = s.mark()
        await s.send({"type": "stop_worker", "workerid": uuid})
        await wait_gone(grp, T(QUICK), "the slow pip step's process group")
        # The stop finishes promptly (not after the step's minute).
        await s.wait(is_progress, T(QUICK), ms, "Stopping worker.")
        await s.wait(is_reset, T(QUICK), ms, "the reset after stop_worker")
        # The activation ends without a worker: an error, a reset.
        i = await c.wait(lambda x: is_type("error")(x) or
                         is_type("set_worker")(x), T(QUICK), ma,
                         "the end of the activation")
        assert is_type("error")(c.msgs[i]), short(c.msgs[ma:])
        await c.wait(is_reset, T(5), i + 1, "the activation's reset")
        assert not any(is_progress(x, "Starting worker.")
                       for x in c.msgs[ma:]), short(c.msgs[ma:])
        return uuid

    uuid = run(body(), CREATE_TIMEOUT + 90, vh)
    assert worker_pids(uuid) == []
    # Stopped, not broken: the worker is still there.
    assert os.path.exists(vh.json_path(uuid))


def test_delete_during_upgrade(vh):
    """delete_worker while an activation's upgrade runs: the step group is
    killed at once and the worker is deleted promptly."""
    vh.wh.base()
    vh.start()

    async def body():
        c, ma, uuid, grp = await _slow_upgrade(vh)
        d = await vh.client("D")
        md = d.mark()
        await d.send({"type": "delete_worker", "workerid": uuid})
        await wait_gone(grp, T(QUICK), "the slow pip step's process group")
        j = await d.wait(lambda x: is_type("worker_deleted")(x) or
                         is_type("error")(x), T(QUICK), md,
                         "the answer to delete_worker")
        assert is_type("worker_deleted")(d.msgs[j]), short(d.msgs[md:])
        i = await c.wait(lambda x: is_type("error")(x) or
                         is_type("set_worker")(x), T(QUICK), ma,
                         "the end of the activation")
        assert is_type("error")(c.msgs[i]), short(c.msgs[ma:])
        return uuid

    uuid = run(body(), CREATE_TIMEOUT + 90, vh)
    assert worker_pids(uuid) == []
    wait_for(lambda: not monitor_pids(uuid), T(10), "the monitor to exit")
    wait_for(lambda: os.listdir(vh.workers_dir) == [], T(10),
             "an empty workers dir (have %s)" % os.listdir(vh.workers_dir))


def test_step_timeout_fails_creation(vh):
    """fnwm.step_timeout: a venv step over its limit is killed (group and
    all), the creation fails with "timed out" and leaves nothing."""
    vh.wh.base()
    slow = slow_python(os.path.join(vh.tmp, "slowpython"), SLEEP)
    vh.start(fnwm={"venv_python": slow, "step_timeout": 2})

    async def body():
        a = await vh.client("A")
        ma = await vh.send_new_worker(a, name="slow")
        grp = await _step_group(slow, "the slow venv step")
        await wait_gone(grp, T(2 + QUICK), "the timed-out step's group")
        uuid, tr = await vh.wait_created(a, ma, T(QUICK))
        assert uuid is None, short(tr)
        err = [m for m in tr if is_type("error")(m)]
        assert len(err) == 1 and "timed out" in err[0]["message"], short(tr)
        assert is_reset(tr[-1]), short(tr)

    run(body(), CREATE_TIMEOUT, vh)
    wait_for(lambda: not [n for n in os.listdir(vh.workers_dir)
                          if not n.endswith(".lock")], T(10),
             "no JSON, data dir or monitor files left")
    assert not [n for n in os.listdir(vh.workers_dir)
                if n.endswith(".json")]


def test_step_timeout_upgrade_best_effort(vh):
    """fnwm.step_timeout on activation: each slow upgrade is killed and
    reported (status error, "timed out"); the worker starts anyway."""
    vh.wh.base()
    vh.start()

    async def body():
        c = await vh.client("A")
        uuid, _ = await vh.new_worker(c, name="slowpip")
        venv = vh.venv(uuid)
        slow_pip_in_venv(venv, SLEEP)
        await async_wait_for(lambda: not monitor_pids(uuid), T(10),
                             "the creation's monitor to exit")
        # The limit applies from the next manager on (creation is slower).
        await vh.restart(fnwm={"step_timeout": 2})
        c = await vh.client("A")
        tr, data = await vh.activated(c, uuid, T(3 * (2 + QUICK) + 30))
        errs = [m for m in tr if is_progress(m) and
                m.get("status") == "error"]
        assert len(errs) == 2, short(tr)   # funcnodes, funcnodes-core
        for e in errs:
            assert "timed out" in e["message"], e
        assert "funcnodes" in errs[0]["message"], errs
        assert "funcnodes-core" in errs[1]["message"], errs
        assert data["uuid"] == uuid, data
        await wait_worker_pids(uuid, 1)
        return venv

    venv = run(body(), CREATE_TIMEOUT + 90, vh)
    # Nothing of the killed steps (sh + sleep) is left.
    py = os.path.join(venv, "bin", "python")
    assert not [p for p in pids_with_arg(py) if "pip" in cmdline(p)]
    assert not [p for p in pids_with_arg("sleep")
                if cmdline(p) == ["sleep", str(SLEEP)]
                and vh.cfg_dir.encode() in (open("/proc/%d/environ" % p,
                                                 "rb").read())]
