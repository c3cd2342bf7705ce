"""Helpers of the fnwm fault-injection test (tests/fault/) and of the
crash-recovery benchmark (bench/crash.py).

Self-contained on purpose (the e2e helpers change under us): a Fleet is
one private config dir with its master incarnations (every master gets
its own stderr file), the FuncNodes test double of tests/worker as the
workers, /proc scans that tell the workers and monitors of this config dir
apart from everything else on the machine, and one-connection-per-request
WebSocket helpers. Waits are polls with deadlines, never bare sleeps.

Needs Debian's /usr/bin/python3 with python3-websockets (10.x asyncio API).
"""
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

from fnwmtest import (  # noqa: E402,F401
    FNWM_BIN, LISTEN_RE, PYTHON, REPO, SANITIZED, SANITIZER_MARKERS, SLOW, T,
    WORKER_PATH, all_pids, async_wait_for, belongs_to, cmdline, free_port,
    kill_pid, leftovers, pid_alive, proc_stat, read_bytes as _read,
    sanitizer_marker, write_json)

# The brief's small timeouts: a stop escalates after 2 s + 1 s, a killed
# worker comes back after 0.1 .. 0.5 s, and giving up needs 50 deaths a
# minute (the monitor caps the tally at 32), which no fault mix reaches.
FAST_CONFIG = {"fnwm": {
    "stop_timeout": 2, "kill_timeout": 1, "probe_interval": 2,
    "restart_policy": {"healthy_after": 1, "backoff_initial": 0.1,
                       "backoff_max": 0.5, "giveup_count": 50,
                       "giveup_window": 60}}}

# Lines the test wants printed at the end of the pytest run (conftest.py).
SUMMARY = []

STATUS_KEYS = ("version", "state", "pid", "adopted", "monitor", "restarts",
               "last_exit", "since")
STATES = ("down", "starting", "running", "stopping", "backoff", "failed")


# Ports: the master's in [30500, 32700) and the workers' from a random
# start in [12000, 28000) up -- apart, and both below the kernel's
# ephemeral range (32768 up by default), so that while a killed master is
# down neither a restarting worker nor an outgoing connection can take its
# port.
MASTER_PORTS = (30500, 32700)
WORKER_PORTS = (12000, 28000)


# ----------------------------------------------------------------------------
# /proc


def _arg_after(argv, flag):
    for i in range(len(argv) - 1):
        if argv[i] == flag:
            return argv[i + 1]
    return None


def is_worker_argv(argv):
    """`<python> -m funcnodes ... worker --uuid U start` (a monitor's argv
    also holds `--uuid U`; `-m funcnodes` is what tells them apart)."""
    for i in range(len(argv) - 1):
        if argv[i] == "-m" and argv[i + 1] == "funcnodes":
            return "worker" in argv and "start" in argv
    return False


class Snapshot:
    """The live (non-zombie) workers and monitors of one config dir."""

    def __init__(self, workers, monitors, at):
        self.workers = workers      # uuid -> sorted [pid]
        self.monitors = monitors    # uuid -> sorted [pid]
        self.at = at

    def worker_pids(self, uuid):
        return self.workers.get(uuid, [])

    def monitor_pids(self, uuid):
        return self.monitors.get(uuid, [])

    def all_worker_pids(self):
        return sorted(p for ps in self.workers.values() for p in ps)

    def all_monitor_pids(self):
        return sorted(p for ps in self.monitors.values() for p in ps)


def scan(cfg_dir):
    workers_dir = os.path.join(cfg_dir, "workers")
    workers, monitors = {}, {}
    for pid in all_pids():
        argv = cmdline(pid)
        if not argv:
            continue
        if argv[0].startswith("fnwm-monitor: "):
            if _arg_after(argv, "--workers-dir") != workers_dir:
                continue
            uuid = argv[0][len("fnwm-monitor: "):]
            if pid_alive(pid):
                monitors.setdefault(uuid, []).append(pid)
        elif is_worker_argv(argv):
            if _arg_after(argv, "--dir") != cfg_dir:
                continue
            uuid = _arg_after(argv, "--uuid")
            if uuid and pid_alive(pid):
                workers.setdefault(uuid, []).append(pid)
    for d in (workers, monitors):
        for k in d:
            d[k].sort()
    return Snapshot(workers, monitors, time.monotonic())


def listeners(port):
    """What `ss` says about a TCP port (a diagnostic)."""
    try:
        return subprocess.run(
            ["ss", "-tanp", "sport = :%d" % port], capture_output=True,
            text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return "(ss: %s)" % e


# ----------------------------------------------------------------------------
# files


def torn_files(workers_dir):
    """Every worker_*.json must parse as a JSON object naming its uuid, and
    every worker_*.status must be complete key=value lines. Returns the
    problems found (a file that vanishes while we read it is no problem)."""
    problems = []
    try:
        names = os.listdir(workers_dir)
    except FileNotFoundError:
        return problems
    for n in names:
        if not n.startswith("worker_"):
            continue
        path = os.path.join(workers_dir, n)
        if n.endswith(".json"):
            raw = _read(path)
            if raw is None:
                continue
            try:
                doc = json.loads(raw.decode("utf-8"))
            except ValueError as e:
                problems.append("torn %s (%d bytes): %s: %r"
                                % (n, len(raw), e, raw[:200]))
                continue
            uuid = n[len("worker_"):-len(".json")]
            if not isinstance(doc, dict) or doc.get("uuid") != uuid:
                problems.append("%s: not an object with uuid %s: %r"
                                % (n, uuid, raw[:200]))
        elif n.endswith(".status"):
            raw = _read(path)
            if raw is None:
                continue
            problems += ["%s: %s" % (n, p) for p in status_problems(raw)]
    return problems


def status_problems(raw):
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return ["not ASCII: %r" % raw[:200]]
    if not text.endswith("\n"):
        return ["no final newline (torn?): %r" % text]
    kv = {}
    out = []
    for ln in text[:-1].split("\n"):
        m = re.match(r"^([a-z_]+)=(.*)$", ln)
        if not m:
            out.append("bad line %r in %r" % (ln, text))
            continue
        kv[m.group(1)] = m.group(2)
    missing = [k for k in STATUS_KEYS if k not in kv]
    if missing:
        out.append("keys %s missing: %r" % (missing, text))
    elif kv["state"] not in STATES:
        out.append("unknown state %r" % kv["state"])
    else:
        for k in ("pid", "monitor", "restarts", "since", "last_exit",
                  "adopted", "version"):
            if not re.match(r"^-?\d+$", kv[k]):
                out.append("%s=%r is not a number" % (k, kv[k]))
    return out


def read_status(workers_dir, uuid):
    raw = _read(os.path.join(workers_dir, "worker_%s.status" % uuid))
    if raw is None:
        return None
    out = {}
    for ln in raw.decode("ascii", "replace").splitlines():
        k, _, v = ln.partition("=")
        out[k] = v
    return out


def files_of(workers_dir, uuid):
    pre = "worker_%s" % uuid
    try:
        return sorted(n for n in os.listdir(workers_dir)
                      if n == pre or n.startswith(pre + "."))
    except FileNotFoundError:
        return []


def sanitizer_report(text):
    marker = sanitizer_marker(text)
    if marker is None:
        return None
    i = text.find(marker)
    return marker, text[max(0, i - 2000):i + 8000]


# ----------------------------------------------------------------------------
# WebSocket requests: one connection each, so replies never mix


def is_reset(m):
    return (isinstance(m, dict) and m.get("type") == "progress" and
            m.get("message") == "" and m.get("progress") == 1 and
            m.get("blocking") is False)


async def ws_connect(port, timeout):
    return await websockets.connect(
        "ws://127.0.0.1:%d/" % port, compression=None, ping_interval=None,
        max_size=None, open_timeout=timeout, close_timeout=1)


class Reply:
    """What came of one request: ok / error / lost (the connection failed
    or closed) / timeout, the final message and the transcript."""

    def __init__(self, status, final=None, transcript=None, detail=""):
        self.status = status
        self.final = final
        self.transcript = transcript or []
        self.detail = detail

    def __repr__(self):
        return "Reply(%s, %s%s)" % (
            self.status, short(self.final, 300),
            ", " + self.detail if self.detail else "")


def short(x, limit=600):
    s = repr(x)
    return s if len(s) <= limit else s[:limit // 2] + " ... " + s[-limit // 2:]


def _final_pred(kind):
    if kind == "new_worker":
        return lambda m, seen: m.get("type") in ("worker_created", "error")
    if kind in ("set_active", "restart_worker"):
        return lambda m, seen: m.get("type") in ("set_worker", "error")
    if kind == "delete_worker":
        return lambda m, seen: m.get("type") in ("worker_deleted", "error")
    if kind == "stop_worker":
        # The reset after "Stopping worker." (a concurrent new_worker's
        # broadcast reset cannot come before that progress line).
        def stop_end(m, seen):
            if m.get("type") == "error":
                return True
            return is_reset(m) and any(
                isinstance(s, dict) and s.get("message") == "Stopping worker."
                for s in seen)
        return stop_end
    raise ValueError(kind)


async def request(port, kind, uuid=None, timeout=30.0, kwargs=None):
    """Sends one worker request on its own connection and reads until its
    final message. Never raises for the request's fate: see Reply."""
    if kind == "new_worker":
        msg = {"type": "new_worker", "kwargs": kwargs or {"in_venv": False}}
    else:
        msg = {"type": kind, "workerid": uuid}
    pred = _final_pred(kind)
    seen = []
    try:
        ws = await ws_connect(port, min(timeout, 10))
    except (OSError, asyncio.TimeoutError,
            websockets.exceptions.WebSocketException) as e:
        return Reply("lost", detail="connect: %r" % (e,))
    try:
        await ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return Reply("timeout", transcript=seen,
                             detail="no final message in %.1fs" % timeout)
            try:
                frame = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                continue
            if not isinstance(frame, str) or frame[:1] != "{":
                continue
            m = json.loads(frame)
            if m.get("type") in ("worker_status", "worker_event"):
                continue
            seen.append(m)
            if pred(m, seen):
                return Reply("error" if m.get("type") == "error" else "ok",
                             m, seen)
    except (websockets.ConnectionClosed, OSError) as e:
        return Reply("lost", transcript=seen, detail="closed: %r" % (e,))
    finally:
        try:
            await asyncio.wait_for(ws.close(), 2)
        except Exception:
            pass


async def simple(port, text, pred, timeout):
    """Sends a plain command; returns the first frame with pred(frame)."""
    ws = await ws_connect(port, timeout)
    try:
        await ws.send(text)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no answer to %r within %.1fs"
                                     % (text, timeout))
            frame = await asyncio.wait_for(ws.recv(), left)
            if pred(frame):
                return frame
    finally:
        try:
            await asyncio.wait_for(ws.close(), 2)
        except Exception:
            pass


async def ping(port, timeout):
    """True when the manager answers `pong` within timeout."""
    try:
        await simple(port, "ping", lambda f: f == "pong", timeout)
        return True
    except (AssertionError, OSError, asyncio.TimeoutError,
            websockets.exceptions.WebSocketException):
        return False


async def worker_details(port, timeout):
    """uuid -> entry of fnwm's worker_details."""
    frame = await simple(
        port, "worker_details",
        lambda f: isinstance(f, str) and '"worker_details"' in f[:40],
        timeout)
    return {e["uuid"]: e for e in json.loads(frame)["workers"]}


# ----------------------------------------------------------------------------
# the fleet: one config dir, its masters


class Master:
    def __init__(self, proc, log_path, n):
        self.proc = proc
        self.pid = proc.pid
        self.log_path = log_path
        self.n = n
        self.started = time.monotonic()
        self.listening_at = None
        self.first_ping_ok = None

    def log(self):
        raw = _read(self.log_path)
        return raw.decode("utf-8", "replace") if raw else ""

    def alive(self):
        return self.proc.poll() is None


class Fleet:
    def __init__(self, root, config=None, port=None, worker_env=None):
        self.root = root
        self.cfg_dir = os.path.join(root, "cfg")
        self.workers_dir = os.path.join(self.cfg_dir, "workers")
        os.makedirs(self.workers_dir, exist_ok=True)
        write_json(os.path.join(self.cfg_dir, "config.json"),
                   config if config is not None else FAST_CONFIG)
        self.port = port or free_port(*MASTER_PORTS)
        self.masters = []
        self.startport = random.randrange(*WORKER_PORTS)
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith(("FNWM_TEST_", "FUNCNODES_")):
                del self.env[k]
        self.env.update({
            "PYTHONPATH": WORKER_PATH,
            "PYTHONDONTWRITEBYTECODE": "1",
            "FUNCNODES_WS_WORKER_STARTPORT": str(self.startport),
            "FUNCNODES_WS_WORKER_ENDPORT": str(self.startport + 2000),
            "FUNCNODES_HOST": "127.0.0.1",
            # a quick start-up of the double, and its .p rewritten often
            "FNWM_TEST_STARTUP_PAUSE": "0.02",
            "FNWM_TEST_SAVE_INTERVAL": "1",
        })
        if worker_env:
            self.env.update(worker_env)
        if SANITIZED:
            self.env.setdefault("ASAN_OPTIONS",
                                "detect_leaks=1:abort_on_error=0")
            self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")

    @property
    def master(self):
        return self.masters[-1] if self.masters else None

    def spawn_master(self):
        n = len(self.masters) + 1
        log_path = os.path.join(self.root, "fnwm-%03d.log" % n)
        log = open(log_path, "wb")
        argv = [FNWM_BIN, "startworkermanager", "--dir", self.cfg_dir,
                "--port", str(self.port), "--python", PYTHON]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, env=self.env,
                                    cwd=self.root)
        finally:
            log.close()
        m = Master(proc, log_path, n)
        self.masters.append(m)
        return m

    async def wait_listening(self, m, timeout):
        def listening():
            if LISTEN_RE.search(m.log()):
                return True
            if not m.alive():
                raise AssertionError(
                    "fnwm #%d exited %s before listening; sockets on port "
                    "%d:\n%s\n%s" % (m.n, m.proc.returncode, self.port,
                                     listeners(self.port), m.log()[-4000:]))
            return False
        await async_wait_for(listening, timeout,
                             "fnwm #%d to listen on port %d" % (m.n,
                                                                self.port),
                             interval=0.005)
        m.listening_at = time.monotonic()

    async def start_master(self, timeout=None):
        """Starts a master on the fleet's dir and port; returns it once it
        listens and answers ping."""
        timeout = timeout or T(15)
        deadline = time.monotonic() + timeout
        m = self.spawn_master()
        await self.wait_listening(m, timeout)
        # The first attempt tells whether a client that connects the moment
        # the master listens is answered (first_ping_ok); later attempts
        # only whether the master answers at all.
        ok = m.first_ping_ok = await ping(
            self.port, max(0.5, min(T(5), deadline - time.monotonic())))
        while not ok:
            ok = await ping(self.port, max(0.5, min(T(5), deadline -
                                                    time.monotonic())))
            if ok:
                break
            if time.monotonic() >= deadline or not m.alive():
                raise AssertionError(
                    "fnwm #%d does not answer ping; listeners on port %d:"
                    "\n%s\n%s" % (m.n, self.port, listeners(self.port),
                                  m.log()[-4000:]))
        return m

    def kill_master(self):
        m = self.master
        m.proc.send_signal(signal.SIGKILL)
        m.proc.wait()

    def snapshot(self):
        return scan(self.cfg_dir)

    def cleanup(self):
        """Kills whatever of this config dir still runs (masters first, then
        monitors, then everything else); returns what survived SIGKILL."""
        for m in self.masters:
            if m.alive():
                m.proc.kill()
            try:
                m.proc.wait(T(10))
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + T(10)
        while True:
            snap = self.snapshot()
            for p in snap.all_monitor_pids():
                kill_pid(p)
            left = leftovers(self.cfg_dir)
            if not left:
                return []
            for p in left:
                kill_pid(p)
            if time.monotonic() > deadline:
                return left
            time.sleep(0.05)

    def sanitizer_problems(self):
        out = []
        for m in self.masters:
            r = sanitizer_report(m.log())
            if r:
                out.append("sanitizer report (%s) in the stderr of fnwm #%d "
                           "(pid %d, %s):\n%s" % (r[0], m.n, m.pid,
                                                  m.log_path, r[1]))
        return out
