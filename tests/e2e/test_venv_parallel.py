"""fnwm.max_parallel_steps: a burst of venv creations never runs more
than that many venv/pip steps at once across all workers; the rest wait,
told so by a progress message, and all of them finish."""
import asyncio
import threading
import time
import urllib.request

from venv_util import (CREATE_TIMEOUT, T, _read, all_pids, is_progress,
                       is_type, monitor_pids, proc_stat, run, short, vh,
                       wheels)

assert vh and wheels  # fixtures, used by name

N = 20


def step_procs(workers_dir):
    """(pid, start time) of every live child of this test's monitors:
    while workers are being created, those are its steps."""
    mons = set(monitor_pids(workers_dir=workers_dir))
    out = set()
    if not mons:
        return out
    for pid in all_pids():
        st = proc_stat(pid)
        if st is None or st[1] not in mons or st[0] == "Z":
            continue
        raw = _read("/proc/%d/stat" % pid)
        if raw is not None:
            out.add((pid, raw[raw.rfind(b")") + 2:].split()[19]))
    return out


class StepSampler(threading.Thread):
    """Counts the steps running at once. A scan of /proc is not atomic (a
    step may end and the next begin during one), so only processes seen
    in two consecutive scans count: each of them was alive at the moment
    between the scans, together."""

    def __init__(self, workers_dir):
        super().__init__(daemon=True)
        self.workers_dir = workers_dir
        self.peak = 0
        self.samples = 0
        self.halt = threading.Event()

    def run(self):
        prev = set()
        while not self.halt.is_set():
            cur = step_procs(self.workers_dir)
            self.peak = max(self.peak, len(prev & cur))
            prev = cur
            self.samples += 1
            time.sleep(0.01)


def test_burst_of_creations_runs_two_steps_at_most(vh):
    vh.wh.base()
    vh.start()
    sampler = StepSampler(vh.workers_dir)

    async def body():
        clients = [await vh.client("c%d" % i) for i in range(N)]
        marks = [c.mark() for c in clients]
        sampler.start()
        await asyncio.gather(*(
            c.send({"type": "new_worker",
                    "kwargs": {"name": "burst %d" % i, "in_venv": True}})
            for i, c in enumerate(clients)))

        async def created(c, m):
            i = await c.wait(lambda x: is_type("worker_created")(x) or
                             is_type("error")(x),
                             T(CREATE_TIMEOUT) * N / 2, m, "worker_created")
            assert c.msgs[i]["type"] == "worker_created", short(c.msgs[m:])
            return c.msgs[i]["uuid"]

        uuids = await asyncio.gather(*(created(c, m)
                                       for c, m in zip(clients, marks)))
        sampler.halt.set()
        assert len(set(uuids)) == N
        # The waiting ones were told why.
        seen = clients[0].msgs[marks[0]:]
        queued = [m for m in seen if is_progress(m) and
                  m["message"].startswith("Queued:")]
        assert queued, short(seen)
        assert "fnwm.max_parallel_steps" in queued[0]["message"]
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % vh.port,
                                    timeout=T(5)) as r:
            metrics = r.read().decode()
        assert 'fnwm_limit_hits_total{limit="max_parallel_steps"} 0' \
            not in metrics, metrics

    run(body(), T(CREATE_TIMEOUT) * N / 2 + 60, vh)
    sampler.halt.set()
    sampler.join(5)
    assert sampler.samples > 100, sampler.samples
    # The limit was reached (the test means something) and never passed.
    assert sampler.peak == 2, sampler.peak
