"""Fault injection against fnwm: a seeded random sequence of SIGKILLs (of a
worker, of a monitor, of the master) and worker requests, with invariant
checks after every round.

Run (from the top of the repository, after building into ./build):

  short (CI; CTest test `fault_injection`, label `fault`):
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/fault/test_fault_injection.py

  long (2000 faults; its time budget is then 50 min, it takes about 20-40
  min on 2 cores, depending on how many rounds fail):
    FNWM_FAULTS=2000 /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/fault/test_fault_injection.py

  under ASan/UBSan (60 faults, deadlines x3, about 3-5 min):
    FNWM_BIN=build-asan/master/fnwm FNWM_SANITIZED=ON /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/fault/test_fault_injection.py

  replay the choices of a run: FNWM_FAULT_SEED=<the seed it printed>
  (the timing is not replayed, so neither is every outcome)

Environment:
  FNWM_BIN          the fnwm binary (default build/master/fnwm)
  FNWM_SANITIZED    ON for an ASan/UBSan build: deadlines x3, 60 faults
  FNWM_FAULT_SEED   seed of the sequence (default: random, printed)
  FNWM_FAULTS       number of faults (default 200; 60 under ASan)
  FNWM_FAULT_TIME   time budget of the fault phase in s; no round starts
                    after it (default 200, 300 under ASan; with FNWM_FAULTS
                    given, 1.5 s per fault and at least that). The summary
                    says when the budget cut the run short.

The CI default of 200 faults takes about 1.5-2 min when every round
settles (some 0.35 s per fault and 1-3 s per settle). A round that does not
settle costs its 10 s deadline and a repair, so while fnwm has bugs that
the test meets, the 200 s budget may end the run before the 200th fault;
with the test's set-up and the final `stop` the plain run stays under 4
minutes either way.
  FNWM_FAULT_ROUND  faults per round, between two invariant checks (10)

The model. A pool of up to 6 workers (new_worker, in_venv false), each with
a desired state: should run, should not run, or deleted. Requests
(set_active, stop_worker, restart_worker, delete_worker, new_worker) are
sent without waiting for their replies, one in flight per worker at most
(fnwm runs the operations of one worker in the order it received them), so
faults hit operations under way; a request's success sets its worker's
desired state. One that fails or is cut off by the master's death leaves
the worker "uncertain": when the round settles it is sent again, alone (as
a real client would), and must then succeed (within three tries, since the
round's last fault may be only a moment old). Between two steps the test
pauses 0-0.3 s at random: pacing of the chaos, so that requests get under
way before the next fault; no wait for a state is a sleep.

Faults, all SIGKILL: a random live worker process of this config dir (its
monitor restarts it by policy: a new pid); a random live monitor (the
master starts a new one that adopts the worker: the same pid); the master
(a new one is started on the same dir and port at once and must answer
ping; the workers keep running, same pids).

Checked after every step: no uuid has two live worker processes, and the
master lives (only we kill it). Checked after every round once things have
settled (polled until it holds twice in a row with the same processes,
under a deadline): every worker that should run runs exactly once -- the
one worker process of its uuid in /proc, `running` in worker_details with
that pid and with a monitor_pid that is the uuid's only monitor process --
and one that ran through the round's master and monitor kills (no worker
kill, no restart) kept its pid; no worker or monitor runs for a worker that
should not run or was deleted; a deleted worker has no files left; no
process runs for a uuid we do not know; at most one monitor per uuid;
every workers/worker_*.json parses as JSON and every .status as key=value
lines; the manager answers ping. At the end `stop` must stop the manager
(exit status 0) and leave no monitor or worker of the config dir, and no
master's stderr may hold a sanitizer report.

A round that does not settle is recorded; the test then repairs what it
found (SIGKILLs the processes of the workers concerned, removes a deleted
worker's leftovers, sends each its desired request again), checks that
this settles, and goes on, so that one run shows every kind of violation
it meets. It prints `N faults, S survived, L lost` (survived: the faults of
the rounds that settled; lost: those of the rounds that did not) and fails
if anything was lost or violated, with the seed, the violations grouped by
kind, the sequence log around the first of each kind, and the tail of the
master's stderr; the sequence log and every master's stderr are copied to
a directory of their own (named in the message). tests/fault/
test_regressions.py rebuilds, deterministically, the bugs this test met.
"""
import asyncio
import collections
import os
import random
import re
import shutil
import time

import pytest

import faultlib as fl
from faultlib import T

POOL_MAX = 6          # workers kept in the pool
POOL_MIN = 3          # no delete below this
DEFAULT_FAULTS = 60 if fl.SANITIZED else 200
SETTLE_DEADLINE = 10  # s (x3 under ASan) for a round to settle


def env_int(name, default):
    v = os.environ.get(name, "").strip()
    return int(v) if v else default


def env_float(name, default):
    v = os.environ.get(name, "").strip()
    return float(v) if v else default


class Fatal(AssertionError):
    """Something after which the run cannot go on."""


UUID_RE = re.compile(r"(?<![0-9a-z])"
                     r"(?:[0-9a-f]{32}|[a-z0-9-]{1,16}_[0-9a-f]{16})"
                     r"(?![0-9a-f])")


def signature(text):
    """The kind of a violation: the text without uuids and numbers."""
    s = UUID_RE.sub("<uuid>", text)
    s = re.sub(r"\{.*\}", "{...}", s)
    s = re.sub(r"\d+(\.\d+)?", "N", s)
    return s[:160]


class W:
    """One worker of the pool and what we want of it."""

    def __init__(self, uuid, desired="down"):
        self.uuid = uuid
        self.desired = desired      # run / down / deleted
        self.uncertain = None       # request to send again at settle time
        self.busy = None            # the request in flight, if any
        self.expect_pid = None      # the pid it must keep (see the model)


class Chaos:
    def __init__(self, fleet, rng, seed, n_faults, budget, per_round):
        self.fleet = fleet
        self.rng = rng
        self.seed = seed
        self.n_faults = n_faults
        self.budget = budget
        self.per_round = per_round
        self.pool = collections.OrderedDict()
        self.tasks = set()
        self.violations = []        # (round, uuid, text, index in events)
        self.round_bad = False
        self.bad_uuids = set()
        self.events = []
        self.t0 = time.monotonic()
        self.faults = 0
        self.survived = 0
        self.lost = 0
        self.lost_rounds = []
        self.kinds = collections.Counter()
        self.requests = collections.Counter()
        self.req_fates = collections.Counter()
        self.nreq = 0
        self.round = 0
        self.settle_times = []
        self.master_restarts = []
        self.budget_hit = False
        self.repairing = False
        self.log_path = os.path.join(fleet.root, "sequence.log")
        self._logf = open(self.log_path, "w")

    # -- bookkeeping ---------------------------------------------------------

    def log(self, fmt, *args):
        line = "%8.3f r%-3d %s" % (time.monotonic() - self.t0, self.round,
                                   fmt % args if args else fmt)
        self.events.append(line)
        self._logf.write(line + "\n")
        self._logf.flush()

    def violate(self, what, uuid=None):
        self.log("VIOLATION: %s", what)
        self.violations.append((self.round, uuid, what, len(self.events)))
        self.round_bad = True
        if uuid is not None:
            self.bad_uuids.add(uuid)

    def live(self):
        return [w for w in self.pool.values() if w.desired != "deleted"]

    async def master_ok(self):
        """The master only dies when we kill it; if it did, say so and
        start another one so that the run can go on."""
        m = self.fleet.master
        if m.alive():
            return
        self.violate("fnwm #%d (pid %d) died on its own, exit status %s; "
                     "stderr tail:\n%s" % (m.n, m.pid, m.proc.returncode,
                                           m.log()[-3000:]))
        try:
            self.first_ping(await self.fleet.start_master(T(20)))
        except AssertionError as e:
            raise Fatal("no new master after a crash: %s" % e)

    def first_ping(self, m):
        if not m.first_ping_ok:
            self.violate("fnwm #%d (pid %d) never answered the ping sent as "
                         "soon as it listened (%.0fs); later ones were "
                         "answered" % (m.n, m.pid, T(5)))

    def no_doubles(self, where):
        snap = self.fleet.snapshot()
        for u, pids in snap.workers.items():
            if len(pids) > 1:
                self.violate("two worker processes of %s %s: %s"
                             % (u, where, pids), u)
        return snap

    # -- requests --------------------------------------------------------------

    def pick_request(self):
        """A request kind by weight, then a worker without one in flight."""
        live = self.live()
        idle = [w for w in live if w.busy is None]
        kinds = []
        if len(live) < POOL_MAX:
            kinds += [("new_worker", 20)]
        if idle:
            kinds += [("set_active", 30), ("stop_worker", 22),
                      ("restart_worker", 15)]
            if len(live) > POOL_MIN:
                kinds += [("delete_worker", 8)]
        if not kinds:
            return None
        kind = self.rng.choices([k for k, _ in kinds],
                                [n for _, n in kinds])[0]
        return kind, None if kind == "new_worker" else self.rng.choice(idle)

    def send_request(self, kind, w):
        self.nreq += 1
        n = self.nreq
        self.requests[kind] += 1
        if w is not None:
            w.busy = kind
        self.log("req#%d %s %s (desired %s)", n, kind,
                 w.uuid if w else "", w.desired if w else "-")
        t = asyncio.ensure_future(self._request(n, kind, w))
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def _request(self, n, kind, w, quiet=False):
        """Sends one request and applies its outcome to the model. quiet:
        nothing else happens meanwhile, so it must succeed."""
        old_pid = w.expect_pid if w is not None else None
        r = await fl.request(self.fleet.port, kind, w.uuid if w else None,
                             timeout=T(40))
        self.req_fates[r.status] += 1
        self.log("req#%d %s %s -> %s", n, kind, w.uuid if w else "", r)
        if w is not None:
            w.busy = None
        if kind == "new_worker":
            if r.status == "ok":
                u = r.final["uuid"]
                self.pool[u] = W(u, "down")
            elif r.status == "timeout" or quiet:
                self.violate("new_worker: %r" % r)
            # error / lost: a JSON that appears anyway is adopted at
            # settle time
            return r
        target = {"set_active": "run", "restart_worker": "run",
                  "stop_worker": "down", "delete_worker": "deleted"}[kind]
        w.desired = target
        if kind != "set_active" or r.status != "ok":
            w.expect_pid = None
        if r.status == "ok":
            w.uncertain = None
            if kind in ("set_active", "restart_worker"):
                data = r.final.get("data") or {}
                if data.get("uuid") != w.uuid:
                    self.violate("%s %s handed out another worker: %s"
                                 % (kind, w.uuid, fl.short(data)), w.uuid)
                if kind == "restart_worker" and old_pid and \
                        data.get("pid") == old_pid:
                    self.violate("restart_worker %s handed out the old "
                                 "process %d" % (w.uuid, old_pid), w.uuid)
            return r
        if r.status == "timeout":
            self.violate("%s %s never finished: %r" % (kind, w.uuid, r),
                         w.uuid)
        if kind == "delete_worker" and r.status == "error" and \
                "not found" in (r.final.get("message") or "") and \
                not os.path.exists(os.path.join(
                    self.fleet.workers_dir, "worker_%s.json" % w.uuid)):
            # an earlier delete, cut off by a master's death, did it
            w.uncertain = None
            return r
        w.uncertain = kind
        if quiet and not self.repairing:
            self.violate("%s %s failed on a quiet system: %r"
                         % (kind, w.uuid, r), w.uuid)
        return r

    # -- faults ----------------------------------------------------------------

    async def inject_fault(self):
        snap = self.fleet.snapshot()
        kinds = ["master"] * 2
        if snap.workers:
            kinds += ["worker"] * 4
        if snap.monitors:
            kinds += ["monitor"] * 4
        kind = self.rng.choice(kinds)
        self.faults += 1
        self.kinds[kind] += 1
        if kind == "worker":
            u = self.rng.choice(sorted(snap.workers))
            pid = self.rng.choice(snap.workers[u])
            ok = fl.kill_pid(pid)
            if u in self.pool:
                self.pool[u].expect_pid = None
            self.log("FAULT#%d SIGKILL worker %s pid %d%s", self.faults, u,
                     pid, "" if ok else " (already gone)")
        elif kind == "monitor":
            u = self.rng.choice(sorted(snap.monitors))
            pid = self.rng.choice(snap.monitors[u])
            ok = fl.kill_pid(pid)
            self.log("FAULT#%d SIGKILL monitor %s pid %d%s", self.faults, u,
                     pid, "" if ok else " (already gone)")
        else:
            old = self.fleet.master
            self.log("FAULT#%d SIGKILL master #%d pid %d", self.faults,
                     old.n, old.pid)
            t = time.monotonic()
            self.fleet.kill_master()
            try:
                m = await self.fleet.start_master(T(20))
            except AssertionError as e:
                raise Fatal("no new master after a master kill: %s" % e)
            self.master_restarts.append(time.monotonic() - t)
            self.first_ping(m)
            self.log("master #%d pid %d answers ping after %.3fs", m.n,
                     m.pid, time.monotonic() - t)

    # -- settling and the invariants -------------------------------------------

    def adopt_unknown(self):
        """Worker JSONs we do not know: a new_worker whose reply was lost."""
        for n in sorted(os.listdir(self.fleet.workers_dir)):
            if n.startswith("worker_") and n.endswith(".json"):
                u = n[len("worker_"):-len(".json")]
                if u not in self.pool:
                    self.log("adopting %s (a new_worker cut off by a "
                             "master's death?) as down", u)
                    self.pool[u] = W(u, "down")

    def check(self, details, snap):
        """The invariants; a list of (uuid or None, problem)."""
        probs = []
        wd = self.fleet.workers_dir
        for u, w in self.pool.items():
            wp = snap.worker_pids(u)
            mp = snap.monitor_pids(u)
            e = details.get(u)

            def bad(text):
                probs.append((u, text))
            if len(mp) > 1:
                bad("%s: %d monitor processes %s" % (u, len(mp), mp))
            if w.desired == "run":
                if len(wp) != 1:
                    bad("%s should run: %d worker processes %s"
                        % (u, len(wp), wp))
                if e is None:
                    bad("%s should run: not in worker_details" % u)
                    continue
                last_exit = e.get("last_exit") or {}
                if e.get("state") != "running" and wp and \
                        last_exit.get("code") == 126 and \
                        e.get("pid") != wp[0]:
                    bad("%s should run: state %s, the monitor keeps "
                        "spawning a second worker that exits 126 (run lock "
                        "held) while worker %d runs unsupervised: %s"
                        % (u, e.get("state"), wp[0], fl.short(e, 500)))
                elif e.get("state") != "running":
                    bad("%s should run: worker_details state %s, pid %s, "
                        "last_exit %s, /proc workers %s: %s"
                        % (u, e.get("state"), e.get("pid"),
                           e.get("last_exit"), wp, fl.short(e, 500)))
                elif len(wp) == 1 and e.get("pid") != wp[0]:
                    bad("%s: worker_details pid %s, /proc %s"
                        % (u, e.get("pid"), wp))
                if not e.get("monitor_pid"):
                    bad("%s should run: no monitor_pid in worker_details "
                        "(%s); monitor processes %s"
                        % (u, fl.short(e, 500), mp))
                elif mp != [e["monitor_pid"]]:
                    bad("%s: worker_details monitor_pid %s, /proc monitors "
                        "%s" % (u, e["monitor_pid"], mp))
                if w.expect_pid is not None and wp and \
                        wp != [w.expect_pid]:
                    bad("%s: pid %d should have survived (no worker kill or "
                        "restart since), now %s" % (u, w.expect_pid, wp))
            elif w.desired == "down":
                if wp:
                    bad("%s should not run: worker processes %s" % (u, wp))
                if mp:
                    bad("%s should not run: monitor processes %s" % (u, mp))
                if e is None:
                    bad("%s should not run: not in worker_details (files "
                        "%s)" % (u, fl.files_of(wd, u)))
                elif e.get("state") != "down":
                    bad("%s should not run: worker_details state %s: %s"
                        % (u, e.get("state"), fl.short(e, 500)))
            else:
                if wp or mp:
                    bad("%s deleted: worker processes %s monitors %s"
                        % (u, wp, mp))
                if e is not None:
                    bad("%s deleted: still in worker_details" % u)
                left = fl.files_of(wd, u)
                if left:
                    bad("%s deleted: files left %s" % (u, left))
        for u in sorted(set(snap.workers) | set(snap.monitors)):
            if u not in self.pool:
                probs.append((u, "processes of unknown uuid %s: workers %s "
                              "monitors %s" % (u, snap.worker_pids(u),
                                               snap.monitor_pids(u))))
        probs += [(None, p) for p in fl.torn_files(wd)]
        return probs

    async def observe(self):
        await self.master_ok()
        if not await fl.ping(self.fleet.port, T(5)):
            return None, None, [(None, "the manager does not answer ping")]
        details = await fl.worker_details(self.fleet.port, T(5))
        snap = self.no_doubles("at settle time")
        return details, snap, self.check(details, snap)

    async def settle(self):
        """Waits for the requests in flight, sends the uncertain ones again,
        then polls the invariants until they hold twice in a row with the
        same processes. False (violations recorded) at the deadline."""
        t = time.monotonic()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=T(60))
            if self.tasks:
                raise Fatal("%d requests never finished" % len(self.tasks))
        self.adopt_unknown()
        for w in list(self.pool.values()):
            # The last fault may be a moment old: a request that fails
            # is tried twice more before its failure counts.
            for attempt in (1, 2, 3):
                if not w.uncertain:
                    break
                self.nreq += 1
                self.requests[w.uncertain] += 1
                self.log("req#%d %s %s again (settling, attempt %d)",
                         self.nreq, w.uncertain, w.uuid, attempt)
                await self._request(self.nreq, w.uncertain, w,
                                    quiet=attempt == 3)
        deadline = time.monotonic() + T(SETTLE_DEADLINE)
        good = 0
        last = None
        while True:
            details, snap, probs = await self.observe()
            if not probs:
                good += 1
                if good >= 2 and last is not None and \
                        last.workers == snap.workers and \
                        last.monitors == snap.monitors:
                    break
            else:
                good = 0
            last = snap
            if time.monotonic() >= deadline:
                for u, p in probs:
                    self.violate(p, u)
                self.log("worker_details: %s", fl.short(details, 6000))
                self.log("/proc workers %s monitors %s",
                         snap.workers if snap else None,
                         snap.monitors if snap else None)
                return False
            await asyncio.sleep(0.1)
        for u, w in self.pool.items():
            if w.desired == "run":
                w.expect_pid = snap.worker_pids(u)[0]
        dt = time.monotonic() - t
        self.settle_times.append(dt)
        self.log("settled in %.2fs: %s", dt, ", ".join(
            "%s=%s%s" % (u, w.desired, "/%d" % w.expect_pid
                         if w.expect_pid else "")
            for u, w in self.pool.items() if w.desired != "deleted"))
        return True

    async def repair(self):
        """After a round that did not settle: SIGKILL the processes of the
        workers concerned, remove a deleted worker's leftovers, send each
        its desired request again, and check that this settles; the second
        attempt also replaces the master (a fresh one forgets whatever state
        the first got into)."""
        uuids = sorted(self.bad_uuids)
        self.bad_uuids = set()
        self.repairing = True
        try:
            for attempt in (1, 2):
                self.log("REPAIR (attempt %d) of %s", attempt, uuids)
                if attempt == 2:
                    self.fleet.kill_master()
                    await self.fleet.start_master(T(20))
                    self.log("master #%d pid %d", self.fleet.master.n,
                             self.fleet.master.pid)
                snap = self.fleet.snapshot()
                for u in uuids:
                    for p in snap.monitor_pids(u) + snap.worker_pids(u):
                        fl.kill_pid(p)
                for u in uuids:
                    w = self.pool.get(u)
                    if w is None:
                        continue
                    w.expect_pid = None
                    if w.desired == "deleted":
                        self.remove_files(u)
                    else:
                        w.uncertain = {"run": "set_active",
                                       "down": "stop_worker"}[w.desired]
                n = len(self.violations)
                if await self.settle():
                    return
                # what the repair itself met is not news
                del self.violations[n:]
                uuids = sorted(set(uuids) | self.bad_uuids)
                self.bad_uuids = set()
            raise Fatal("the repair after round %d did not settle"
                        % self.round)
        finally:
            self.repairing = False

    def remove_files(self, u):
        for n in fl.files_of(self.fleet.workers_dir, u):
            path = os.path.join(self.fleet.workers_dir, n)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass

    # -- the run ---------------------------------------------------------------

    async def setup(self):
        self.first_ping(await self.fleet.start_master(T(15)))
        self.log("master #1 pid %d on port %d", self.fleet.master.pid,
                 self.fleet.port)
        for _ in range(POOL_MAX):
            self.nreq += 1
            await self._request(self.nreq, "new_worker", None, quiet=True)
        for w in list(self.pool.values())[:4]:
            self.nreq += 1
            await self._request(self.nreq, "set_active", w, quiet=True)
        if not await self.settle() or self.violations:
            raise Fatal("the initial pool did not settle")

    async def run(self):
        await self.setup()
        while self.faults < self.n_faults:
            if time.monotonic() - self.t0 > self.budget:
                self.budget_hit = True
                self.log("time budget of %.0fs used up", self.budget)
                break
            self.round += 1
            self.round_bad = False
            n = min(self.per_round, self.n_faults - self.faults)
            first = self.faults
            nreq0 = self.nreq
            try:
                for _ in range(n):
                    for _ in range(self.rng.choice((0, 1, 1, 2, 3))):
                        pick = self.pick_request()
                        if pick:
                            self.send_request(*pick)
                    # pacing of the chaos (not a wait for a state): lets
                    # the requests get under way before the next fault
                    await asyncio.sleep(self.rng.uniform(0, 0.3))
                    await self.inject_fault()
                    await self.master_ok()
                    self.no_doubles("after fault #%d" % self.faults)
                ok = await self.settle() and not self.round_bad
            except Fatal:
                self.lost += self.faults - first
                self.lost_rounds.append(self.round)
                raise
            took = self.settle_times[-1] if ok else float("nan")
            if ok:
                self.survived += self.faults - first
            else:
                self.lost += self.faults - first
                self.lost_rounds.append(self.round)
            print("round %3d: faults %4d..%-4d requests %3d %s  [%.0fs]"
                  % (self.round, first + 1, self.faults, self.nreq - nreq0,
                     "settled in %5.2fs" % took if ok else "DID NOT SETTLE",
                     time.monotonic() - self.t0), flush=True)
            if not ok:
                await self.repair()
        await self.finish()

    async def finish(self):
        """`stop`: the manager stops its workers and exits 0; nothing of the
        config dir may be left."""
        m = self.fleet.master
        self.log("stop")
        await fl.simple(self.fleet.port, "stop",
                        lambda f: "Stopping worker manager" in f, T(5))
        try:
            rc = m.proc.wait(T(30))
        except Exception:
            raise Fatal("fnwm #%d did not exit within %.0fs of `stop`"
                        % (m.n, T(30)))
        if rc != 0:
            self.violate("fnwm #%d exited %s on `stop`" % (m.n, rc))
        try:
            await fl.async_wait_for(
                lambda: not fl.leftovers(self.fleet.cfg_dir), T(5),
                "no process of the config dir")
        except AssertionError:
            snap = self.fleet.snapshot()
            self.violate("left after `stop`: workers %s monitors %s, all %s"
                         % (snap.workers, snap.monitors,
                            fl.leftovers(self.fleet.cfg_dir)))
        self.log("stopped, exit status %s", rc)

    # -- the report --------------------------------------------------------------

    def summary(self):
        return "%d faults, %d survived, %d lost" % (self.faults,
                                                    self.survived, self.lost)

    def details_line(self):
        st = sorted(self.settle_times)
        mr = sorted(self.master_restarts)
        return ("seed %d; faults: %s; requests: %s; request fates: %s; "
                "%d masters; settle median %.2fs max %.2fs; master restart "
                "to ping median %.3fs; %.0fs%s%s"
                % (self.seed, dict(self.kinds), dict(self.requests),
                   dict(self.req_fates), len(self.fleet.masters),
                   st[len(st) // 2] if st else 0, st[-1] if st else 0,
                   mr[len(mr) // 2] if mr else 0,
                   time.monotonic() - self.t0,
                   "; rounds that did not settle: %s" % self.lost_rounds
                   if self.lost_rounds else "",
                   "; time budget used up after %d of %d faults"
                   % (self.faults, self.n_faults) if self.budget_hit
                   else ""))

    def grouped(self):
        """Violations by kind: (signature, count, first (round, uuid, text,
        event index), rounds)."""
        groups = collections.OrderedDict()
        for v in self.violations:
            sig = signature(v[2])
            g = groups.setdefault(sig, [0, v, []])
            g[0] += 1
            if v[0] not in g[2]:
                g[2].append(v[0])
        return [(s, g[0], g[1], g[2]) for s, g in groups.items()]

    def excerpt(self, v, before=60):
        """The sequence lines of the round of violation v (about the uuid
        concerned, plus faults on the master) up to the violation."""
        rnd, uuid, _, idx = v
        tag = "r%-3d" % rnd
        lines = [ln for ln in self.events[:idx]
                 if ln[9:9 + len(tag)] == tag or
                 ln[9:9 + len(tag)] == "r%-3d" % (rnd - 1)]
        if uuid:
            lines = [ln for ln in lines if uuid in ln or "master" in ln or
                     "settled" in ln]
        return lines[-before:]


def keep_logs(root, seed):
    """Copies the sequence log and the masters' stderr out of pytest's
    tmp dir (which other pytest runs rotate away) to a dir of their own."""
    import tempfile
    try:
        dst = tempfile.mkdtemp(prefix="fnwm-fault-%d-" % seed)
        for n in sorted(os.listdir(root)):
            if n.endswith(".log"):
                shutil.copy(os.path.join(root, n), dst)
        return dst
    except OSError as e:
        return "%s (copying failed: %s)" % (root, e)


def test_fault_injection(tmp_path):
    seed = env_int("FNWM_FAULT_SEED", random.SystemRandom().randrange(
        1, 1 << 31))
    n_faults = env_int("FNWM_FAULTS", DEFAULT_FAULTS)
    if os.environ.get("FNWM_FAULTS", "").strip():
        budget_default = max(200.0, 1.5 * n_faults) * fl.SLOW
    else:
        budget_default = 300.0 if fl.SANITIZED else 200.0
    budget = env_float("FNWM_FAULT_TIME", budget_default)
    per_round = env_int("FNWM_FAULT_ROUND", 10)
    print("fault injection: seed %d (FNWM_FAULT_SEED=%d replays it), %d "
          "faults, budget %.0fs, %s build, dir %s"
          % (seed, seed, n_faults, budget,
             "sanitized" if fl.SANITIZED else "plain", tmp_path), flush=True)
    fl.SUMMARY.append("fault injection: seed %d" % seed)

    config = {"fnwm": dict(fl.FAST_CONFIG["fnwm"],
                           activate_timeout=20 * fl.SLOW)}
    fleet = fl.Fleet(str(tmp_path), config=config)
    chaos = Chaos(fleet, random.Random(seed), seed, n_faults, budget,
                  per_round)
    failure = None
    overall = budget + T(200) + 2 * T(SETTLE_DEADLINE) * (
        n_faults / max(1, per_round) + 2)
    try:
        asyncio.run(asyncio.wait_for(chaos.run(), overall))
    except Fatal as e:
        failure = "FATAL: %s" % e
        chaos.log("%s", failure)
    except asyncio.TimeoutError:
        failure = "the test ran out of time (%.0fs)" % overall
        chaos.log("%s", failure)
    finally:
        survivors = fleet.cleanup()
        chaos._logf.close()
    if failure and chaos.survived + chaos.lost < chaos.faults:
        chaos.lost = chaos.faults - chaos.survived
    problems = []
    if failure:
        problems.append(failure)
    if survivors:
        problems.append("processes survived SIGKILL: %s" % survivors)
    problems += fleet.sanitizer_problems()
    summary = chaos.summary()
    fl.SUMMARY.append(summary)
    fl.SUMMARY.append(chaos.details_line())
    print(summary, flush=True)
    print(chaos.details_line(), flush=True)
    groups = chaos.grouped()
    if problems or groups or chaos.lost:
        msg = ["FAULT INJECTION FAILED (seed %d; replay the choices with "
               "FNWM_FAULT_SEED=%d FNWM_FAULTS=%d)" % (seed, seed, n_faults),
               summary, chaos.details_line(), ""]
        msg += problems
        msg += ["%d kinds of violation:" % len(groups)]
        for sig, count, first, rounds in groups:
            msg += ["", "* %dx in rounds %s: %s" % (count, rounds, sig),
                    "  first (round %d): %s" % (first[0], first[2][:3000]),
                    "  sequence before it:"]
            msg += ["    " + ln[:400] for ln in chaos.excerpt(first)]
        msg += ["", "whole sequence and every master's stderr: %s"
                % keep_logs(fleet.root, seed)]
        m = fleet.master
        if m is not None:
            msg += ["", "stderr of fnwm #%d (%s), tail:" % (m.n, m.log_path),
                    m.log()[-8000:]]
        pytest.fail("\n".join(msg), pytrace=False)
