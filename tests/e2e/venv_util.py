"""Helpers of the black-box tests of fnwm's virtualenv features
(tests/e2e/test_venv_*.py) and of bench/venv.py.

Every test gets a VenvHarness (workers_util.WorkerHarness with venvs): a
private config dir, a private wheelhouse (pip reaches it through PIP_NO_INDEX/PIP_FIND_LINKS in
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
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

from fnwmtest import (  # noqa: E402,F401
    FNWM_BIN, LISTEN_RE, PYTHON, REPO, SANITIZED, SANITIZER_MARKERS, SLOW, T,
    all_pids, async_wait_for, belongs_to, cmdline, group_pids, has_uuid_args,
    kill_all, leftovers, monitor_pids, pid_alive, proc_stat,
    read_bytes as _read, read_json, sanitizer_marker, wait_for, worker_pids,
    write_json)

import workers_util as wu  # noqa: E402
from workers_util import (  # noqa: E402,F401
    Client, WorkerHarness, is_broadcast, is_progress, is_reset, is_type,
    pids_with_arg, short, wait_gone, wait_worker_pids)

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
    """workers_util.run with the longer deadline of venv work."""
    return wu.run(coro, timeout, harness)


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


class VenvHarness(WorkerHarness):
    """A WorkerHarness whose workers live in venvs: a private wheelhouse
    reached through PIP_NO_INDEX=1, PIP_FIND_LINKS=<wheelhouse> in the
    master's environment, and no PYTHONPATH (the venv's own funcnodes
    must run)."""

    ANSWER_TIMEOUT = 30
    CONNECT_ATTEMPTS = 1
    RESET_TIMEOUT = 10
    ACTIVATE_TIMEOUT = ACTIVATE_TIMEOUT
    IN_VENV = True

    def __init__(self, tmp_path, wheels):
        super().__init__(tmp_path)
        self.wh = Wheelhouse(os.path.join(self.tmp, "wheelhouse"), wheels)
        self._find_links = None

    def environment(self):
        return clean_env({
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": self._find_links or self.wh.path,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_CACHE_DIR": "1",
        })

    def start(self, fnwm=None, env=None, find_links=None, args=()):
        self._find_links = find_links
        return super().start(fnwm=fnwm, env=env, args=args)

    def venv(self, uuid):
        return os.path.join(self.data_dir(uuid), ".venv")

    async def wait_created(self, c, m, timeout=None):
        return await super().wait_created(c, m, timeout or T(CREATE_TIMEOUT))


@pytest.fixture
def vh(tmp_path, wheels):
    h = VenvHarness(tmp_path, wheels)
    yield h
    problems = h.finish()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
