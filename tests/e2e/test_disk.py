"""A full disk and a read-only workers dir: clear errors, no crash, no
torn or half-made worker, and the manager goes on once space is back.

The workers dir is a small tmpfs of its own (root only: skipped where
mounting is not allowed)."""
import glob
import json
import os
import subprocess

import pytest

from conftest import T, connect, recv, recv_json

SIZE = "512k"


def mount(*args):
    return subprocess.run(["mount"] + list(args), capture_output=True,
                          text=True)


@pytest.fixture
def small_fs(tmp_path):
    """A config dir whose workers dir is a small tmpfs."""
    cfg = str(tmp_path / "cfg")
    d = os.path.join(cfg, "workers")
    os.makedirs(d)
    r = mount("-t", "tmpfs", "-o", "size=%s,mode=0700" % SIZE, "tmpfs", d)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % r.stderr.strip())
    try:
        yield cfg
    finally:
        # Lazily: the manager may still hold files there until its
        # fixture stops it.
        subprocess.run(["umount", "-l", d], capture_output=True)


async def new_worker(m):
    """Sends new_worker (no venv); returns its final message."""
    ws = await connect(m)
    await ws.send(json.dumps({"type": "new_worker",
                              "kwargs": {"in_venv": False}}))
    while True:
        msg = await recv_json(ws, T(10))
        if msg["type"] in ("worker_created", "error"):
            await ws.close()
            return msg


async def answers(m):
    ws = await connect(m)
    await ws.send("ping")
    ok = await recv(ws, T(5)) == "pong"
    await ws.close()
    return ok


def workers_files(cfg):
    return sorted(os.path.basename(p)
                  for p in glob.glob(os.path.join(cfg, "workers", "*")))


def fill(path):
    """Writes until the file system is full; returns the bytes written."""
    n = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            n += os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return n


async def test_full_disk_then_space_again(fnwm, small_fs):
    m = fnwm.start(config_dir=small_fs)
    filler = os.path.join(small_fs, "workers", "filler")
    assert fill(filler) > 0
    before = workers_files(small_fs)
    msg = await new_worker(m)
    assert msg["type"] == "error", msg
    assert "No space left on device" in msg["message"], msg
    assert m.alive() and await answers(m)
    # Nothing half-made: no worker file, no data dir, no temporary file.
    assert workers_files(small_fs) == before
    os.unlink(filler)
    msg = await new_worker(m)
    assert msg["type"] == "worker_created", msg
    path = os.path.join(small_fs, "workers", "worker_%s.json" % msg["uuid"])
    with open(path) as f:
        assert json.load(f)["uuid"] == msg["uuid"]


async def test_read_only_workers_dir_then_writable(fnwm, small_fs):
    m = fnwm.start(config_dir=small_fs)
    before = workers_files(small_fs)
    r = mount("-o", "remount,ro", os.path.join(small_fs, "workers"))
    assert r.returncode == 0, r.stderr
    try:
        msg = await new_worker(m)
        assert msg["type"] == "error", msg
        assert "Read-only file system" in msg["message"], msg
        assert m.alive() and await answers(m)
    finally:
        r = mount("-o", "remount,rw", os.path.join(small_fs, "workers"))
    assert r.returncode == 0, r.stderr
    assert workers_files(small_fs) == before
    msg = await new_worker(m)
    assert msg["type"] == "worker_created", msg
