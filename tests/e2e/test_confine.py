"""What clients may set is confined: data_path beneath the workers dir or
fnwm.allowed_data_roots, dependencies as PEP 508 requirements, uuids that
fit the monitor's socket path, kwargs and worker counts under their
limits. A delete never leaves the data dir it owns and never follows a
symlink; worker.log is never written or truncated through one."""
import json
import os
import urllib.request

import pytest

from workers_util import harness  # noqa: F401 (the fixture)
from workers_util import (T, is_reset, is_type, read_json, short,
                          wait_for, wait_worker_pids, write_json)


def tree(root):
    out = set()
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


async def refused(c, kwargs, expect):
    """A new_worker that must fail with an error naming expect."""
    m = c.mark()
    await c.send({"type": "new_worker", "kwargs": kwargs})
    i = await c.wait(lambda x: is_type("error")(x) or
                     is_type("worker_created")(x), T(5), m, "an error")
    assert c.msgs[i]["type"] == "error", short(c.msgs[m:])
    assert expect in c.msgs[i]["message"], c.msgs[i]
    return c.msgs[i]["message"]


def metric(h, name, label):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % h.port,
                                timeout=T(5)) as r:
        text = r.read().decode()
    key = '%s{limit="%s"} ' % (name, label)
    for line in text.splitlines():
        if line.startswith(key):
            return int(line[len(key):])
    raise AssertionError("no %s in /metrics" % key)


def precious_victim(tmp):
    """A directory outside everything fnwm owns, with a file in it."""
    victim = os.path.join(tmp, "victim")
    os.makedirs(victim, exist_ok=True)
    with open(os.path.join(victim, "important.txt"), "w") as f:
        f.write("precious")
    return victim


# ---------------------------------------------------------------------------
# data_path


@pytest.mark.parametrize("how", ["absolute", "dotdot", "inner-dotdot",
                                 "workers-dir", "dot"])
def test_data_path_outside_refused_nothing_created(harness, how):
    async def body():
        h = harness.start()
        c = await h.client()
        outside = os.path.join(h.tmp, "elsewhere", "new")
        os.makedirs(os.path.dirname(outside))
        value = {"absolute": outside,
                 "dotdot": "../../elsewhere/new",
                 "inner-dotdot": "sub/../../../elsewhere/new",
                 "workers-dir": h.workers_dir,
                 "dot": "."}[how]
        before = tree(h.tmp)
        msg = await refused(c, {"name": "out", "in_venv": False,
                                "data_path": value}, "data_path")
        assert "allowed_data_roots" in msg, msg
        assert tree(h.tmp) - before <= {"fnwm.log"}, tree(h.tmp) - before
        assert not os.path.exists(outside)
        assert os.listdir(h.workers_dir) == []
    harness.run(body())


def test_data_path_beneath_allowed_root(harness):
    """A root of fnwm.allowed_data_roots holds data dirs that fnwm makes
    and deletes; the root itself stays."""
    async def body():
        root = os.path.join(harness.tmp, "data-root")
        os.makedirs(root)
        h = harness.start(fnwm={"allowed_data_roots": [root + "/"]})
        c = await h.client()
        dd = os.path.join(root, "w1")
        uuid = await h.created_worker(c, name="rooted", data_path=dd)
        assert os.path.isdir(dd)
        await refused(c, {"name": "r2", "in_venv": False,
                          "data_path": root}, "data_path")
        with open(os.path.join(dd, "file"), "w") as f:
            f.write("x")
        tr, last = await h.op(c, "delete_worker", uuid,
                              is_type("worker_deleted"), T(30))
        wait_for(lambda: not os.path.exists(dd), T(10), "data dir gone")
        assert os.path.isdir(root)
    harness.run(body())


# ---------------------------------------------------------------------------
# delete


def test_delete_dotdot_symlink_data_path_target_survives(harness):
    """A JSON (not made by fnwm) whose data_path climbs out of the workers
    dir to a symlink: neither the link nor what it points to is touched."""
    async def body():
        h = harness.start()
        c = await h.client()
        victim = precious_victim(h.tmp)
        link = os.path.join(h.tmp, "victim", "important_link")
        target = os.path.join(h.tmp, "target")
        os.makedirs(target)
        with open(os.path.join(target, "keep"), "w") as f:
            f.write("keep")
        os.symlink(target, link)
        uuid = await h.created_worker(c, name="dd")
        doc = read_json(h.path(uuid, ".json"))
        os.rmdir(h.data_dir(uuid))
        doc["data_path"] = "../../victim/important_link"
        write_json(h.path(uuid, ".json"), doc)
        tr, last = await h.op(c, "delete_worker", uuid,
                              is_type("worker_deleted"), T(30))
        assert last == {"type": "worker_deleted", "uuid": uuid}
        assert h.files_of(uuid) == []
        assert os.path.islink(link)
        assert os.listdir(target) == ["keep"]
        with open(os.path.join(victim, "important.txt")) as f:
            assert f.read() == "precious"
    harness.run(body())


def test_delete_never_follows_symlinks(harness):
    """Symlinks planted in a data dir, as the data dir itself, and on the
    way to it are unlinked or left; what they point to survives."""
    async def body():
        h = harness.start()
        c = await h.client()
        victim = precious_victim(h.tmp)
        # 1. Inside the data dir: the link goes, the target stays.
        a = await h.created_worker(c, name="inner")
        os.symlink(victim, os.path.join(h.data_dir(a), "escape"))
        os.makedirs(os.path.join(h.data_dir(a), "sub"))
        os.symlink(os.path.join(victim, "important.txt"),
                   os.path.join(h.data_dir(a), "sub", "file-link"))
        # 2. The data dir itself replaced by a symlink after creation.
        b = await h.created_worker(c, name="swapped")
        os.rmdir(h.data_dir(b))
        os.symlink(victim, h.data_dir(b))
        # 3. A symlinked directory on the way to a relative data_path.
        d = await h.created_worker(c, name="via")
        doc = read_json(h.path(d, ".json"))
        os.rmdir(h.data_dir(d))
        os.symlink(h.tmp, os.path.join(h.workers_dir, "lnk"))
        doc["data_path"] = "lnk/victim"
        write_json(h.path(d, ".json"), doc)
        for uuid in (a, b, d):
            tr, last = await h.op(c, "delete_worker", uuid,
                                  is_type("worker_deleted"), T(30))
            assert last == {"type": "worker_deleted", "uuid": uuid}
        wait_for(lambda: not os.path.lexists(h.data_dir(a)) and
                 not os.path.lexists(h.data_dir(b)), T(10),
                 "the data dirs removed")
        assert sorted(os.listdir(victim)) == ["important.txt"]
        with open(os.path.join(victim, "important.txt")) as f:
            assert f.read() == "precious"
        assert os.path.islink(os.path.join(h.workers_dir, "lnk"))
    harness.run(body())


# ---------------------------------------------------------------------------
# worker.log


def test_worker_log_symlink_never_written_or_truncated(harness):
    """worker.log planted as a symlink to a file elsewhere: the monitor
    neither writes to it nor rotates (truncates) it, and worker_logs
    follow does not create anything through it."""
    async def body():
        h = harness.start()
        c = await h.client()
        victim = precious_victim(h.tmp)
        vfile = os.path.join(victim, "important.txt")
        with open(vfile, "w") as f:
            f.write("precious\n" * 100)
        uuid = await h.created_worker(
            c, name="logs", fnwm={"log_max_bytes": 100, "log_keep": 1})
        os.symlink(vfile, os.path.join(h.data_dir(uuid), "worker.log"))
        await h.activate(c, uuid)
        await wait_worker_pids(uuid, 1)
        m = c.mark()
        await c.send({"type": "worker_logs", "workerid": uuid,
                      "follow": True})
        await c.wait(lambda x: is_type("error")(x) or
                     is_type("worker_logs")(x), T(5), m, "worker_logs")
        # Its start-up output has had time to reach a log and the
        # monitor's rotation check has run.
        wait_for(lambda: "running" in (open(h.path(uuid, ".runstate")).read()
                                       if os.path.exists(
                                           h.path(uuid, ".runstate"))
                                       else ""), T(10), "running")
        with open(vfile) as f:
            assert f.read() == "precious\n" * 100
        assert not os.path.exists(vfile + ".1")
        assert sorted(os.listdir(victim)) == ["important.txt"]
    harness.run(body())


# ---------------------------------------------------------------------------
# dependencies


@pytest.mark.parametrize("dep", [
    {"package": "--index-url=http://127.0.0.1:9/simple"},
    {"package": "-e", "version": None},
    {"package": "funcnodes", "version": " --index-url=http://x/"},
    {"package": "https://example.org/evil.whl"},
    {"package": "./local-dir"},
    {"package": "/abs/evil.whl"},
    {"package": "pkg @ https://example.org/p.whl"},
    {"package": "pkg==1 --hash=sha256:00"},
], ids=lambda d: d["package"][:24])
def test_dependency_not_pep508_refused(harness, dep):
    async def body():
        h = harness.start()
        c = await h.client()
        before = tree(h.tmp)
        msg = await refused(c, {"name": "deps", "in_venv": False,
                                "package_dependencies": {"x": dep}},
                            "package_dependencies")
        assert "PEP 508" in msg, msg
        assert tree(h.tmp) - before <= {"fnwm.log"}
        assert os.listdir(h.workers_dir) == []
    harness.run(body())


def test_dependency_requirements_accepted(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        deps = {"a": {"package": "funcnodes-core", "version": ">=0.3"},
                "b": {"package": "fnwm_testdep", "version": "0.2.0"},
                "c": {"package": 'numpy[extra]>=1; python_version > "3"'}}
        uuid = await h.created_worker(c, name="deps",
                                      package_dependencies=deps)
        assert read_json(h.path(uuid, ".json"))[
            "package_dependencies"] == deps
    harness.run(body())


def test_direct_reference_allowed_by_config(harness):
    async def body():
        h = harness.start(fnwm={"allow_direct_references": True})
        c = await h.client()
        deps = {"a": {"package": "pkg @ https://example.org/p.whl"}}
        await h.created_worker(c, name="direct", package_dependencies=deps)
        # Options stay refused.
        await refused(c, {"name": "opt", "in_venv": False,
                          "package_dependencies": {
                              "x": {"package": "--index-url=http://x/"}}},
                      "package_dependencies")
    harness.run(body())


# ---------------------------------------------------------------------------
# uuids, kwargs, worker count


def test_uuid_longer_than_socket_path_refused(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        await refused(c, {"uuid": "u" * 120, "in_venv": False}, "uuid")
        assert os.listdir(h.workers_dir) == []
        uuid = await h.created_worker(c, uuid="v" * 64)
        assert uuid == "v" * 64
    harness.run(body())


def test_kwargs_over_limit_refused_counted(harness):
    async def body():
        h = harness.start(fnwm={"max_kwargs_bytes": 4096})
        c = await h.client()
        await h.created_worker(c, name="small", note="n" * 3000)
        for _ in range(3):
            await refused(c, {"name": "big", "in_venv": False,
                              "note": "n" * 5000}, "max_kwargs_bytes")
        assert len(os.listdir(h.workers_dir)) == 2  # json + data dir
        assert metric(h, "fnwm_limit_hits_total", "kwargs_bytes") == 3
        # One log line for the burst, not one per refusal.
        assert h.log().count("limit kwargs_bytes") == 1, h.log()
    harness.run(body())


def test_max_workers(harness):
    async def body():
        h = harness.start(fnwm={"max_workers": 2})
        c = await h.client()
        await h.created_worker(c, name="one")
        await h.created_worker(c, name="two")
        await refused(c, {"name": "three", "in_venv": False},
                      "max_workers")
        assert metric(h, "fnwm_limit_hits_total", "max_workers") == 1
    harness.run(body())
