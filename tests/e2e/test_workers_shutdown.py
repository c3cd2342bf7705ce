"""Orderly shutdown of the manager: the stop message, SIGTERM and SIGINT
each stop every worker (processes gone) and the manager exits 0."""
import os
import signal
import time

import pytest

from workers_util import harness  # noqa: F401 (the fixture)
from workers_util import (KILL_TIMEOUT, STOP_TIMEOUT, T, async_wait_for,
                          is_progress, leftovers, monitor_pids, pid_alive,
                          worker_pids)


@pytest.mark.parametrize("how", ["stop", "SIGTERM", "SIGINT"])
def test_shutdown_stops_all_workers(harness, how):
    async def body():
        h = harness.start()
        c = await h.client()
        workers = [await h.running_worker(c) for _ in range(3)]
        idle = await h.created_worker(c)   # never started
        mons = monitor_pids(workers_dir=h.workers_dir)
        assert len(mons) == 3
        t0 = time.monotonic()
        if how == "stop":
            m = c.mark()
            await c.send("stop")
            i = await c.wait(is_progress, T(5), m)
            assert c.msgs[i] == {"type": "progress",
                                 "message": "Stopping worker manager.",
                                 "status": "info", "progress": 1,
                                 "blocking": False}
        else:
            h.proc.send_signal(getattr(signal, how))
        rc = await h.wait_exit(T(15))
        assert rc == 0, h.log()[-3000:]
        # The workers were stopped (not left to die with the manager):
        # every one of them is gone, in order (its .p removed).
        for uuid, pid in workers:
            assert not pid_alive(pid), (uuid, pid)
            assert worker_pids(uuid) == []
            assert not os.path.exists(h.path(uuid, ".p")), uuid
        assert not [p for p in mons if pid_alive(p)], mons
        assert leftovers(h.cfg_dir) == []
        assert worker_pids(idle) == []
        # The clients were closed.
        await async_wait_for(lambda: c.closed, T(5), "the client closed")
        assert c.ws.close_code == 1001
        # Stopping in order was quick: no escalation was needed.
        assert time.monotonic() - t0 < T(STOP_TIMEOUT + 4), \
            time.monotonic() - t0
    harness.run(body())


def test_shutdown_with_stubborn_worker_within_escalation_bound(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        good, gpid = await h.running_worker(c)
        bad, bpid = await h.running_worker(
            c, test_behaviour={"ignore_stop": True, "ignore_sigterm": True})
        t0 = time.monotonic()
        h.proc.send_signal(signal.SIGTERM)
        bound = T(STOP_TIMEOUT + KILL_TIMEOUT + 4)
        await async_wait_for(lambda: not pid_alive(bpid), bound,
                             "the stubborn worker to be killed within "
                             "stop_timeout + kill_timeout + 4 s")
        assert not pid_alive(gpid)
        rc = await h.wait_exit(T(10))
        assert rc == 0
        assert time.monotonic() - t0 >= STOP_TIMEOUT + KILL_TIMEOUT - 0.3
        assert leftovers(h.cfg_dir) == []
    harness.run(body())
