"""Helpers of the black-box tests of fnwm's virtualenv features
(tests/e2e/test_venv_*.py) and of bench/venv.py.

Self-contained on purpose (conftest.py and workers_util.py are shared and
change under us). Every test gets a VenvHarness: a private config dir, a
private wheelhouse (pip reaches it through PIP_NO_INDEX/PIP_FIND_LINKS in
the manager's environment, never through PyPI), a master started with
/usr/bin/python3 as its host python, and a teardown that kills whatever
the test left (the master, its monitors, workers, preparation steps and
their children), then fails the test on a sanitizer report in the
master's stderr.

The wheels are built once per pytest session, offline, from copies of
tests/worker (the FuncNodes worker double, distribution `funcnodes`) and
tests/worker/fnwm_testdep, in two versions each, plus a tiny
`funcnodes-core`. PYTHONPATH is never pointed at tests/worker: what runs in
a venv is what pip installed there.

Tests are plain functions that call run(coro): asyncio.run() under an
overall deadline. Waits are polls with deadlines, never bare sleeps.
"""
import asyncio
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

from fnwmtest import (  # noqa: E402,F401
    FNWM_BIN, LISTEN_RE, PYTHON, REPO, SANITIZED, SANITIZER_MARKERS, SLOW, T,
    all_pids, async_wait_for, belongs_to, cmdline, group_pids, has_uuid_args,
    kill_all, leftovers, monitor_pids, pid_alive, proc_stat,
    read_bytes as _read, read_json, sanitizer_marker, wait_for, worker_pids,
    write_json)

WORKER_SRC = os.path.join(REPO, "tests", "worker")
TESTDEP_SRC = os.path.join(WORKER_SRC, "fnwm_testdep")

V1, V2 = "0.1.0", "0.2.0"
# What a venv's creation takes here is 3-5 s; leave plenty of room.
CREATE_TIMEOUT = 90
ACTIVATE_TIMEOUT = 90

FAST_FNWM = {"stop_timeout": 2, "kill_timeout": 2, "activate_timeout": 60,
             "probe_interval": 2, "debounce": 0.02,
             "probe_connect_timeout": 2, "probe_reply_timeout": 1,
             "use_uv": False}

CREATE_PROGRESS = [("Making virtual environment.", 0.1),
                   ("Adding funcnodes", 0.5),
                   ("Writing configuration.", 0.9),
                   ("Creating new worker.", 1.0)]


def run(coro, timeout=240, harness=None):
    """Runs an async test body under an overall deadline, then closes the
    harness's clients; returns what the body returned."""
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


def clean_env(extra=None):
    """The environment of everything these tests start: no PYTHONPATH (the
    venv's own funcnodes must run), no package-index settings but ours."""
    e = dict(os.environ)
    for k in list(e):
        if (k.startswith(("FNWM_TEST_", "FUNCNODES_", "PIP_", "UV_",
                          "PYTHON")) or k in ("VIRTUAL_ENV", "CONDA_PREFIX")):
            del e[k]
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        e.update(extra)
    return e


# ----------------------------------------------------------------------------
# wheels, built offline


def _set_version(path, version):
    with open(path) as f:
        text = f.read()
    text, n = re.subn(r'__version__\s*=\s*["\'][^"\']*["\']',
                      '__version__ = "%s"' % version, text)
    assert n == 1, "no __version__ in %s" % path
    with open(path, "w") as f:
        f.write(text)


_IGNORE = shutil.ignore_patterns("build", "dist", "*.egg-info",
                                 "__pycache__", "*.pyc", ".pytest_cache")


def _tree_funcnodes(dst, version):
    shutil.copytree(WORKER_SRC, dst, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
        ".pytest_cache", "fnwm_testdep", "test_*.py"))
    _set_version(os.path.join(dst, "funcnodes", "__init__.py"), version)


def _tree_testdep(dst, version):
    shutil.copytree(TESTDEP_SRC, dst, ignore=_IGNORE)
    _set_version(os.path.join(dst, "src", "fnwm_testdep", "__init__.py"),
                 version)


def _tree_core(dst, version):
    """A stand-in `funcnodes-core` distribution (activation upgrades it)."""
    os.makedirs(os.path.join(dst, "funcnodes_core"))
    with open(os.path.join(dst, "pyproject.toml"), "w") as f:
        f.write('[build-system]\nrequires = ["setuptools>=61"]\n'
                'build-backend = "setuptools.build_meta"\n\n'
                '[project]\nname = "funcnodes-core"\nversion = "%s"\n'
                'description = "fnwm test stand-in of funcnodes-core"\n'
                'requires-python = ">=3.9"\ndependencies = []\n\n'
                '[tool.setuptools]\npackages = ["funcnodes_core"]\n'
                % version)
    with open(os.path.join(dst, "funcnodes_core", "__init__.py"), "w") as f:
        f.write('__version__ = "%s"\n' % version)


_TREES = {"funcnodes": _tree_funcnodes, "fnwm-testdep": _tree_testdep,
          "funcnodes-core": _tree_core}


class Wheels:
    """Built wheel files: path(dist, version)."""

    def __init__(self, out_dir, built):
        self.dir = out_dir
        self.built = built   # {(dist, version): path}

    def path(self, dist, version):
        return self.built[(dist, version)]


def build_wheels(work_dir, versions=(V1, V2)):
    """Builds funcnodes, funcnodes-core and fnwm-testdep in each version
    with `pip wheel --no-deps --no-build-isolation`, offline, from copies
    of the sources (building in place would leave build/ and egg-info)."""
    src_root = os.path.join(work_dir, "src")
    out_root = os.path.join(work_dir, "out")
    os.makedirs(src_root)
    env = clean_env({"PIP_NO_INDEX": "1",
                     "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    jobs = []
    for dist, make in _TREES.items():
        for v in versions:
            tree = os.path.join(src_root, "%s-%s" % (dist, v))
            make(tree, v)
            out = os.path.join(out_root, "%s-%s" % (dist, v))
            os.makedirs(out)
            log = open(os.path.join(work_dir, "build-%s-%s.log" % (dist, v)),
                       "wb")
            p = subprocess.Popen(
                [PYTHON, "-m", "pip", "wheel", "--no-deps",
                 "--no-build-isolation", "-w", out, tree],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                cwd=work_dir)
            jobs.append((dist, v, out, p, log))
    built = {}
    for dist, v, out, p, log in jobs:
        rc = p.wait(300)
        log.close()
        names = [n for n in os.listdir(out) if n.endswith(".whl")]
        if rc != 0 or len(names) != 1:
            with open(log.name, "rb") as f:
                raise RuntimeError("building %s %s failed (%s):\n%s"
                                   % (dist, v, rc, f.read().decode(
                                       "utf-8", "replace")[-3000:]))
        built[(dist, v)] = os.path.join(out, names[0])
    return Wheels(out_root, built)


@pytest.fixture(scope="session")
def wheels(tmp_path_factory):
    return build_wheels(str(tmp_path_factory.mktemp("wheels")))


class Wheelhouse:
    """A directory pip installs from (PIP_FIND_LINKS); wheels come and go."""

    def __init__(self, path, wheels):
        self.path = path
        self.wheels = wheels
        os.makedirs(path, exist_ok=True)

    def add(self, dist, version):
        src = self.wheels.path(dist, version)
        shutil.copy(src, os.path.join(self.path, os.path.basename(src)))

    def remove(self, dist, version):
        os.unlink(os.path.join(self.path, os.path.basename(
            self.wheels.path(dist, version))))

    def base(self):
        """funcnodes, funcnodes-core and fnwm-testdep, all 0.1.0."""
        for d in _TREES:
            self.add(d, V1)
        return self

    def upgrades(self):
        """Adds the 0.2.0 of all three."""
        for d in _TREES:
            self.add(d, V2)
        return self


# ----------------------------------------------------------------------------
# venvs


def venv_python(venv):
    return os.path.join(venv, "bin", "python")


def installed_version(venv, dist):
    """The version of dist installed in venv, or None."""
    r = subprocess.run(
        [venv_python(venv), "-c",
         "import importlib.metadata as m, sys\n"
         "try:\n    print(m.version(sys.argv[1]))\n"
         "except m.PackageNotFoundError:\n    print('-')\n", dist],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        env=clean_env(), timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    v = r.stdout.strip()
    return None if v == "-" else v


def pip_install(venv, wheelhouse, spec):
    """Installs spec into venv from the wheelhouse (test set-up)."""
    r = subprocess.run(
        [venv_python(venv), "-m", "pip", "install", spec],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        env=clean_env({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": wheelhouse,
                       "PIP_DISABLE_PIP_VERSION_CHECK": "1"}), timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)


def funcnodes_location(venv):
    """Where `import funcnodes` comes from in venv (must be inside it)."""
    r = subprocess.run(
        [venv_python(venv), "-c",
         "import funcnodes, sys; print(funcnodes.__file__); "
         "print(sys.prefix)"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        env=clean_env(), timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout.split("\n")[:2]


def write_script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def slow_python(path, seconds=30, real=PYTHON):
    """An interpreter that sleeps before it becomes /usr/bin/python3."""
    write_script(path, '#!/bin/sh\nsleep %d\nexec %s "$@"\n'
                 % (seconds, real))
    return path


def slow_pip_in_venv(venv, seconds=30):
    """Makes `<venv>/bin/python -m pip ...` sleep first (the venv's python
    becomes a wrapper of its python3; anything else runs at once)."""
    py = venv_python(venv)
    real = os.path.join(venv, "bin", "python3")
    assert os.path.exists(real), real
    os.unlink(py)
    write_script(py, '#!/bin/sh\ncase "$*" in *"-m pip"*) sleep %d;; esac\n'
                 'exec "%s" "$@"\n' % (seconds, real))


# ----------------------------------------------------------------------------
# a WebSocket client that records every frame


# The recording client is the worker suites' own.
from workers_util import Client  # noqa: E402,F401


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


def is_broadcast(m):
    return isinstance(m, dict) and m.get("type") in ("worker_status",
                                                     "worker_event")


def progresses(msgs):
    """(message, progress) of every non-reset progress, in order."""
    return [(m["message"], m["progress"]) for m in msgs
            if is_progress(m) and not is_reset(m)]


def messages(msgs):
    return [m["message"] for m in msgs if is_progress(m) and not is_reset(m)]


def error_progress(msgs):
    return [m for m in msgs if is_progress(m) and m.get("status") == "error"]


# ----------------------------------------------------------------------------
# the harness: one master on a private config dir and wheelhouse


class VenvHarness:
    def __init__(self, tmp_path, wheels):
        self.tmp = str(tmp_path)
        self.cfg_dir = os.path.join(self.tmp, "cfg")
        self.workers_dir = os.path.join(self.cfg_dir, "workers")
        os.makedirs(self.workers_dir, exist_ok=True)
        self.wh = Wheelhouse(os.path.join(self.tmp, "wheelhouse"), wheels)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.tmp, "fnwm.log")
        self._log = None
        self.clients = []
        self.uuids = set()
        self.startport = random.randrange(20000, 55000)
        self.endport = self.startport + 300
        self.env = None

    # -- the master ---------------------------------------------------------

    def start(self, fnwm=None, env=None, find_links=None, args=()):
        """Starts the master with FAST_FNWM + fnwm in config.json and
        PIP_NO_INDEX=1, PIP_FIND_LINKS=<wheelhouse> in its environment."""
        cfg = dict(FAST_FNWM)
        if fnwm:
            cfg.update(fnwm)
        write_json(os.path.join(self.cfg_dir, "config.json"), {"fnwm": cfg})
        e = clean_env({
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": find_links or self.wh.path,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_CACHE_DIR": "1",
            "FUNCNODES_WS_WORKER_STARTPORT": str(self.startport),
            "FUNCNODES_WS_WORKER_ENDPORT": str(self.endport),
            "FUNCNODES_HOST": "127.0.0.1",
            # Fast start-up of the double: short pauses, a quick save loop.
            "FNWM_TEST_STARTUP_PAUSE": "0.02",
            "FNWM_TEST_SAVE_INTERVAL": "1",
        })
        if SANITIZED:
            e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
            e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        if env:
            for k, v in env.items():
                if v is None:
                    e.pop(k, None)
                else:
                    e[k] = v
        self.env = e
        argv = [FNWM_BIN, "startworkermanager", "--dir", self.cfg_dir,
                "--port", "0", "--python", PYTHON] + list(args)
        self._log = open(self.log_path, "ab")
        since = self._log.tell()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log,
                                     env=e, cwd=self.tmp)

        def listening():
            # This master's line, not one of an earlier master.
            raw = _read(self.log_path) or b""
            m = LISTEN_RE.search(raw[since:].decode("utf-8", "replace"))
            if m:
                return m
            if self.proc.poll() is not None:
                raise AssertionError("fnwm exited %s before listening:\n%s"
                                     % (self.proc.returncode, self.log()))
            return None
        m = wait_for(listening, T(10), "the 'listening on' line")
        self.port = int(m.group(2))
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

    async def client(self, name="client", subscribe=True):
        ws = await websockets.connect(
            "ws://127.0.0.1:%d/" % self.port, compression=None,
            ping_interval=None, max_size=None, open_timeout=T(10),
            close_timeout=T(2))
        c = Client(ws, name)
        self.clients.append(c)
        if subscribe:
            # Broadcasts reach only clients that sent a real command.
            m = c.mark()
            await c.send("worker_status")
            await c.wait(is_type("worker_status"), T(30), m,
                         "the worker_status reply")
        return c

    async def close_clients(self):
        await asyncio.gather(*(c.close() for c in self.clients))
        self.clients = []

    # -- worker files ---------------------------------------------------------

    def path(self, uuid, suffix):
        return os.path.join(self.workers_dir, "worker_%s%s" % (uuid, suffix))

    def json_path(self, uuid):
        return self.path(uuid, ".json")

    def data_dir(self, uuid):
        return os.path.join(self.workers_dir, "worker_%s" % uuid)

    def venv(self, uuid):
        return os.path.join(self.data_dir(uuid), ".venv")

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

    # -- operations -----------------------------------------------------------

    async def send_new_worker(self, c, **kwargs):
        kwargs.setdefault("in_venv", True)
        m = c.mark()
        await c.send({"type": "new_worker", "kwargs": kwargs})
        return m

    async def wait_created(self, c, m, timeout=None):
        """After send_new_worker: (uuid or None, transcript up to and with
        the reset after worker_created or error)."""
        i = await c.wait(lambda x: is_type("worker_created")(x) or
                         is_type("error")(x), timeout or T(CREATE_TIMEOUT),
                         m, "worker_created")
        uuid = c.msgs[i].get("uuid") if c.msgs[i]["type"] == \
            "worker_created" else None
        if uuid:
            self.uuids.add(uuid)
        j = await c.wait(is_reset, T(10), i + 1, "the reset after creation")
        return uuid, c.msgs[m:j + 1]

    async def new_worker(self, c, timeout=None, **kwargs):
        """Creates a worker in a venv; returns (uuid, transcript of c)."""
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
        j = await c.wait(is_reset, T(10), i + 1, "reset after %s" % type_)
        return c.msgs[m:j + 1], c.msgs[i]

    async def set_active(self, c, uuid, timeout=None):
        """set_active until set_worker or error; (transcript, that msg)."""
        return await self.op(
            c, "set_active", uuid,
            lambda x: is_type("set_worker")(x) or is_type("error")(x),
            timeout or T(ACTIVATE_TIMEOUT))

    async def activate(self, c, uuid, timeout=None):
        tr, last = await self.set_active(c, uuid, timeout)
        assert last["type"] == "set_worker", \
            "activation failed: %s\n%s" % (short(tr), self.log()[-4000:])
        return tr, last["data"]

    async def stop_worker(self, c, uuid, timeout=None):
        m = c.mark()
        await c.send({"type": "stop_worker", "workerid": uuid})
        i = await c.wait(lambda x: is_progress(x, "Stopping worker.") or
                         is_type("error")(x), T(10), m, "Stopping worker.")
        j = await c.wait(lambda x: is_reset(x) or is_type("error")(x),
                         timeout or T(30), i + 1, "reset after stop_worker")
        return c.msgs[m:j + 1]

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
            left = leftovers(self.cfg_dir,
                             exclude=(self.proc.pid,) if self.alive()
                             else ())
            for u in self.uuids:
                left += worker_pids(u)
            left += pids_with_arg(self.tmp)
            left = [p for p in set(left)
                    if not (self.alive() and p == self.proc.pid)]
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
        text = self.log()
        # Shown by pytest only when the test fails.
        print("---- fnwm stderr (tail) ----\n" + text[-12000:])
        marker = sanitizer_marker(text)
        if marker:
            problems.append("sanitizer report (%s):\n%s"
                            % (marker, text[-20000:]))
        return problems


@pytest.fixture
def vh(tmp_path, wheels):
    h = VenvHarness(tmp_path, wheels)
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
