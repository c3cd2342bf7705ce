"""A worker whose venv was deleted: set_active says so at once (naming the
missing interpreter), repair_worker recreates the venv from the recorded
dependencies, and the worker starts again."""
import os
import shutil

from venv_util import (ACTIVATE_TIMEOUT, CREATE_TIMEOUT, T, V1, V2, cmdline,
                       error_progress, installed_version, is_progress,
                       is_reset, is_type, messages, monitor_pids, progresses,
                       run, short, vh, wait_for, wait_worker_pids, wheels,
                       worker_pids)

assert vh and wheels  # fixtures, used by name

DEP = "fnwm-testdep"


async def _repair(vh, c, uuid, timeout=None):
    """repair_worker until "Worker repaired." or an error, then the
    reset; returns the transcript."""
    tr, last = await vh.op(
        c, "repair_worker", uuid,
        lambda x: is_progress(x, "Worker repaired.") or is_type("error")(x),
        timeout or T(CREATE_TIMEOUT))
    assert is_progress(last, "Worker repaired."), \
        "repair failed: %s\n%s" % (short(tr), vh.log()[-4000:])
    return tr


def test_deleted_venv_reported_then_repaired(vh):
    vh.wh.base()
    vh.start()

    async def body():
        c = await vh.client("A")
        uuid, _ = await vh.new_worker(c, name="fragile")
        venv = vh.venv(uuid)
        # A pinned dependency (the bare-version form of older files) and
        # an unpinned one are recorded; the index has newer wheels.
        vh.update_doc(uuid, package_dependencies={
            "fnwm_testdep": {"package": DEP, "version": V1},
            "funcnodes_core": {"package": "funcnodes-core",
                               "version": None}})
        vh.wh.upgrades()
        shutil.rmtree(venv)

        # set_active: a clear error at once, no start, a reset.
        tr, last = await vh.set_active(c, uuid, T(5))
        assert is_type("error")(last), short(tr)
        msg = last["message"]
        assert "interpreter" in msg, msg
        assert os.path.join(venv, "bin", "python") in msg, msg
        assert uuid in msg, msg
        assert is_reset(tr[-1]), short(tr)
        assert "Starting worker." not in messages(tr), short(tr)
        assert not [m for m in messages(tr) if m.startswith("updating")], \
            short(tr)
        assert worker_pids(uuid) == []
        # Nothing was half-made meanwhile.
        assert not os.path.exists(venv)

        # repair_worker recreates it.
        tr = await _repair(vh, c, uuid)
        p = progresses(tr)
        assert p[0] == ("Repairing worker.", 0.1), short(tr)
        assert p[-1] == ("Worker repaired.", 1.0), short(tr)
        nums = [v for _, v in p]
        assert nums == sorted(nums), short(tr)
        assert not any(is_type("error")(m) for m in tr), short(tr)
        assert error_progress(tr) == [], short(tr)
        assert is_reset(tr[-1]), short(tr)
        wait_for(lambda: not monitor_pids(uuid), T(10),
                 "the repair's monitor to exit")

        assert os.access(os.path.join(venv, "bin", "python"), os.X_OK)
        assert installed_version(venv, "funcnodes") == V2
        # The recorded dependencies: the pin honoured, the other latest.
        assert installed_version(venv, DEP) == V1
        assert installed_version(venv, "funcnodes-core") == V2

        # And the worker starts from it.
        tr, data = await vh.activated(c, uuid)
        assert data["uuid"] == uuid and data["env_path"] == venv, data
        pids = await wait_worker_pids(uuid, 1)
        assert cmdline(pids[0])[0] == os.path.join(venv, "bin", "python")
        return uuid, venv

    uuid, venv = run(body(), 2 * CREATE_TIMEOUT + ACTIVATE_TIMEOUT, vh)
    doc = vh.doc(uuid)
    assert doc["env_path"] == venv, doc
    # The pinned dependency is still pinned after the start's upgrades.
    assert installed_version(venv, DEP) == V1


def test_repair_of_a_worker_without_venv(vh):
    """repair_worker on a worker with env_path null: a clear error."""
    vh.wh.base()
    vh.start()

    async def body():
        c = await vh.client("A")
        m = c.mark()
        await c.send({"type": "new_worker",
                      "kwargs": {"name": "plain", "in_venv": False}})
        i = await c.wait(is_type("worker_created"), T(10), m)
        uuid = c.msgs[i]["uuid"]
        vh.uuids.add(uuid)
        m = c.mark()
        await c.send({"type": "repair_worker", "workerid": uuid})
        j = await c.wait(is_type("error"), T(10), m, "an error")
        assert "virtual environment" in c.msgs[j]["message"], c.msgs[j]
        return uuid

    uuid = run(body(), 60, vh)
    assert vh.doc(uuid)["env_path"] is None
    assert not os.path.exists(vh.venv(uuid))


def test_repair_unknown_worker(vh):
    vh.start()

    async def body():
        c = await vh.client("A")
        m = c.mark()
        await c.send({"type": "repair_worker", "workerid": "nosuchworker"})
        j = await c.wait(is_type("error"), T(10), m, "an error")
        assert "nosuchworker" in c.msgs[j]["message"], c.msgs[j]

    run(body(), 30, vh)
