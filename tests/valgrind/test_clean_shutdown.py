# SPDX-License-Identifier: MIT
"""The master under valgrind: real traffic, then `stop`, must leave no leak
and no memory error (valgrind's exit code says both)."""
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest
import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from fnwmtest import wait_listening  # noqa: E402

FNWM = os.environ.get("FNWM_BIN")


async def _traffic(port, workers_dir):
    url = f"ws://127.0.0.1:{port}/"
    clients = [await websockets.connect(url, compression=None, ping_interval=None)
               for _ in range(5)]
    for ws in clients:
        await ws.send("ping")
        assert await ws.recv() == "pong"
        await ws.send("worker_status")
        st = json.loads(await ws.recv())
        assert st["type"] == "worker_status"
    a = clients[0]
    for bad in ("nonsense", "{bad", "[1]", '{"type": 3}', '{"type":"x"}', b"\x01\x02"):
        await a.send(bad)
        assert json.loads(await a.recv())["type"] == "error"
    # A large, fragmented message and a broadcast while clients listen.
    await a.send([("x" * 49000)[i:i + 7000] for i in range(0, 49000, 7000)])
    assert json.loads(await a.recv())["type"] == "error"
    with open(os.path.join(workers_dir, "worker_late.json"), "w") as f:
        json.dump({"type": "WSWorker", "uuid": "late", "name": "late"}, f)
    for ws in clients:
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if msg["type"] == "worker_status" and any(
                    e["uuid"] == "late" for e in msg["inactive"]):
                break
    # Oversized: closed with 1009.
    big = await websockets.connect(url, compression=None, ping_interval=None,
                                   max_size=None)
    await big.send("y" * 70000)
    with pytest.raises(websockets.ConnectionClosed) as exc:
        await asyncio.wait_for(big.recv(), 10)
    assert exc.value.code == 1009
    await clients[1].close()
    await a.send("stop")
    progress = json.loads(await a.recv())
    assert progress["message"] == "Stopping worker manager."
    for ws in clients[2:]:
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 10)


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="no valgrind")
def test_clean_shutdown_under_valgrind():
    assert FNWM, "FNWM_BIN not set"
    tmp = tempfile.mkdtemp(prefix="fnwm-vg-")
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        cfg = os.path.join(tmp, "cfg")
        workers = os.path.join(cfg, "workers")
        os.makedirs(workers)
        with open(os.path.join(cfg, "config.json"), "w") as f:
            json.dump({"fnwm": {"max_message_size": 65536,
                                "probe_connect_timeout": 0.5,
                                "probe_reply_timeout": 0.5}}, f)
        # A worker whose live pid does not answer, a corrupt one, a stale .p.
        with open(os.path.join(workers, "worker_a.json"), "w") as f:
            json.dump({"type": "WSWorker", "uuid": "a", "host": "127.0.0.1",
                       "port": 1, "extra": {"kept": True}}, f)
        with open(os.path.join(workers, "worker_a.p"), "w") as f:
            f.write(str(sleeper.pid))
        with open(os.path.join(workers, "worker_b.json"), "w") as f:
            f.write("{not json")
        with open(os.path.join(workers, "worker_c.p"), "w") as f:
            f.write("999999")
        log = os.path.join(tmp, "master.log")
        vglog = os.path.join(tmp, "valgrind.log")
        with open(log, "w") as out:
            proc = subprocess.Popen(
                ["valgrind", "--leak-check=full", "--show-leak-kinds=all",
                 "--errors-for-leak-kinds=definite,indirect,possible",
                 "--error-exitcode=99", "--log-file=" + vglog,
                 FNWM, "startworkermanager", "--dir", cfg, "--port", "0"],
                stdout=out, stderr=out)
        try:
            port = wait_listening(log, proc, 60)
            asyncio.run(_traffic(port, workers))
            rc = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        report = open(vglog).read()
        assert rc == 0, f"exit {rc}\n{report}\n{open(log).read()}"
        assert "ERROR SUMMARY: 0 errors" in report, report
        assert re.search(r"in use at exit: 0 bytes", report), report
    finally:
        sleeper.kill()
        sleeper.wait()
        shutil.rmtree(tmp, ignore_errors=True)
