"""What every fnwm test suite needs, once: the build under test, deadlines
stretched for sanitizer builds, polls with deadlines, /proc readers, free
ports, atomic JSON files and sanitizer reports.

Imported by tests/e2e (conftest.py and the *_util.py modules), tests/fault
(faultlib.py) and tests/proto (harness.py); each of them puts this folder
on sys.path. Those modules re-export what their tests import from them.

Nothing here sleeps to wait for a state: waits are polls with deadlines.
Needs Debian's /usr/bin/python3 (python3-websockets for the suites).
"""
import asyncio
import inspect
import json
import os
import random
import re
import signal
import socket
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FNWM_BIN = os.path.abspath(os.environ.get("FNWM_BIN") or os.path.join(
    REPO, "build", "master", "fnwm"))
SANITIZED = os.environ.get("FNWM_SANITIZED", "OFF").strip().upper() in (
    "ON", "1", "TRUE", "YES")
SLOW = 3.0 if SANITIZED else 1.0
PYTHON = "/usr/bin/python3"
WORKER_PATH = os.path.join(REPO, "tests", "worker")
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")
# The master's "listening on" line; group 2 is the port.
LISTEN_RE = re.compile(r"listening on wss?://(\[[^\]]*\]|[^:/\s]+):(\d+)/")


def T(seconds):
    """A deadline, stretched for sanitizer builds."""
    return seconds * SLOW


# ----------------------------------------------------------------------------
# waiting


def wait_for(cond, timeout, what=None, interval=0.02):
    """Polls cond() until it returns something truthy; returns that value.

    Fails the test with what (or cond's source) when timeout passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.2fs waiting for %s"
                                 % (timeout, what or describe(cond)))
        time.sleep(interval)


async def async_wait_for(cond, timeout, what=None, interval=0.02):
    """wait_for for async tests; cond may return an awaitable."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if inspect.isawaitable(v):
            v = await v
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.2fs waiting for %s"
                                 % (timeout, what or describe(cond)))
        await asyncio.sleep(interval)


def describe(cond):
    """cond's source line, for a timeout message."""
    try:
        return inspect.getsource(cond).strip()
    except (OSError, TypeError):
        return repr(cond)


# ----------------------------------------------------------------------------
# ports


def free_port(lo=None, hi=None, avoid=()):
    """A free TCP port of 127.0.0.1: from the kernel, or in [lo, hi)."""
    for _ in range(200):
        port = random.randrange(lo, hi) if lo else 0
        if port in avoid:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
    raise AssertionError("no free port in [%s, %s)" % (lo, hi))


# ----------------------------------------------------------------------------
# processes, through /proc


def read_bytes(path):
    """The whole file, or None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def cmdline(pid):
    raw = read_bytes("/proc/%d/cmdline" % pid)
    if not raw:
        return []
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0")[:-1]]


def proc_stat(pid):
    """(state, ppid, pgrp, starttime) or None."""
    raw = read_bytes("/proc/%d/stat" % pid)
    if raw is None:
        return None
    rest = raw[raw.rfind(b")") + 2:].split()
    return rest[0].decode(), int(rest[1]), int(rest[2]), int(rest[19])


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def pid_alive(pid):
    """Alive and not a zombie."""
    st = proc_stat(pid) if pid > 0 else None
    return st is not None and st[0] not in ("Z", "X", "x")


def has_uuid_args(argv, uuid):
    return any(argv[i] == "--uuid" and argv[i + 1] == uuid
               for i in range(len(argv) - 1))


def worker_pids(uuid):
    """Live worker processes of uuid: `... funcnodes ... --uuid U ... start`."""
    out = []
    for pid in all_pids():
        argv = cmdline(pid)
        if (argv and "funcnodes" in argv and has_uuid_args(argv, uuid)
                and not argv[0].startswith("fnwm-monitor") and pid_alive(pid)):
            out.append(pid)
    return sorted(out)


def monitor_pids(uuid=None, workers_dir=None):
    """Live fnwm-monitor processes (of uuid, and/or of workers_dir)."""
    out = []
    for pid in all_pids():
        argv = cmdline(pid)
        if not argv or not argv[0].startswith("fnwm-monitor:"):
            continue
        if uuid is not None and argv[0] != "fnwm-monitor: %s" % uuid:
            continue
        if workers_dir is not None and workers_dir not in argv:
            continue
        if pid_alive(pid):
            out.append(pid)
    return sorted(out)


def group_pids(pgid):
    """Live processes in process group pgid."""
    out = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[2] == pgid and st[0] not in ("Z", "X", "x"):
            out.append(pid)
    return sorted(out)


def belongs_to(pid, cfg_dir):
    """Whether pid was started for the test whose config dir is cfg_dir
    (fnwm exports --dir as FUNCNODES_CONFIG_DIR to everything it starts)."""
    argv = cmdline(pid)
    if cfg_dir in argv or os.path.join(cfg_dir, "workers") in argv:
        return True
    env = read_bytes("/proc/%d/environ" % pid)
    return bool(env) and ("FUNCNODES_CONFIG_DIR=%s" % cfg_dir).encode() \
        in env.split(b"\0")


def leftovers(cfg_dir, exclude=()):
    """Live processes of cfg_dir's test, but this one and exclude."""
    me = os.getpid()
    return sorted(p for p in all_pids()
                  if p != me and p not in exclude and pid_alive(p)
                  and belongs_to(p, cfg_dir))


def kill_pid(pid, sig=signal.SIGKILL):
    """Whether the signal was sent."""
    try:
        os.kill(pid, sig)
        return True
    except OSError:
        return False


def kill_all(pids, sig=signal.SIGKILL):
    for p in pids:
        kill_pid(p, sig)


# ----------------------------------------------------------------------------
# files and logs


def wait_listening(log_path, proc, timeout, since=0):
    """The port of a master's "listening on" line in log_path (its bytes
    from since on: a restarted master appends); fails when proc exits
    first or nothing comes within timeout."""
    def text():
        raw = read_bytes(log_path) or b""
        return raw[since:].decode("utf-8", "replace")

    def listening():
        m = LISTEN_RE.search(text())
        if m:
            return m
        if proc.poll() is not None:
            raise AssertionError("fnwm exited %s before listening:\n%s"
                                 % (proc.returncode, text()))
        return None
    return int(wait_for(listening, timeout, "the 'listening on' line")
               .group(2))


def write_json(path, obj):
    """Atomic, with a temporary name the manager does not look at."""
    tmp = os.path.join(os.path.dirname(path),
                       "tmp.%d.%d" % (os.getpid(), random.randrange(1 << 30)))
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
    os.rename(tmp, path)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def sanitizer_marker(text):
    """The first sanitizer marker in text (a report), or None."""
    return next((m for m in SANITIZER_MARKERS if m in text), None)
