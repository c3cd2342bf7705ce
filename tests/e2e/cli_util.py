"""Helpers of the black-box tests of fnwm's command line
(tests/e2e/test_cli_*.py).

Self-contained on purpose (conftest.py is shared and changes under us).
Every test gets a CliHarness (the ``cli`` fixture): a private, short config
dir under /tmp (the monitors' unix sockets live in it), a free manager port,
a random worker port range, and a config.json that points the manager at
/usr/bin/python3 so that the FuncNodes test double (tests/worker, through
PYTHONPATH) is its worker implementation. The harness runs the real fnwm
binary ($FNWM_BIN) as a person would: ``fnwm --dir D --port P ...``.

Teardown stops the managers of the test's dir (SIGTERM, so that they stop
their workers and, under ASan, run the leak check), then kills whatever
is left of the test (CLI processes, monitors, workers: found through
/proc by the config dir in their command line or environment), and fails
the test on a sanitizer report in the managers' logs or the CLI's stderr.

Waits are polls with deadlines, never bare sleeps; every deadline is
tripled when FNWM_SANITIZED=ON.
"""
import asyncio
import errno
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tty

import pytest
import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

from fnwmtest import (  # noqa: E402,F401
    FNWM_BIN, PYTHON, REPO, SANITIZED, SANITIZER_MARKERS, SLOW, T, WORKER_PATH,
    all_pids, cmdline, free_port, has_uuid_args, kill_all, pid_alive,
    read_bytes as _read,
    sanitizer_marker, wait_for, worker_pids)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130

# Short stop/kill timeouts keep teardown quick; the rest as documented.
FNWM_CONFIG = {"python": PYTHON, "stop_timeout": 3, "kill_timeout": 2,
               "debounce": 0.02, "probe_interval": 2,
               "probe_connect_timeout": 2, "probe_reply_timeout": 1}

# One progress line of the plain (not a terminal) mode.
PLAIN_PROGRESS_RE = re.compile(r"^fnwm: +(\d{1,3})% (\S.*)$")
# One redraw of the terminal bar: [####----------------]  45% message
BAR_RE = re.compile(r"\[(#*)(-*)\] +(\d{1,3})% ")
STARTED_RE = re.compile(r"started a worker manager \(pid (\d+), log ([^)]+)\)")


def spawn(argv, **kw):
    """subprocess.Popen, retried for a while when the binary is being
    relinked under us (EACCES, ETXTBSY, ENOENT from a concurrent build)."""
    deadline = time.monotonic() + T(20)
    while True:
        try:
            return subprocess.Popen(argv, **kw)
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.ETXTBSY, errno.ENOENT) \
                    or time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


# ----------------------------------------------------------------------------
# processes, through /proc


def _mentions(argv, path):
    return any(a == path or a.startswith(path + "/") for a in argv)


# ----------------------------------------------------------------------------
# results


class Result:
    def __init__(self, argv, rc, out, err):
        self.argv = argv
        self.rc = rc
        self.out = out
        self.err = err

    @property
    def lines(self):
        return self.out.splitlines()

    def __repr__(self):
        return ("<fnwm %s: exit %s\n--- stdout ---\n%s--- stderr ---\n%s>"
                % (" ".join(self.argv[1:]), self.rc, self.out, self.err))

    def ok(self):
        """Asserts exit 0; returns self."""
        assert self.rc == 0, "expected exit 0: %r" % self
        return self


def parse_table(text):
    """`worker list` rows as dicts keyed by the header's column names."""
    lines = [l for l in text.splitlines() if l.strip()]
    assert lines, "no table header in %r" % text
    head = lines[0].split()
    assert head[:9] == ["NAME", "UUID", "STATE", "PID", "PORT", "UPTIME",
                        "RESTARTS", "AUTO", "LAST"], \
        "unexpected header %r" % lines[0]
    rows = []
    for l in lines[1:]:
        f = l.split(None, 8)
        assert len(f) == 9, "short row %r" % l
        rows.append(dict(zip(["name", "uuid", "state", "pid", "port",
                              "uptime", "restarts", "autostart",
                              "last_exit"], f)))
    return rows


def parse_status(text):
    """`worker status` as a dict of its `key: value` lines."""
    d = {}
    for l in text.splitlines():
        k, sep, v = l.partition(":")
        if sep:
            d[k.strip()] = v.strip()
    return d


def plain_progress(err):
    """(percent, message) of every plain progress line on stderr."""
    out = []
    for l in err.splitlines():
        m = PLAIN_PROGRESS_RE.match(l)
        if m:
            out.append((int(m.group(1)), m.group(2)))
    return out


class LineReader:
    """Collects a pipe's lines in a thread, for waits with deadlines."""

    def __init__(self, f):
        self.f = f
        self.lines = []
        self.done = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        try:
            for raw in iter(self.f.readline, b""):
                self.lines.append(raw.decode("utf-8", "replace")
                                  .rstrip("\n"))
        except (OSError, ValueError):
            pass
        self.done = True

    def text(self):
        return "\n".join(self.lines)

    def wait(self, pred, timeout, what=None):
        """The first line with pred(line); fails on timeout."""
        def cond():
            for l in list(self.lines):
                if pred(l):
                    return l or True
            return None
        try:
            return wait_for(cond, timeout, what)
        except AssertionError as e:
            raise AssertionError("%s; lines so far:\n%s" % (e, self.text()))

    def join(self, timeout):
        self._t.join(timeout)


# ----------------------------------------------------------------------------
# WebSocket requests to the manager (what the UI would see)


async def _ws_request(port, text, want, timeout):
    async with websockets.connect(
            "ws://127.0.0.1:%d/" % port, open_timeout=timeout,
            close_timeout=T(5), ping_interval=None, compression=None,
            max_size=None) as ws:
        await ws.send(text)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s answer within %.1fs"
                                     % (want, timeout))
            frame = await asyncio.wait_for(ws.recv(), left)
            try:
                msg = json.loads(frame)
            except ValueError:
                continue
            if isinstance(msg, dict) and msg.get("type") == want:
                return msg


def ws_request(port, text, want, timeout=None):
    return asyncio.run(_ws_request(port, text, want, timeout or T(10)))


async def _ws_worker_cmd(port, cmd, timeout):
    async with websockets.connect(
            "ws://127.0.0.1:%d/" % port, open_timeout=timeout,
            close_timeout=T(5), ping_interval=None,
            compression=None) as ws:
        await ws.send(json.dumps({"type": "cmd", "cmd": cmd, "id": "t"}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(await asyncio.wait_for(
                ws.recv(), deadline - time.monotonic()))
            if msg.get("type") in ("result", "error"):
                return msg
        return None


def worker_cmd(port, cmd, timeout=None):
    """Sends a FuncNodes cmd straight to a worker; its result or error."""
    return asyncio.run(_ws_worker_cmd(port, cmd, timeout or T(10)))


# ----------------------------------------------------------------------------
# the harness


class CliHarness:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fnwm-cli-", dir="/tmp")
        self.workers_dir = os.path.join(self.dir, "workers")
        self.logs_dir = os.path.join(self.dir, "logs")
        self.manager_log = os.path.join(self.logs_dir, "fnwm-manager.log")
        self.port = free_port()
        self.worker_port = random.randrange(20000, 30000)
        self.procs = []
        self.manager_procs = []
        self.results = []
        self.extra_dirs = []
        env = dict(os.environ)
        # A foreign FuncNodes config must not leak into the test.
        env.pop("FUNCNODES_CONFIG_DIR", None)
        env.pop("FUNCNODES_PYTHON", None)
        env["PYTHONPATH"] = WORKER_PATH
        env["FUNCNODES_WS_WORKER_STARTPORT"] = str(self.worker_port)
        env["FUNCNODES_WS_WORKER_ENDPORT"] = str(self.worker_port + 300)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if SANITIZED:
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.env = env
        self.write_config()

    # -- set-up ---------------------------------------------------------------

    def write_config(self, doc=None, raw=None, dir=None):
        """Writes config.json (default: the fnwm python and timeouts)."""
        path = os.path.join(dir or self.dir, "config.json")
        if raw is None:
            raw = json.dumps(doc if doc is not None else
                             {"fnwm": dict(FNWM_CONFIG)})
        with open(path, "w") as f:
            f.write(raw)

    def new_dir(self):
        """Another config dir, torn down with this harness."""
        d = tempfile.mkdtemp(prefix="fnwm-cli-", dir="/tmp")
        self.extra_dirs.append(d)
        return d

    # -- running the CLI ------------------------------------------------------

    def argv(self, args, dir=True, port=True):
        a = [FNWM_BIN]
        if dir:
            a += ["--dir", self.dir if dir is True else dir]
        if port:
            a += ["--port", str(self.port if port is True else port)]
        return a + list(args)

    def environ(self, extra=None):
        e = dict(self.env)
        if extra:
            e.update(extra)
        return e

    def run(self, *args, timeout=60, env=None, dir=True, port=True):
        """Runs `fnwm --dir D --port P ARGS` to its end (stderr not a tty)."""
        argv = self.argv(args, dir, port)
        p = spawn(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.environ(env))
        self.procs.append(p)
        try:
            out, err = p.communicate(timeout=T(timeout))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            raise AssertionError("fnwm %s did not end within %.0fs:\n%s\n%s"
                                 % (" ".join(args), T(timeout),
                                    out.decode("utf-8", "replace"),
                                    err.decode("utf-8", "replace")))
        r = Result(argv, p.returncode, out.decode("utf-8", "replace"),
                   err.decode("utf-8", "replace"))
        self.results.append(r)
        return r

    def popen(self, *args, env=None, dir=True, port=True, **kw):
        """Starts `fnwm ... ARGS` with stdout/stderr pipes and LineReaders."""
        argv = self.argv(args, dir, port)
        p = spawn(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.environ(env), **kw)
        self.procs.append(p)
        p.out = LineReader(p.stdout)
        p.err = LineReader(p.stderr)
        return p

    def run_pty(self, *args, timeout=60, env=None, cols=100):
        """Runs the CLI with its stderr on a pseudo-terminal (raw mode, so
        every \\r is the CLI's own); stdout goes to a pipe. Returns a Result
        whose err is everything written to the terminal."""
        argv = self.argv(args)
        master, slave = os.openpty()
        tty.setraw(slave)
        try:
            import fcntl
            import struct
            import termios
            fcntl.ioctl(slave, termios.TIOCSWINSZ,
                        struct.pack("HHHH", 24, cols, 0, 0))
        except OSError:
            pass
        outf = tempfile.TemporaryFile()
        p = spawn(argv, stdin=subprocess.DEVNULL, stdout=outf,
                             stderr=slave, env=self.environ(env))
        self.procs.append(p)
        os.close(slave)
        data = b""
        deadline = time.monotonic() + T(timeout)
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    p.kill()
                    raise AssertionError("fnwm %s (on a terminal) did not "
                                         "end in time: %r" % (args, data))
                r, _, _ = select.select([master], [], [], min(left, 0.2))
                if r:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:  # EIO: the terminal has no writer left
                        chunk = b""
                    if not chunk:
                        break
                    data += chunk
                elif p.poll() is not None:
                    # drain what is left, then stop
                    r, _, _ = select.select([master], [], [], 0.1)
                    if not r:
                        break
        finally:
            os.close(master)
        rc = p.wait(T(10))
        outf.seek(0)
        out = outf.read().decode("utf-8", "replace")
        outf.close()
        res = Result(argv, rc, out, data.decode("utf-8", "replace"))
        self.results.append(res)
        return res

    # -- common steps ---------------------------------------------------------

    def new_worker(self, name, *extra, start=False, env=None):
        """`worker new --name N --not-in-venv [--start]`; returns its uuid."""
        args = ["worker", "new", "--name", name, "--not-in-venv"]
        args += list(extra)
        if start:
            args.append("--start")
        r = self.run(*args, env=env, timeout=90).ok()
        uuid = r.lines[0].strip()
        assert re.match(r"^[A-Za-z0-9._-]+$", uuid), r
        return uuid

    def status(self, uuid=None, name=None, env=None):
        sel = ["--uuid", uuid] if uuid else ["--name", name]
        r = self.run("worker", *sel, "status", env=env).ok()
        return parse_status(r.out)

    def details(self, uuid):
        """The worker's entry of `worker list --json`."""
        r = self.run("worker", "list", "--json").ok()
        for e in json.loads(r.out):
            if e.get("uuid") == uuid:
                return e
        raise AssertionError("%s not in %s" % (uuid, r.out))

    def full_details(self, uuid):
        """worker_details of one worker over WebSocket, exit history
        included (the CLI's table leaves it out)."""
        d = ws_request(self.port, json.dumps({"type": "worker_details",
                                              "workerid": uuid}),
                       "worker_details")
        [e] = d["workers"]
        return e

    def worker_json(self, uuid):
        with open(os.path.join(self.workers_dir,
                               "worker_%s.json" % uuid)) as f:
            return json.load(f)

    def data_dir(self, uuid):
        return os.path.join(self.workers_dir, "worker_%s" % uuid)

    def worker_log(self, uuid):
        return os.path.join(self.data_dir(uuid), "worker.log")

    def wait_worker_pid(self, uuid, timeout=None):
        """The single live worker process of uuid."""
        pids = wait_for(lambda: worker_pids(uuid), timeout or T(30),
                        "a worker process of %s" % uuid)
        assert len(pids) == 1, "several worker processes of %s: %s" % (
            uuid, pids)
        return pids[0]

    # -- the manager ----------------------------------------------------------

    def manager_pids(self, dir=None):
        """Live `fnwm ... startworkermanager` processes of the config dir."""
        d = dir or self.dir
        out = []
        for pid in all_pids():
            argv = cmdline(pid)
            if not argv or not pid_alive(pid):
                continue
            if not any(a in ("startworkermanager", "serve") for a in argv):
                continue
            if _mentions(argv, d):
                out.append(pid)
        return sorted(out)

    def wait_manager_gone(self, timeout=None, dir=None):
        """Waits until no manager of the dir is left (a process that is
        exiting may already have lost its command line: those seen first
        are waited for by pid)."""
        seen = self.manager_pids(dir)
        wait_for(lambda: not self.manager_pids(dir) and
                 not any(pid_alive(p) for p in seen), timeout or T(30),
                 "the manager of %s to exit" % (dir or self.dir))

    def read_manager_log(self):
        b = _read(self.manager_log)
        return b.decode("utf-8", "replace") if b else ""

    def worker_status(self):
        """worker_status over WebSocket, as the UI asks for it."""
        return ws_request(self.port, "worker_status", "worker_status")

    # -- teardown -------------------------------------------------------------

    def _test_pids(self):
        me = os.getpid()
        dirs = [self.dir] + self.extra_dirs
        out = []
        for pid in all_pids():
            if pid == me or not pid_alive(pid):
                continue
            argv = cmdline(pid)
            hit = any(_mentions(argv, d) for d in dirs)
            if not hit:
                env = _read("/proc/%d/environ" % pid)
                if env:
                    vars_ = env.split(b"\0")
                    hit = any(("FUNCNODES_CONFIG_DIR=%s" % d).encode()
                              in vars_ for d in dirs)
            if hit:
                out.append(pid)
        return out

    def finish(self):
        problems = []
        for p in self.procs:
            if p in self.manager_procs:
                continue
            if p.poll() is None:
                p.kill()
            try:
                p.wait(T(10))
            except subprocess.TimeoutExpired:
                problems.append("CLI pid %d did not die" % p.pid)
        # The managers first, gently: they stop their workers and, under
        # ASan, check for leaks on the way out.
        managers = []
        for d in [self.dir] + self.extra_dirs:
            managers += self.manager_pids(d)
        kill_all(managers, signal.SIGTERM)
        try:
            wait_for(lambda: not any(pid_alive(p) for p in managers),
                     T(30), "the managers to stop on SIGTERM")
        except AssertionError as e:
            problems.append(str(e))
        for p in self.manager_procs:  # reap the ones we started by hand
            if p.poll() is None:
                p.kill()
            p.wait(T(10))
        # Then everything else of the test (kept workers, monitors, ...).
        for _ in range(3):
            left = self._test_pids()
            if not left:
                break
            kill_all(left)
            try:
                wait_for(lambda: not any(pid_alive(p) for p in left),
                         T(10), "leftover processes to die")
            except AssertionError:
                pass
        left = self._test_pids()
        if left:
            problems.append("processes survived teardown: %s" % [
                (p, cmdline(p)) for p in left])
        for d in [self.dir] + self.extra_dirs:
            logs = os.path.join(d, "logs")
            names = os.listdir(logs) if os.path.isdir(logs) else []
            for n in names:
                text = (_read(os.path.join(logs, n)) or b"").decode(
                    "utf-8", "replace")
                marker = sanitizer_marker(text)
                if marker:
                    problems.append("sanitizer report (%s) in %s:\n%s"
                                    % (marker, n, text[-20000:]))
        for r in self.results:
            marker = sanitizer_marker(r.err)
            if marker:
                problems.append("sanitizer report (%s) from the CLI: %r"
                                % (marker, r))
        if not os.environ.get("FNWM_KEEP_TMP"):
            for d in [self.dir] + self.extra_dirs:
                shutil.rmtree(d, ignore_errors=True)
        return problems


@pytest.fixture
def cli():
    h = CliHarness()
    yield h
    problems = h.finish()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def start_manager(h, dir=None, host="127.0.0.1", port=None, env=None,
                  log_name="explicit-manager.log"):
    """`fnwm --dir D startworkermanager --host H --port P --python PY`,
    started by hand (not auto-started); stderr to D/logs/<log_name>.
    Returns the Popen once the port answers."""
    d = dir or h.dir
    logs = os.path.join(d, "logs")
    os.makedirs(logs, exist_ok=True)
    logf = open(os.path.join(logs, log_name), "ab")
    argv = [FNWM_BIN, "--dir", d, "startworkermanager", "--host", host,
            "--port", str(port or h.port), "--python", PYTHON]
    p = spawn(argv, stdin=subprocess.DEVNULL, stdout=logf,
                         stderr=logf, env=h.environ(env))
    logf.close()
    h.procs.append(p)
    h.manager_procs.append(p)

    def up():
        if p.poll() is not None:
            raise AssertionError("the manager exited with %s:\n%s" % (
                p.returncode, _read(os.path.join(logs, log_name))))
        try:
            socket.create_connection((host, port or h.port), 0.5).close()
            return True
        except OSError:
            return False
    wait_for(up, T(15), "the manager to listen")
    return p
