"""Helpers of the black-box tests of fnwm's worker operations
(tests/e2e/test_workers_*.py).

Self-contained on purpose (conftest.py is shared and changes under us):
every test gets a WorkerHarness -- a private config dir, a master started
with the FuncNodes test double (tests/worker) as its workers, and a
teardown that kills whatever the test left running (the master, its
monitors, workers and their children), then fails the test on a
sanitizer report in the master's stderr.

Tests are plain functions that call run(coro): asyncio.run() under an
overall deadline. Waits are polls with deadlines, never bare sleeps.
"""
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import warnings

import pytest
import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

from fnwmtest import (  # noqa: E402,F401
    FNWM_BIN, LISTEN_RE, PYTHON, REPO, SANITIZED, SANITIZER_MARKERS, SLOW, T,
    WORKER_PATH, all_pids, async_wait_for, belongs_to, cmdline, group_pids,
    has_uuid_args, kill_all, leftovers, monitor_pids, pid_alive, proc_stat,
    read_bytes as _read, read_json, sanitizer_marker, wait_for,
    wait_listening, worker_pids,
    write_json)

# Small manager-wide timeouts keep the escalation tests short.
STOP_TIMEOUT = 1.0
KILL_TIMEOUT = 1.0
FAST_FNWM = {"stop_timeout": STOP_TIMEOUT, "kill_timeout": KILL_TIMEOUT,
             "activate_timeout": 30, "probe_interval": 2, "debounce": 0.02,
             "probe_connect_timeout": 2, "probe_reply_timeout": 1}

RESET = {"type": "progress", "message": "", "status": "info",
         "progress": 1, "blocking": False}


def run(coro, timeout=120, harness=None):
    """Runs an async test body under an overall deadline, then closes the
    harness's clients (an abandoned connection costs its close timeout);
    returns what the body returned."""
    async def body():
        try:
            return await asyncio.wait_for(coro, T(timeout))
        finally:
            if harness is not None:
                await harness.close_clients()
    return asyncio.run(body())


def pids_with_arg(text):
    """Live processes with an argument containing text."""
    me = os.getpid()
    return sorted(p for p in all_pids()
                  if p != me and pid_alive(p)
                  and any(text in a for a in cmdline(p)))


# ----------------------------------------------------------------------------
# a WebSocket client that records every frame


class Client:
    def __init__(self, ws, name):
        self.ws = ws
        self.name = name
        self.msgs = []          # every frame, decoded when JSON
        self.times = []         # arrival times (monotonic)
        self.walls = []         # arrival times (wall clock)
        self._new = asyncio.Event()
        self.closed = False
        self._task = asyncio.ensure_future(self._reader())

    async def _reader(self):
        try:
            async for frame in self.ws:
                if isinstance(frame, str) and frame[:1] == "{":
                    try:
                        frame = json.loads(frame)
                    except ValueError:
                        pass
                self.msgs.append(frame)
                self.times.append(time.monotonic())
                self.walls.append(time.time())
                self._new.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._new.set()

    async def send(self, msg):
        await self.ws.send(msg if isinstance(msg, str) else json.dumps(msg))

    def mark(self):
        return len(self.msgs)

    async def wait(self, pred, timeout, start=0, what=None):
        """Index of the first message at or after start with pred(msg)."""
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.msgs):
                if pred(self.msgs[i]):
                    return i
                i += 1
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                raise AssertionError(
                    "%s: %s within %.1fs; got %s"
                    % (self.name,
                       "closed before " + (what or "a match") if self.closed
                       else "no " + (what or "match"), timeout,
                       short(self.msgs[start:])))
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), T(5))
        except Exception:
            pass
        self._task.cancel()


def short(msgs, limit=4000):
    s = repr(msgs)
    return s if len(s) <= limit else s[:limit // 2] + " ... " + s[-limit // 2:]


def is_type(t):
    return lambda m: isinstance(m, dict) and m.get("type") == t


def is_progress(m, message=None):
    return (isinstance(m, dict) and m.get("type") == "progress"
            and (message is None or m.get("message") == message))


def is_reset(m):
    return (is_progress(m) and m.get("message") == "" and
            m.get("progress") == 1 and m.get("blocking") is False)


def is_event(uuid, state=None):
    return lambda m: (isinstance(m, dict) and m.get("type") == "worker_event"
                      and m.get("uuid") == uuid
                      and (state is None or m.get("state") == state))


def is_broadcast(m):
    return isinstance(m, dict) and m.get("type") in ("worker_status",
                                                     "worker_event")


def replies(msgs):
    """The messages of an operation's transcript: broadcasts dropped."""
    return [m for m in msgs if not is_broadcast(m)]


def progress_line(m):
    """(message, progress, blocking) of a progress, the type of others."""
    if is_progress(m):
        assert m.get("status") == "info", m
        return (m["message"], m["progress"], m["blocking"])
    return m.get("type") if isinstance(m, dict) else m


# ----------------------------------------------------------------------------
# the harness: one master on a private config dir


class WorkerHarness:
    """A master whose workers are the FuncNodes test double (tests/worker).
    VenvHarness (venv_util.py) is the same with workers in venvs."""

    # A connection accepted in the manager's first moments can stall for
    # good (see test_workers_hub_startup.py, which asserts that it does
    # not): client() reconnects after ANSWER_TIMEOUT, CONNECT_ATTEMPTS
    # times in all.
    ANSWER_TIMEOUT = 3
    CONNECT_ATTEMPTS = 3
    RESET_TIMEOUT = 5       # an operation's end -> its reset
    ACTIVATE_TIMEOUT = 30
    IN_VENV = False         # new_worker's default

    def __init__(self, tmp_path):
        self.tmp = str(tmp_path)
        self.cfg_dir = os.path.join(self.tmp, "cfg")
        self.workers_dir = os.path.join(self.cfg_dir, "workers")
        os.makedirs(self.workers_dir, exist_ok=True)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.tmp, "fnwm.log")
        self._log = None
        self.clients = []
        self.uuids = set()
        self.startport = random.randrange(20000, 55000)
        self.endport = self.startport + 300
        self.python = PYTHON
        self.stalls = []
        self.env = None

    # -- the master ---------------------------------------------------------

    def environment(self):
        """The master's environment before start()'s env is applied."""
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("FNWM_TEST_") or k.startswith("FUNCNODES_"):
                del e[k]
        e["PYTHONPATH"] = WORKER_PATH
        e["PYTHONDONTWRITEBYTECODE"] = "1"
        return e

    def start(self, fnwm=None, env=None, python=None, args=()):
        """Starts the master with FAST_FNWM + fnwm in config.json; env
        entries set (or, when None, remove) environment variables."""
        cfg = dict(FAST_FNWM)
        if fnwm:
            cfg.update(fnwm)
        write_json(os.path.join(self.cfg_dir, "config.json"), {"fnwm": cfg})
        e = self.environment()
        e["FUNCNODES_WS_WORKER_STARTPORT"] = str(self.startport)
        e["FUNCNODES_WS_WORKER_ENDPORT"] = str(self.endport)
        e["FUNCNODES_HOST"] = "127.0.0.1"
        # Fast start-up of the double: short pauses, a quick save loop.
        e["FNWM_TEST_STARTUP_PAUSE"] = "0.02"
        e["FNWM_TEST_SAVE_INTERVAL"] = "1"
        if SANITIZED:
            e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
            e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        self.env = e
        self.python = python or PYTHON
        argv = [FNWM_BIN, "startworkermanager", "--dir", self.cfg_dir,
                "--port", "0", "--python", self.python] + list(args)
        self._log = open(self.log_path, "ab")
        since = self._log.tell()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log,
                                     env=e, cwd=self.tmp)
        self.port = wait_listening(self.log_path, self.proc, T(10), since)
        return self

    async def restart(self, **start_kw):
        """Stops the master (SIGTERM, clients closed) and starts a new one
        on the same config dir with start(**start_kw)."""
        await self.close_clients()
        self.proc.send_signal(signal.SIGTERM)
        rc = await self.wait_exit(T(30))
        assert rc == 0, rc
        self._log.close()
        return self.start(**start_kw)

    def log(self):
        raw = _read(self.log_path)
        return raw.decode("utf-8", "replace") if raw else ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    async def wait_exit(self, timeout):
        await async_wait_for(lambda: not self.alive(), timeout,
                             "fnwm pid %d to exit" % self.proc.pid)
        return self.proc.returncode

    # -- clients ------------------------------------------------------------

    async def connect(self, name="client"):
        ws = await websockets.connect(
            "ws://127.0.0.1:%d/" % self.port, compression=None,
            ping_interval=None, max_size=None, open_timeout=T(10),
            close_timeout=T(2))
        c = Client(ws, name)
        self.clients.append(c)
        return c

    async def client(self, name="client", subscribe=True):
        """A connected client; with subscribe, one that gets broadcasts.
        A stalled connection is recorded in self.stalls, reported as a
        warning (not the subject of these tests), and replaced."""
        for attempt in range(self.CONNECT_ATTEMPTS):
            c = await self.connect(name)
            m = c.mark()
            # Broadcasts reach only clients that sent a real command.
            await c.send("worker_status" if subscribe else "ping")
            try:
                await c.wait(lambda x: x == "pong" or
                             is_type("worker_status")(x),
                             T(self.ANSWER_TIMEOUT), m,
                             "the worker_status reply" if subscribe
                             else "the pong")
            except AssertionError:
                if attempt + 1 == self.CONNECT_ATTEMPTS:
                    raise
                self.stalls.append(name)
                await c.close()
                self.clients.remove(c)
                continue
            if not subscribe:
                del c.msgs[m:]
                del c.times[m:]
                del c.walls[m:]
            return c

    async def close_clients(self):
        await asyncio.gather(*(c.close() for c in self.clients))
        self.clients = []

    def run(self, coro, timeout=120):
        return run(coro, timeout, self)

    # -- worker files ---------------------------------------------------------

    def path(self, uuid, suffix):
        return os.path.join(self.workers_dir, "worker_%s%s" % (uuid, suffix))

    def json_path(self, uuid):
        return self.path(uuid, ".json")

    def data_dir(self, uuid):
        return os.path.join(self.workers_dir, "worker_%s" % uuid)

    def doc(self, uuid):
        return read_json(self.json_path(uuid))

    def update_doc(self, uuid, **changes):
        d = self.doc(uuid)
        d.update(changes)
        write_json(self.json_path(uuid), d)
        return d

    def worker_log(self, uuid):
        raw = _read(os.path.join(self.data_dir(uuid), "worker.log"))
        return raw.decode("utf-8", "replace") if raw else ""

    def files_of(self, uuid):
        pre = "worker_%s" % uuid
        return sorted(n for n in os.listdir(self.workers_dir)
                      if n == pre or n.startswith(pre + "."))

    # -- operations (request, then wait for the end of the transcript) ------

    async def send_new_worker(self, c, **kwargs):
        kwargs.setdefault("in_venv", self.IN_VENV)
        m = c.mark()
        await c.send({"type": "new_worker", "kwargs": kwargs})
        return m

    async def wait_created(self, c, m, timeout=None):
        """After send_new_worker: (uuid or None, transcript up to and with
        the reset after worker_created or error)."""
        i = await c.wait(lambda x: is_type("worker_created")(x) or
                         is_type("error")(x), timeout or T(10), m,
                         "worker_created")
        uuid = c.msgs[i].get("uuid") if c.msgs[i]["type"] == \
            "worker_created" else None
        if uuid:
            self.uuids.add(uuid)
        j = await c.wait(is_reset, T(self.RESET_TIMEOUT), i + 1,
                         "the reset after creation")
        return uuid, c.msgs[m:j + 1]

    async def new_worker(self, c, timeout=None, **kwargs):
        """Creates a worker (in a venv when IN_VENV, unless in_venv is
        given); returns (uuid, transcript of c)."""
        m = await self.send_new_worker(c, **kwargs)
        uuid, tr = await self.wait_created(c, m, timeout)
        assert uuid, "new_worker failed: %s\n%s" % (short(tr),
                                                    self.log()[-4000:])
        return uuid, tr

    async def op(self, c, type_, uuid, end, timeout):
        """Sends {"type": type_, "workerid": uuid}; waits for end(msg) and
        the reset that follows it. Returns (transcript, end message)."""
        m = c.mark()
        await c.send({"type": type_, "workerid": uuid})
        i = await c.wait(end, timeout, m, "end of %s" % type_)
        j = await c.wait(is_reset, T(self.RESET_TIMEOUT), i + 1,
                         "reset after %s" % type_)
        return c.msgs[m:j + 1], c.msgs[i]

    async def set_active(self, c, uuid, timeout=None):
        """set_active until set_worker or error; returns (transcript, msg)."""
        return await self.op(
            c, "set_active", uuid,
            lambda x: is_type("set_worker")(x) or is_type("error")(x),
            timeout or T(self.ACTIVATE_TIMEOUT))

    async def activated(self, c, uuid, timeout=None):
        """set_active that must succeed: (transcript, set_worker data)."""
        tr, last = await self.set_active(c, uuid, timeout)
        assert last["type"] == "set_worker", \
            "activation failed: %s\n%s" % (short(tr), self.log()[-4000:])
        return tr, last["data"]

    async def activate(self, c, uuid, timeout=None):
        """set_active that must succeed; returns the set_worker data."""
        return (await self.activated(c, uuid, timeout))[1]

    async def stop_worker(self, c, uuid, timeout=None):
        m = c.mark()
        await c.send({"type": "stop_worker", "workerid": uuid})
        # Stopping worker. ... reset
        i = await c.wait(lambda x: is_progress(x, "Stopping worker."),
                         T(self.RESET_TIMEOUT), m, "Stopping worker.")
        j = await c.wait(lambda x: is_reset(x) or is_type("error")(x),
                         timeout or T(30), i + 1, "reset after stop_worker")
        return c.msgs[m:j + 1]

    async def created_worker(self, c, **kwargs):
        uuid, _ = await self.new_worker(c, **kwargs)
        return uuid

    async def running_worker(self, c, **kwargs):
        """A created and activated worker: (uuid, worker pid)."""
        uuid = await self.created_worker(c, **kwargs)
        data = await self.activate(c, uuid)
        pids = await wait_worker_pids(uuid, 1)
        assert data["pid"] == pids[0], (data, pids)
        return uuid, pids[0]

    # -- teardown -----------------------------------------------------------

    def kill_everything(self, timeout=None):
        """Kills monitors first (they would restart workers), then the
        rest of this config dir, until nothing is left. Returns what
        survived SIGKILL."""
        deadline = time.monotonic() + (timeout or T(10))
        while True:
            kill_all(monitor_pids(workers_dir=self.workers_dir))
            for u in self.uuids:
                kill_all(monitor_pids(u))
            live = (self.proc.pid,) if self.alive() else ()
            left = leftovers(self.cfg_dir, exclude=live)
            for u in self.uuids:
                left += worker_pids(u)
            left += pids_with_arg(self.tmp)
            left = [p for p in set(left) if p not in live]
            if not left:
                return []
            kill_all(left)
            if time.monotonic() > deadline:
                return left
            time.sleep(0.05)

    def finish(self):
        problems = []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(T(30))
            except subprocess.TimeoutExpired:
                problems.append("fnwm did not exit on SIGTERM (killed)")
                self.proc.kill()
                self.proc.wait()
        left = self.kill_everything()
        if left:
            problems.append("processes survived SIGKILL: %s" % left)
        if self._log is not None:
            self._log.close()
        if self.stalls:
            warnings.warn("fnwm hub: %d fresh connection(s) stalled "
                          "without an answer (reconnected): %s"
                          % (len(self.stalls), self.stalls))
        text = self.log()
        # Shown by pytest only when the test fails.
        print("---- fnwm stderr (tail) ----\n" + text[-12000:])
        marker = sanitizer_marker(text)
        if marker:
            problems.append("sanitizer report (%s):\n%s"
                            % (marker, text[-20000:]))
        return problems


@pytest.fixture
def harness(tmp_path):
    h = WorkerHarness(tmp_path)
    yield h
    problems = h.finish()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


async def wait_worker_pids(uuid, n, timeout=None):
    """Waits until exactly n worker processes of uuid exist; returns them."""
    got = []

    def cond():
        got[:] = worker_pids(uuid)
        return len(got) == n
    await async_wait_for(cond, timeout or T(20),
                         "%d worker process(es) of %s (have %s)"
                         % (n, uuid, got))
    return list(got)


async def wait_gone(pids, timeout, what="processes"):
    await async_wait_for(lambda: not [p for p in pids if pid_alive(p)],
                         timeout, "%s %s to be gone (alive: %s)"
                         % (what, pids, [p for p in pids if pid_alive(p)]))


def assert_reset(m):
    assert is_reset(m), "expected a reset progress, got %r" % (m,)
    assert m.get("status") == "info", m
