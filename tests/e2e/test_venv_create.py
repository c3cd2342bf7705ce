"""new_worker in a virtualenv (pip from a local wheelhouse): the files,
env_path, funcnodes in the venv, the progress transcript and its routing,
two creations at once, and failed creations that leave nothing behind."""
import asyncio
import os

from venv_util import (CREATE_PROGRESS, CREATE_TIMEOUT, T, V1,
                       funcnodes_location, installed_version,
                       is_broadcast, is_progress, is_reset, is_type,
                       monitor_pids, progresses, run, short, vh, wait_for,
                       wheels)

assert vh and wheels  # fixtures, used by name


def _no_leftovers(vh, uuid):
    """No JSON at once; the monitor's files and the data dir (removed in
    the background) within a few seconds."""
    assert not os.path.exists(vh.json_path(uuid)), vh.files_of(uuid)
    try:
        wait_for(lambda: vh.files_of(uuid) == [] and
                 os.listdir(vh.workers_dir) == [], T(10))
    except AssertionError:
        left = {n: sorted(os.listdir(os.path.join(vh.workers_dir, n)))
                if os.path.isdir(os.path.join(vh.workers_dir, n)) else None
                for n in os.listdir(vh.workers_dir)}
        raise AssertionError("a failed creation left files behind "
                             "(after %.0fs): %s" % (T(10), left))


def test_create_in_venv(vh):
    """Files, absolute env_path, funcnodes importable from the venv, the
    transcript of the requester, and the broadcast to a second client."""
    vh.wh.base()
    vh.start()

    async def body():
        a = await vh.client("A")
        b = await vh.client("B")
        mb = b.mark()
        uuid, tr = await vh.new_worker(a, name="venv demo")
        assert uuid.startswith("venv-demo_"), uuid

        # The requester: the four steps, worker_created, then a reset.
        mine = [m for m in tr if not is_broadcast(m)]
        assert progresses(mine) == CREATE_PROGRESS, short(mine)
        for m in mine:
            if is_progress(m):
                assert m["status"] == "info", m
                if not is_reset(m):
                    assert m["blocking"] is True, m
        kinds = [m["type"] for m in mine]
        assert kinds.count("worker_created") == 1, short(mine)
        assert kinds.index("worker_created") > max(
            i for i, m in enumerate(mine) if is_progress(m, "Creating new "
                                                          "worker.")), mine
        assert is_reset(mine[-1]), short(mine)
        assert "error" not in kinds, short(mine)

        # The other client: the same progress (broadcast), no
        # worker_created, and a reset to clear its blocking status bar.
        j = await b.wait(lambda m: is_progress(m, "Creating new worker."),
                         T(10), mb, "the broadcast 'Creating new worker.'")
        seen = b.msgs[mb:]
        assert progresses(seen)[:4] == CREATE_PROGRESS, short(seen)
        assert not any(is_type("worker_created")(m) for m in seen), seen
        await b.wait(is_reset, T(5), j + 1,
                     "a reset after the creation at the other client")

        # The worker appears in the status lists.
        await b.wait(lambda m: is_type("worker_status")(m) and any(
            e.get("uuid") == uuid for e in m["inactive"]), T(10), mb,
            "a worker_status listing the new worker")
        return uuid

    uuid = run(body(), CREATE_TIMEOUT + 60, vh)

    doc = vh.doc(uuid)
    venv = vh.venv(uuid)
    assert doc["uuid"] == uuid and doc["name"] == "venv demo", doc
    assert doc["env_path"] == venv, doc
    assert os.path.isabs(doc["env_path"]), doc
    assert doc["pid"] is None, doc
    assert doc["update_on_startup"] == {"funcnodes": True,
                                        "funcnodes-core": True,
                                        "funcnodes-worker": True}, doc
    assert os.path.isdir(vh.data_dir(uuid))
    assert os.path.isfile(os.path.join(venv, "pyvenv.cfg"))
    assert os.access(os.path.join(venv, "bin", "python"), os.X_OK)
    # funcnodes really lives in the venv (no PYTHONPATH anywhere).
    where, prefix = funcnodes_location(venv)
    assert where.startswith(venv + "/"), where
    assert os.path.realpath(prefix) == os.path.realpath(venv), prefix
    assert installed_version(venv, "funcnodes") == V1
    # The steps' output went to the worker's log.
    log = vh.worker_log(uuid)
    assert "Successfully installed funcnodes-%s" % V1 in log, log[-3000:]
    # The monitor used for the steps is gone again.
    wait_for(lambda: not monitor_pids(uuid), T(10), "the monitor to exit")


def test_two_creations_at_once(vh):
    """Two venv creations side by side both succeed, each venv its own."""
    vh.wh.base()
    vh.start()

    async def body():
        a = await vh.client("A")
        b = await vh.client("B")
        ma = await vh.send_new_worker(a, name="first")
        mb = await vh.send_new_worker(b, name="second")
        (ua, tra), (ub, trb) = await asyncio.gather(
            vh.wait_created(a, ma), vh.wait_created(b, mb))
        assert ua and ub, (short(tra), short(trb))
        assert ua != ub
        # Each requester got its own worker_created only.
        for tr, mine, other in ((tra, ua, ub), (trb, ub, ua)):
            created = [m["uuid"] for m in tr if is_type("worker_created")(m)]
            assert created == [mine], short(tr)
            assert not any(is_type("error")(m) for m in tr), short(tr)
        return ua, ub

    ua, ub = run(body(), 2 * CREATE_TIMEOUT, vh)
    for u in (ua, ub):
        doc = vh.doc(u)
        assert doc["env_path"] == vh.venv(u), doc
        assert installed_version(vh.venv(u), "funcnodes") == V1
        where, _ = funcnodes_location(vh.venv(u))
        assert where.startswith(vh.venv(u) + "/"), where
    assert vh.doc(ua)["name"] == "first" and vh.doc(ub)["name"] == "second"


async def _failed_creation(vh):
    a = await vh.client("A")
    b = await vh.client("B")
    mb = b.mark()
    m = await vh.send_new_worker(a, name="broken")
    uuid, tr = await vh.wait_created(a, m)
    assert uuid is None, short(tr)
    errs = [x for x in tr if is_type("error")(x)]
    assert len(errs) == 1, short(tr)
    assert is_reset(tr[-1]), short(tr)
    assert not any(is_type("worker_created")(x) for x in tr), short(tr)
    # The other client saw "Making virtual environment." (a broadcast): it
    # must also be told that it is over.
    assert any(is_progress(x, "Making virtual environment.")
               for x in b.msgs[mb:]), short(b.msgs[mb:])
    await b.wait(is_reset, T(10), mb, "a reset at the other client after "
                 "the failed creation")
    return errs[0]["message"], tr


def _uuid_in(message):
    import re
    m = re.search(r"worker (broken_[0-9a-f]{16})", message)
    assert m, message
    return m.group(1)


def test_create_fails_without_funcnodes_wheel(vh):
    """pip finds nothing (empty wheelhouse): error, reset, nothing left."""
    empty = os.path.join(vh.tmp, "empty-wheelhouse")
    os.makedirs(empty)
    vh.start(find_links=empty)

    async def body():
        return await _failed_creation(vh)

    msg, tr = run(body(), CREATE_TIMEOUT + 30, vh)
    uuid = _uuid_in(msg)
    # The reason reaches the client.
    assert "funcnodes" in msg, msg
    _no_leftovers(vh, uuid)
    wait_for(lambda: not monitor_pids(uuid), T(10),
             "the monitor of the failed creation to exit")
    assert os.listdir(vh.workers_dir) == [], os.listdir(vh.workers_dir)


def test_create_fails_with_missing_venv_python(vh):
    """venv_python names no interpreter: error naming it, nothing left."""
    vh.wh.base()
    vh.start(fnwm={"venv_python": "/nonexistent/python3"})

    async def body():
        return await _failed_creation(vh)

    msg, tr = run(body(), CREATE_TIMEOUT, vh)
    uuid = _uuid_in(msg)
    assert "/nonexistent/python3" in msg, msg
    _no_leftovers(vh, uuid)
    wait_for(lambda: not monitor_pids(uuid), T(10),
             "the monitor of the failed creation to exit")
    assert os.listdir(vh.workers_dir) == [], os.listdir(vh.workers_dir)
    # The manager is still fine afterwards: a plain worker can be made.
    async def plain():
        c = await vh.client("C")
        m = c.mark()
        await c.send({"type": "new_worker",
                      "kwargs": {"name": "plain", "in_venv": False}})
        i = await c.wait(is_type("worker_created"), T(10), m)
        vh.uuids.add(c.msgs[i]["uuid"])
        return c.msgs[i]["uuid"]
    u = run(plain(), 30, vh)
    assert vh.doc(u)["env_path"] is None
