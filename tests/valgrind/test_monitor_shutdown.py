# SPDX-License-Identifier: MIT
"""A worker activated and the manager stopped, with both the master and
its monitor under valgrind: no leak, no memory error, in either."""
import asyncio
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from fnwmtest import wait_listening  # noqa: E402

FNWM = os.environ.get("FNWM_BIN")
MONITOR = os.environ.get("FNWM_MONITOR_BIN")
WORKER_PATH = os.path.join(os.path.dirname(__file__), "..", "worker")


async def _recv_until(ws, pred, timeout=60):
    end = time.monotonic() + timeout
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), end - time.monotonic()))
        if pred(msg):
            return msg


async def _scenario(port):
    async with websockets.connect(f"ws://127.0.0.1:{port}/", compression=None,
                                  ping_interval=None, max_size=None) as ws:
        await ws.send(json.dumps({"type": "new_worker",
                                  "kwargs": {"name": "vg", "in_venv": False}}))
        uuid = (await _recv_until(ws, lambda m: m.get("type") == "worker_created"))["uuid"]
        await ws.send(json.dumps({"type": "set_active", "workerid": uuid}))
        sw = await _recv_until(ws, lambda m: m.get("type") in ("set_worker", "error"))
        assert sw["type"] == "set_worker", sw
        await ws.send(json.dumps({"type": "restart_worker", "workerid": uuid}))
        sw = await _recv_until(ws, lambda m: m.get("type") in ("set_worker", "error"))
        assert sw["type"] == "set_worker", sw
        await ws.send("stop")
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 60)


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="no valgrind")
def test_master_and_monitor_clean_under_valgrind():
    assert FNWM and MONITOR, "FNWM_BIN / FNWM_MONITOR_BIN not set"
    tmp = tempfile.mkdtemp(prefix="fnwm-vgm-")
    try:
        cfg = os.path.join(tmp, "cfg")
        os.makedirs(cfg)
        wrapper = os.path.join(tmp, "monitor-under-valgrind")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec valgrind --leak-check=full --show-leak-kinds=all "
                    "--errors-for-leak-kinds=definite,indirect,possible "
                    f"--error-exitcode=99 --log-file={tmp}/monitor-vg.%p.log "
                    f"{MONITOR} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        env = dict(os.environ, PYTHONPATH=os.path.abspath(WORKER_PATH),
                   FNWM_MONITOR=wrapper,
                   FUNCNODES_WS_WORKER_STARTPORT=str(20000 + os.getpid() % 20000))
        log = os.path.join(tmp, "master.log")
        with open(log, "w") as out:
            proc = subprocess.Popen(
                ["valgrind", "--leak-check=full", "--show-leak-kinds=all",
                 "--errors-for-leak-kinds=definite,indirect,possible",
                 "--error-exitcode=99", f"--log-file={tmp}/master-vg.log",
                 FNWM, "startworkermanager", "--dir", cfg, "--port", "0",
                 "--python", "/usr/bin/python3"],
                stdout=out, stderr=out, env=env)
        try:
            port = wait_listening(log, proc, 60)
            asyncio.run(_scenario(port))
            rc = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        master = open(os.path.join(tmp, "master-vg.log")).read()
        assert rc == 0, f"exit {rc}\n{master}\n{open(log).read()}"
        assert "in use at exit: 0 bytes" in master, master
        # A forked child execs the worker and leaves a header-only log.
        mons = [open(p).read() for p in glob.glob(os.path.join(tmp, "monitor-vg.*.log"))]
        mons = [r for r in mons if "HEAP SUMMARY" in r]
        assert mons, "the monitor never ran under valgrind"
        for report in mons:
            assert "ERROR SUMMARY: 0 errors" in report, report
            assert "in use at exit: 0 bytes" in report, report
        assert "exited with status 0" in open(log).read()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
