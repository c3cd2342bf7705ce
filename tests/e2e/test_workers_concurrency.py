"""Concurrency: 50 workers started and stopped at once, the loop stays
responsive during a slow activation, and operations on one worker from
several clients are serialised."""
import asyncio
import os
import time

from workers_util import harness  # noqa: F401 (the fixture)
from workers_util import (T, all_pids, cmdline, is_progress, is_type,
                          monitor_pids, pid_alive, progress_line, replies,
                          short, wait_gone, worker_pids)

N = 50


class ProcWatch:
    """Samples /proc in the background: the most worker processes ever
    seen at once per uuid."""

    def __init__(self, uuids):
        self.uuids = set(uuids)
        self.max = dict.fromkeys(self.uuids, 0)
        self.samples = 0
        self._task = asyncio.ensure_future(self._run())

    def sample(self):
        count = dict.fromkeys(self.uuids, 0)
        for pid in all_pids():
            argv = cmdline(pid)
            if not argv or "funcnodes" not in argv or \
                    argv[0].startswith("fnwm-monitor"):
                continue
            for i in range(len(argv) - 1):
                if argv[i] == "--uuid" and argv[i + 1] in count:
                    if pid_alive(pid):
                        count[argv[i + 1]] += 1
                    break
        for u, n in count.items():
            self.max[u] = max(self.max[u], n)
        self.samples += 1

    async def _run(self):
        while True:
            self.sample()
            await asyncio.sleep(0.05)

    def stop(self):
        self._task.cancel()
        self.sample()
        return {u: n for u, n in self.max.items() if n > 1}


def test_50_workers_started_and_stopped_concurrently(harness):
    async def body():
        h = harness.start(fnwm={"probe_interval": 5})
        admin = await h.client("admin")
        uuids = [await h.created_worker(admin, name="w%02d" % i)
                 for i in range(N)]
        clients = await asyncio.gather(*(h.client("c%02d" % i)
                                         for i in range(N)))
        watch = ProcWatch(uuids)
        t0 = time.monotonic()
        results = await asyncio.gather(*(
            h.set_active(c, u, timeout=T(60)) for c, u in
            zip(clients, uuids)))
        took = time.monotonic() - t0
        failed = [(u, last) for u, (tr, last) in zip(uuids, results)
                  if last["type"] != "set_worker"]
        assert not failed, short(failed)
        assert took < T(60), took
        pids = {}
        for u, (tr, last) in zip(uuids, results):
            assert last["data"]["uuid"] == u
            texts = [m["message"] for m in tr if is_progress(m)]
            assert texts[:3] == ["Activating worker.", "Starting worker.",
                                 "Contacting worker."], texts
            assert "removed" not in texts and "stopped" not in texts
            pids[u] = last["data"]["pid"]
        for u in uuids:
            assert worker_pids(u) == [pids[u]], (u, worker_pids(u))
            assert len(monitor_pids(u)) == 1, u
        assert len(set(pids.values())) == N
        # Every worker got its own port.
        ports = [r[1]["data"]["port"] for r in results]
        assert len(set(ports)) == N, sorted(ports)

        monitors = monitor_pids(workers_dir=h.workers_dir)
        stops = await asyncio.gather(*(
            h.stop_worker(c, u, timeout=T(30)) for c, u in
            zip(clients, uuids)))
        for tr in stops:
            assert [progress_line(m) for m in replies(tr)] == [
                ("Stopping worker.", 0.1, True), ("", 1, False)], short(tr)
        await wait_gone(list(pids.values()), T(15), "the workers")
        await wait_gone(monitors, T(15), "the monitors")
        dups = watch.stop()
        assert watch.samples > 3
        assert not dups, "uuids with more than one worker process: %s" % dups
        for u in uuids:
            assert worker_pids(u) == []
            assert not os.path.exists(h.path(u, ".p"))
        # The manager saw them all go.
        st = await admin_status(admin)
        assert [e["uuid"] for e in st["active"]] == []
        assert sorted(e["uuid"] for e in st["inactive"]) == sorted(uuids)
    harness.run(body(), timeout=180)


async def admin_status(c):
    m = c.mark()
    await c.send("worker_status")
    i = await c.wait(is_type("worker_status"), T(5), m)
    return c.msgs[i]


def test_ping_answered_promptly_during_slow_activation(harness):
    async def body():
        h = harness.start()
        a = await h.client("A")
        b = await h.client("B", subscribe=False)
        uuid = await h.created_worker(a, test_behaviour={"start_delay": 5})
        m = a.mark()
        await a.send({"type": "set_active", "workerid": uuid})
        await a.wait(lambda x: is_progress(x) and
                     x["message"] == "starting - Loading config", T(10), m,
                     "the worker in its start delay")
        t_end = time.monotonic() + 2.0
        worst = 0.0
        n = 0
        while time.monotonic() < t_end:
            k = b.mark()
            t0 = time.monotonic()
            await b.send("ping")
            await b.wait(lambda x: x == "pong", T(5), k)
            worst = max(worst, time.monotonic() - t0)
            n += 1
            k = b.mark()
            t0 = time.monotonic()
            await b.send("identify")
            await b.wait(lambda x: isinstance(x, dict) and
                         x.get("class") == "WorkerManager", T(5), k)
            worst = max(worst, time.monotonic() - t0)
            await asyncio.sleep(0.1)
        assert n >= 5
        assert worst < T(0.5), "slowest answer %.3f s" % worst
        # The activation was still going on, and it completes.
        assert not [x for x in a.msgs[m:] if is_type("set_worker")(x)]
        i = await a.wait(lambda x: is_type("set_worker")(x) or
                         is_type("error")(x), T(15), m)
        assert a.msgs[i]["type"] == "set_worker"
    harness.run(body())


def test_concurrent_set_active_from_two_clients_one_process(harness):
    async def body():
        h = harness.start()
        a = await h.client("A")
        b = await h.client("B")
        uuid = await h.created_worker(a, test_behaviour={"start_delay": 0.5})
        watch = ProcWatch([uuid])
        (tra, la), (trb, lb) = await asyncio.gather(
            h.set_active(a, uuid), h.set_active(b, uuid))
        assert la["type"] == "set_worker" and lb["type"] == "set_worker", \
            (short(tra), short(trb))
        assert la["data"]["pid"] == lb["data"]["pid"]
        # Exactly one of them started the worker.
        started = ["Starting worker." in [m["message"] for m in tr
                                          if is_progress(m)]
                   for tr in (tra, trb)]
        assert sorted(started) == [False, True], started
        assert worker_pids(uuid) == [la["data"]["pid"]]
        assert len(monitor_pids(uuid)) == 1
        assert not watch.stop()
    harness.run(body())


def test_operations_from_two_clients_are_serialised(harness):
    async def body():
        h = harness.start()
        a = await h.client("A")
        b = await h.client("B")
        uuid = await h.created_worker(a, test_behaviour={"start_delay": 1})
        watch = ProcWatch([uuid])
        # A activates (slowly); B's delete arrives meanwhile and runs
        # after it: A gets its worker, then B deletes it.
        ma = a.mark()
        await a.send({"type": "set_active", "workerid": uuid})
        await a.wait(lambda x: is_progress(x) and
                     x["message"] == "Starting worker.", T(5), ma)
        mb = b.mark()
        await b.send({"type": "delete_worker", "workerid": uuid})
        ia = await a.wait(lambda x: is_type("set_worker")(x) or
                          is_type("error")(x), T(15), ma)
        assert a.msgs[ia]["type"] == "set_worker", short(a.msgs[ma:])
        pid = a.msgs[ia]["data"]["pid"]
        ib = await b.wait(lambda x: is_type("worker_deleted")(x) or
                          is_type("error")(x), T(30), mb)
        assert b.msgs[ib] == {"type": "worker_deleted", "uuid": uuid}
        # B's delete did not start before A's activation was over.
        jb = [j for j in range(mb, ib) if is_progress(b.msgs[j])][0]
        assert b.msgs[jb]["message"] == "Deleting worker...", b.msgs[jb]
        assert b.times[jb] >= a.times[ia] - 0.05, (b.times[jb], a.times[ia])
        assert "Stopping worker." in [x["message"] for x in b.msgs[mb:ib]
                                      if is_progress(x)]
        assert not pid_alive(pid)
        assert h.files_of(uuid) == []
        assert not watch.stop()
    harness.run(body())


def test_concurrent_restarts_are_serialised(harness):
    async def body():
        h = harness.start()
        a = await h.client("A")
        b = await h.client("B")
        uuid, pid = await h.running_worker(a)
        watch = ProcWatch([uuid])

        def end(x):
            return is_type("set_worker")(x) or is_type("error")(x)
        (tra, la), (trb, lb) = await asyncio.gather(
            h.op(a, "restart_worker", uuid, end, T(30)),
            h.op(b, "restart_worker", uuid, end, T(30)))
        assert la["type"] == "set_worker" and lb["type"] == "set_worker", \
            (short(tra), short(trb))
        pa, pb = la["data"]["pid"], lb["data"]["pid"]
        # Two restarts, one after the other: two new processes.
        assert len({pid, pa, pb}) == 3, (pid, pa, pb)
        assert worker_pids(uuid) in ([pa], [pb])
        assert not watch.stop()
    harness.run(body())
