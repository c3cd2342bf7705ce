"""new_worker's variants and refusals, the data dir on delete, and stale
files of an earlier life before an activation."""
import os
import re
import subprocess

import pytest

from workers_util import harness  # noqa: F401 (the fixture)
from workers_util import (T, is_progress, is_reset, is_type, pid_alive,
                          progress_line, read_json, replies, short,
                          wait_gone, wait_worker_pids, worker_pids,
                          write_json)


def tree(root, skip=("fnwm.log",)):
    """Every path under root (names only), for 'nothing left' checks."""
    out = set()
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            if n in skip:
                continue
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


async def refused(h, c, msg, expect=None):
    """Sends a new_worker that must fail: returns the error message."""
    m = c.mark()
    await c.send(msg)
    i = await c.wait(lambda x: is_type("error")(x) or
                     is_type("worker_created")(x), T(5), m, "an error")
    assert c.msgs[i]["type"] == "error", short(c.msgs[m:])
    if expect is not None:
        assert expect in c.msgs[i]["message"], c.msgs[i]
    # Nothing after it says otherwise: a ping's pong comes next, with at
    # most a reset progress before it.
    m2 = c.mark()
    await c.send("ping")
    j = await c.wait(lambda x: x == "pong", T(5), m2)
    after = [x for x in c.msgs[i + 1:j] if not is_type("worker_status")(x)]
    assert all(is_reset(x) for x in after), short(after)
    return c.msgs[i]["message"]


@pytest.mark.parametrize("bad", ["../x", "a/b", ".x", "x\ny", "../../etc"])
def test_new_worker_bad_uuid_refused_nothing_on_disk(harness, bad):
    async def body():
        h = harness.start()
        c = await h.client()
        before = tree(h.tmp)
        await refused(h, c, {"type": "new_worker",
                             "kwargs": {"uuid": bad, "in_venv": False}})
        assert tree(h.tmp) == before
        assert os.listdir(h.workers_dir) == []
    harness.run(body())


def test_new_worker_existing_uuid_refused_untouched(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        uuid, _ = await h.new_worker(c, uuid="dup", name="first")
        with open(h.path(uuid, ".json"), "rb") as f:
            before_json = f.read()
        before = tree(h.tmp)
        msg = await refused(h, c, {"type": "new_worker", "kwargs": {
            "uuid": "dup", "name": "second", "in_venv": False}})
        assert "exists" in msg, msg
        assert tree(h.tmp) == before
        with open(h.path(uuid, ".json"), "rb") as f:
            assert f.read() == before_json
        assert os.path.isdir(h.data_dir(uuid))
    harness.run(body())


@pytest.mark.parametrize("kwargs", [[1, 2], "name", 5, True])
def test_new_worker_kwargs_not_object_refused(harness, kwargs):
    async def body():
        h = harness.start()
        c = await h.client()
        before = tree(h.tmp)
        await refused(h, c, {"type": "new_worker", "kwargs": kwargs})
        assert tree(h.tmp) == before
        assert os.listdir(h.workers_dir) == []
    harness.run(body())


def test_bare_new_worker_without_venv_default(harness):
    async def body():
        h = harness.start(env={"FUNCNODES_WORKER_IN_VENV": "0"})
        c = await h.client()
        m = c.mark()
        await c.send("new_worker")
        i = await c.wait(is_type("worker_created"), T(5), m)
        uuid = c.msgs[i]["uuid"]
        assert re.fullmatch(r"[0-9a-f]{32}", uuid), uuid
        doc = read_json(h.path(uuid, ".json"))
        assert doc["uuid"] == uuid and doc["env_path"] is None
    harness.run(body())


def test_generated_uuid_shapes(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        cases = [
            ({"name": "My Demo"}, r"my-demo_[0-9a-f]{16}"),
            ({}, r"[0-9a-f]{32}"),
            ({"name": None}, r"[0-9a-f]{32}"),
            ({"name": "A very long worker name indeed"},
             r"a-very-long-work_[0-9a-f]{16}"),
            ({"name": "!!!"}, r"_[0-9a-f]{16}"),
            ({"name": "  Spaces  around  "}, r"spaces-around_[0-9a-f]{16}"),
            ({"name": "\u00dcn\u00efcode Name \u2603"},
             r"[a-z0-9-]{0,16}_[0-9a-f]{16}"),
        ]
        seen = set()
        for kw, rx in cases:
            uuid, _ = await h.new_worker(c, **kw)
            assert re.fullmatch(rx, uuid), (kw, uuid)
            assert re.fullmatch(r"[a-z0-9_-]+", uuid), uuid
            assert uuid not in seen
            seen.add(uuid)
            doc = read_json(h.path(uuid, ".json"))
            assert doc["uuid"] == uuid
            if kw.get("name"):
                assert doc["name"] == kw["name"]
        # The same name twice: two workers.
        u1, _ = await h.new_worker(c, name="twin")
        u2, _ = await h.new_worker(c, name="twin")
        assert u1 != u2 and u1.startswith("twin_") and u2.startswith("twin_")
    harness.run(body())


def test_new_worker_reference_copylib_copyns(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        ref, _ = await h.new_worker(c, name="ref")
        deps = {"funcnodes-basic": {"package": "funcnodes-basic",
                                    "version": "==0.2.7"}}
        doc = read_json(h.path(ref, ".json"))
        doc["package_dependencies"] = deps
        write_json(h.path(ref, ".json"), doc)
        ns = {"backend": {"nodes": [{"id": "n1"}], "prop": {"x": 1},
                          "edges": [], "groups": {}},
              "view": {"renderoptions": {"typemap": {}}},
              "meta": {"id": "0" * 32, "version": "0.1.0"},
              "external_workers": {}}
        write_json(os.path.join(h.data_dir(ref), "nodespace.json"), ns)

        new, tr = await h.new_worker(c, name="copy", reference=ref,
                                     copyLib=True, copyNS=True)
        assert [progress_line(m) for m in replies(tr)] == [
            ("Writing configuration.", 0.9, True),
            ("Creating new worker.", 1.0, True),
            "worker_created", ("", 1, False)], short(tr)
        got = read_json(h.path(new, ".json"))
        assert got["package_dependencies"] == deps
        assert got["uuid"] == new and got["name"] == "copy"
        copied = read_json(os.path.join(h.data_dir(new), "nodespace.json"))
        expect = dict(ns)
        del expect["meta"]
        assert copied == expect
        # The reference is unchanged.
        assert read_json(os.path.join(h.data_dir(ref), "nodespace.json")) \
            == ns
        assert read_json(h.path(ref, ".json"))["package_dependencies"] \
            == deps

        # Without the flags nothing is copied.
        plain, _ = await h.new_worker(c, reference=ref)
        assert read_json(h.path(plain, ".json"))["package_dependencies"] \
            == {}
        assert not os.path.exists(os.path.join(h.data_dir(plain),
                                               "nodespace.json"))
        # copyLib alone.
        lib, _ = await h.new_worker(c, reference=ref, copyLib=True)
        assert read_json(h.path(lib, ".json"))["package_dependencies"] \
            == deps
        assert not os.path.exists(os.path.join(h.data_dir(lib),
                                               "nodespace.json"))

        # The copied nodespace is what the new worker starts with.
        data = await h.activate(c, new)
        assert data["package_dependencies"] == deps
    harness.run(body())


def test_new_worker_copyns_without_nodespace_refused(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        ref, _ = await h.new_worker(c, name="ref")
        before = tree(h.tmp)
        await refused(h, c, {"type": "new_worker", "kwargs": {
            "name": "x", "reference": ref, "copyNS": True,
            "in_venv": False}})
        assert tree(h.tmp) == before
    harness.run(body())


def test_delete_keeps_data_dir_outside_workers_dir(harness, tmp_path):
    """A worker whose data dir lies elsewhere (FuncNodes made it; new_worker
    refuses that) is listed, runs there, and its data dir outlives it."""
    async def body():
        h = harness.start()
        c = await h.client()
        outside = os.path.join(str(tmp_path), "outside-data")
        os.makedirs(outside)
        with open(os.path.join(outside, "keep.txt"), "w") as f:
            f.write("precious")
        uuid = await h.created_worker(c, name="ext")
        doc = read_json(h.path(uuid, ".json"))
        doc["data_path"] = outside
        write_json(h.path(uuid, ".json"), doc)
        os.rmdir(h.data_dir(uuid))  # the default one, made and unused
        await h.activate(c, uuid)
        pid = (await wait_worker_pids(uuid, 1))[0]
        assert read_json(h.path(uuid, ".json"))["data_path"] == outside
        # The worker used it (its output goes there).
        assert os.path.exists(os.path.join(outside, "worker.log"))
        tr, last = await h.op(c, "delete_worker", uuid,
                              is_type("worker_deleted"), T(30))
        assert last == {"type": "worker_deleted", "uuid": uuid}
        assert h.files_of(uuid) == []
        assert not pid_alive(pid) and worker_pids(uuid) == []
        assert os.path.isdir(outside)
        with open(os.path.join(outside, "keep.txt")) as f:
            assert f.read() == "precious"
        assert os.path.exists(os.path.join(outside, "worker.log"))
    harness.run(body())


def dead_pid():
    p = subprocess.Popen(["/bin/true"])
    p.wait()
    return p.pid


@pytest.mark.parametrize("when", ["before_start", "while_running"])
def test_stale_p_and_removed_runstate_cleared(harness, when):
    async def body():
        h = harness
        uuid = "stale-worker"
        doc = {"type": "WSWorker", "uuid": uuid, "name": uuid,
               "data_path": None, "env_path": None, "pid": dead_pid(),
               "package_dependencies": {}, "worker_dependencies": {},
               "update_on_startup": {"funcnodes": True,
                                     "funcnodes-core": True,
                                     "funcnodes-worker": True},
               "host": "127.0.0.1", "port": h.startport, "ssl": False}

        def leave_stale():
            with open(h.path(uuid, ".p"), "w") as f:
                f.write(str(dead_pid()))
            with open(h.path(uuid, ".runstate"), "w") as f:
                f.write("removed")
        h.uuids.add(uuid)
        if when == "before_start":
            write_json(h.path(uuid, ".json"), doc)
            leave_stale()
            h.start()
            c = await h.client()
        else:
            h.start()
            c = await h.client()
            write_json(h.path(uuid, ".json"), doc)
            leave_stale()
            await c.wait(lambda x: is_type("worker_status")(x) and uuid in
                         [e["uuid"] for e in x["inactive"]], T(5), 0,
                         "the worker listed")
        tr, last = await h.set_active(c, uuid)
        assert last["type"] == "set_worker", short(tr)
        texts = [m["message"] for m in tr if is_progress(m)]
        assert "removed" not in texts and "stopped" not in texts, texts
        assert "Starting worker." in texts
        pids = worker_pids(uuid)
        assert pids == [last["data"]["pid"]]
        with open(h.path(uuid, ".p")) as f:
            assert f.read().strip() == str(pids[0])
    harness.run(body())


def test_stopped_runstate_not_relayed_after_crash(harness):
    """A worker killed hard leaves .p and a runstate; the next activation
    (restart policy "never") starts clean and relays only news."""
    async def body():
        h = harness.start()
        c = await h.client()
        uuid, pid = await h.running_worker(c, fnwm={"restart": "never"})
        os.kill(pid, 9)
        await wait_gone([pid], T(5), "the killed worker")
        await c.wait(lambda x: is_type("worker_event")(x) and
                     x["uuid"] == uuid and x["state"] == "down", T(5), 0)
        with open(h.path(uuid, ".runstate"), "w") as f:
            f.write("removed")
        tr, last = await h.set_active(c, uuid)
        assert last["type"] == "set_worker", short(tr)
        texts = [m["message"] for m in tr if is_progress(m)]
        assert "removed" not in texts and "stopped" not in texts, texts
        assert worker_pids(uuid) == [last["data"]["pid"]]
        assert last["data"]["pid"] != pid
    harness.run(body())
