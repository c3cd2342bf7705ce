"""set_active on a worker with a virtualenv: the update_on_startup upgrades
(pip from a local wheelhouse that gains newer wheels after the creation),
pinned dependencies, a failing upgrade, and the switches that turn
upgrades off."""
import os

from venv_util import (ACTIVATE_TIMEOUT, CREATE_TIMEOUT, T, V1, V2, cmdline,
                       error_progress, installed_version,
                       is_reset, is_type, messages, pip_install, progresses,
                       run, short, vh, wait_worker_pids, wheels)

assert vh and wheels  # fixtures, used by name

DEP = "fnwm-testdep"


def _deps(version):
    return {"fnwm_testdep": {"package": DEP, "version": version}}


NO_DEP = object()


async def _created(vh, with_dep=NO_DEP):
    """A worker created in a venv from the 0.1.0 wheels; with_dep (None or
    a version): fnwm-testdep 0.1.0 installed and recorded with it."""
    c = await vh.client("A")
    uuid, _ = await vh.new_worker(c, name="upg")
    venv = vh.venv(uuid)
    assert installed_version(venv, "funcnodes") == V1
    if with_dep is not NO_DEP:
        pip_install(venv, vh.wh.path, "%s==%s" % (DEP, V1))
        vh.update_doc(uuid, package_dependencies=_deps(with_dep))
    return c, uuid, venv


def _head(tr):
    """The progress of an activation up to 'Contacting worker.'."""
    p = progresses(tr)
    n = [m for m, _ in p].index("Contacting worker.")
    return p[:n + 1]


def _assert_started(vh, uuid, venv, tr, data):
    assert data["uuid"] == uuid, data
    assert data["env_path"] == venv, data
    assert is_reset(tr[-1]), short(tr)
    assert not any(is_type("error")(m) for m in tr), short(tr)


async def _runs_from_venv(uuid, venv):
    pids = await wait_worker_pids(uuid, 1)
    argv = cmdline(pids[0])
    assert argv[0] == os.path.join(venv, "bin", "python"), argv
    return pids[0]


def test_activation_upgrades(vh):
    """funcnodes, funcnodes-core and an unpinned dependency are upgraded
    before the start, in that order, and the new versions are installed."""
    vh.wh.base()
    vh.start()

    async def body():
        c, uuid, venv = await _created(vh, with_dep=None)
        assert installed_version(venv, "funcnodes-core") is None
        assert installed_version(venv, DEP) == V1
        vh.wh.upgrades()
        tr, data = await vh.activated(c, uuid)
        _assert_started(vh, uuid, venv, tr, data)
        assert _head(tr) == [
            ("Activating worker.", 0.1), ("Updating worker.", 0.2),
            ("updating funcnodes", 0.3), ("updating funcnodes-core", 0.3),
            ("updating %s" % DEP, 0.3),
            ("Starting worker.", 0.4), ("Contacting worker.", 0.5)], \
            short(tr)
        assert error_progress(tr) == [], short(tr)
        # The worker that answers runs the venv's (upgraded) funcnodes.
        await _runs_from_venv(uuid, venv)
        return uuid, venv

    uuid, venv = run(body(), CREATE_TIMEOUT + ACTIVATE_TIMEOUT,
                     vh)
    assert installed_version(venv, "funcnodes") == V2
    assert installed_version(venv, "funcnodes-core") == V2
    assert installed_version(venv, DEP) == V2
    log = vh.worker_log(uuid)
    # Each step's output is in the worker's log.
    for dist in ("funcnodes", "funcnodes-core", DEP):
        assert "Successfully installed %s-%s" % (dist, V2) in log or \
            "Successfully installed %s-%s" % (dist.replace("-", "_"), V2) \
            in log, (dist, log[-4000:])
    # The worker still has its venv and dependency in its JSON.
    doc = vh.doc(uuid)
    assert doc["env_path"] == venv, doc
    assert doc["package_dependencies"] == _deps(None), doc


def test_pinned_dependency_left_alone(vh):
    """A dependency with a version is not upgraded (funcnodes is)."""
    vh.wh.base()
    vh.start()

    async def body():
        c, uuid, venv = await _created(vh, with_dep="==%s" % V1)
        vh.wh.upgrades()
        tr, data = await vh.activated(c, uuid)
        _assert_started(vh, uuid, venv, tr, data)
        assert _head(tr) == [
            ("Activating worker.", 0.1), ("Updating worker.", 0.2),
            ("updating funcnodes", 0.3), ("updating funcnodes-core", 0.3),
            ("Starting worker.", 0.4), ("Contacting worker.", 0.5)], \
            short(tr)
        assert error_progress(tr) == [], short(tr)
        await _runs_from_venv(uuid, venv)
        return venv

    venv = run(body(), CREATE_TIMEOUT + ACTIVATE_TIMEOUT, vh)
    assert installed_version(venv, DEP) == V1
    assert installed_version(venv, "funcnodes") == V2


def test_failing_upgrade_reported_and_worker_starts(vh):
    """An unpinned dependency that the index does not have: a progress
    with status error and pip's reason, then the worker starts anyway."""
    vh.wh.base()
    vh.start()
    ghost = "fnwm-ghost-package"

    async def body():
        c, uuid, venv = await _created(vh)
        vh.update_doc(uuid, package_dependencies={
            "fnwm_ghost_package": {"package": ghost, "version": None}})
        tr, data = await vh.activated(c, uuid)
        _assert_started(vh, uuid, venv, tr, data)
        errs = error_progress(tr)
        assert len(errs) == 1, short(tr)
        e = errs[0]
        assert ghost in e["message"], e
        # The reason, not just "failed": pip's own words.
        assert "No matching distribution found" in e["message"], e
        assert 0 <= e["progress"] <= 1, e
        # Reported after its own label, and the start followed.
        msgs = messages(tr)
        assert msgs.index("updating %s" % ghost) < msgs.index(e["message"]) \
            < msgs.index("Starting worker."), msgs
        await _runs_from_venv(uuid, venv)
        return uuid

    uuid = run(body(), CREATE_TIMEOUT + ACTIVATE_TIMEOUT, vh)
    assert ghost in vh.worker_log(uuid)


def test_upgrade_on_start_false_skips_upgrades(vh):
    vh.wh.base()
    vh.start(fnwm={"upgrade_on_start": False})

    async def body():
        c, uuid, venv = await _created(vh, with_dep=None)
        vh.wh.upgrades()
        tr, data = await vh.activated(c, uuid)
        _assert_started(vh, uuid, venv, tr, data)
        assert _head(tr) == [
            ("Activating worker.", 0.1), ("Starting worker.", 0.4),
            ("Contacting worker.", 0.5)], short(tr)
        assert not [m for m in messages(tr) if m.startswith("updating")]
        await _runs_from_venv(uuid, venv)
        return venv

    venv = run(body(), CREATE_TIMEOUT + ACTIVATE_TIMEOUT, vh)
    assert installed_version(venv, "funcnodes") == V1
    assert installed_version(venv, DEP) == V1
    assert installed_version(venv, "funcnodes-core") is None


def test_update_on_startup_flags(vh):
    """update_on_startup false for funcnodes and funcnodes-core: only the
    unpinned dependency is upgraded."""
    vh.wh.base()
    vh.start()

    async def body():
        c, uuid, venv = await _created(vh, with_dep=None)
        vh.update_doc(uuid, update_on_startup={
            "funcnodes": False, "funcnodes-core": False,
            "funcnodes-worker": True})
        vh.wh.upgrades()
        tr, data = await vh.activated(c, uuid)
        _assert_started(vh, uuid, venv, tr, data)
        assert _head(tr) == [
            ("Activating worker.", 0.1), ("Updating worker.", 0.2),
            ("updating %s" % DEP, 0.3),
            ("Starting worker.", 0.4), ("Contacting worker.", 0.5)], \
            short(tr)
        await _runs_from_venv(uuid, venv)
        return venv

    venv = run(body(), CREATE_TIMEOUT + ACTIVATE_TIMEOUT, vh)
    assert installed_version(venv, "funcnodes") == V1
    assert installed_version(venv, DEP) == V2


def test_activate_right_after_creation(vh):
    """set_active sent the moment worker_created arrives (as a client that
    creates and opens a worker does) starts the worker: the creation's
    monitor, still on its way out, must not make it fail."""
    vh.wh.base()
    vh.start()

    async def body():
        c = await vh.client("A")
        for i in range(3):
            m = await vh.send_new_worker(c, name="quick%d" % i)
            k = await c.wait(lambda x: is_type("worker_created")(x) or
                             is_type("error")(x), T(CREATE_TIMEOUT), m,
                             "worker_created")
            assert is_type("worker_created")(c.msgs[k]), short(c.msgs[m:])
            uuid = c.msgs[k]["uuid"]
            vh.uuids.add(uuid)
            tr, last = await vh.set_active(c, uuid)
            assert is_type("set_worker")(last), \
                "attempt %d: %s\n%s" % (i, short(tr), vh.log()[-3000:])
            await _runs_from_venv(uuid, vh.venv(uuid))

    run(body(), 3 * (CREATE_TIMEOUT + ACTIVATE_TIMEOUT), vh)
