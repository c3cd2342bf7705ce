"""Clients that connect the moment the manager says it listens are served
(the UI and the CLI's auto-start do exactly that). The other worker tests
reconnect when this fails; this test asserts that it does not."""
import asyncio
import os
import subprocess

import pytest

from workers_util import PYTHON, T, WorkerHarness, is_type, run, short

STARTS = 150
CLIENTS = 3


@pytest.fixture
def cpu_load():
    """Two busy processes at the lowest priority (they take only idle
    CPU from parallel tests): the race shows more often under load."""
    prog = "import os\nos.nice(19)\nwhile True: pass"
    procs = [subprocess.Popen([PYTHON, "-c", prog]) for _ in range(2)]
    yield
    for p in procs:
        p.kill()
        p.wait()


def test_clients_connecting_right_after_listening_are_served(tmp_path,
                                                             cpu_load):
    stalled = []

    async def one_start(h):
        async def client(i):
            c = await h.connect("c%d" % i)
            await c.send("worker_status")
            try:
                await c.wait(is_type("worker_status"), T(3), 0)
            except AssertionError:
                stalled.append((h.tmp, i, short(c.msgs)))
        await asyncio.gather(*(client(i) for i in range(CLIENTS)))
        await h.close_clients()

    for n in range(STARTS):
        h = WorkerHarness(os.path.join(str(tmp_path), "m%02d" % n))
        try:
            h.start()
            run(one_start(h), timeout=30)
        finally:
            problems = h.finish()
        assert not problems, problems
        if stalled:
            break
    assert not stalled, (
        "%d of %d connections made right after 'listening on' never got "
        "an answer (manager start %d of %d): %s"
        % (len(stalled), CLIENTS, n + 1, STARTS, stalled))
