"""Fixtures and helpers of the fnwm black-box tests.

The binary under test is $FNWM_BIN (default: build/master/fnwm of this
checkout). With FNWM_SANITIZED=ON every deadline is tripled.

Test functions may be ``async def``: the pytest_pyfunc_call hook below runs
them with asyncio.run() under an overall deadline (no pytest-asyncio here).

Helpers are imported by the test modules with ``from conftest import ...``.
Nothing here sleeps to wait for a state: waits are wait_for() polls or
reads with deadlines.
"""
import asyncio
import base64
import inspect
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest
import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

from fnwmtest import (FNWM_BIN, LISTEN_RE, PYTHON, REPO,  # noqa: E402,F401
                      SANITIZED, SANITIZER_MARKERS, SLOW, T, async_wait_for,
                      free_port, sanitizer_marker, wait_for)

FAKEWORKER = os.path.join(HERE, "fakeworker.py")
TEST_DEADLINE = 120.0  # s per async test body, before the SLOW factor

EXIT_USAGE = 2
EXIT_PERMANENT = 100
EXIT_TEMPORARY = 111


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    kwargs = {name: pyfuncitem.funcargs[name]
              for name in pyfuncitem._fixtureinfo.argnames}

    async def run():
        await asyncio.wait_for(pyfuncitem.obj(**kwargs),
                               timeout=T(TEST_DEADLINE))

    asyncio.run(run())
    return True


# ----------------------------------------------------------------------------
# the master process


class Manager:
    """One fnwm process; stderr goes to a file that the tests can read."""

    def __init__(self, argv, log_path, env, cwd, config_dir):
        self.argv = argv
        self.log_path = log_path
        self.config_dir = config_dir
        self.workers_dir = (os.path.join(config_dir, "workers")
                            if config_dir else None)
        self.port = None
        self.host = None
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log,
                                     env=env, cwd=cwd)
        self.pid = self.proc.pid
        self.signalled = False

    @property
    def url(self):
        return "ws://127.0.0.1:%d/" % self.port

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def wait_listening(self, timeout=None):
        timeout = timeout or T(10)

        def listening():
            m = LISTEN_RE.search(self.log())
            if m:
                return m
            if not self.alive():
                raise AssertionError(
                    "fnwm exited with %s before listening:\n%s"
                    % (self.proc.returncode, self.log()))
            return None

        m = wait_for(listening, timeout, what="the 'listening on' line")
        self.host = m.group(1)
        self.port = int(m.group(2))
        return self.port

    def ready(self, timeout=None):
        """wait_listening(), then one ping round trip on a connection that
        names the "fnwm" subprotocol: the master serves. (Naming it keeps
        the other tests independent of the start-up window that
        test_lifecycle.py::test_connection_during_startup_is_served
        checks, where libwebsockets could bind subprotocol-less clients
        to its "http" protocol.)"""
        self.wait_listening(timeout)
        r = RawWS(self.port, headers={"Sec-WebSocket-Protocol": "fnwm"},
                  timeout=timeout or T(10))
        try:
            r.send_text("ping")
            frame = r.recv_frame()
            assert frame == (True, OP_TEXT, b"pong"), frame
        finally:
            r.close()
        return self.port

    def wait_log(self, pattern, timeout=None):
        """Waits for a regex to match the log; returns the match."""
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log()), timeout or T(5),
                        what="log line /%s/" % pattern)

    async def async_wait_log(self, pattern, timeout=None):
        rx = re.compile(pattern)
        return await async_wait_for(lambda: rx.search(self.log()),
                                    timeout or T(5),
                                    what="log line /%s/" % pattern)

    def wait_exit(self, timeout=None):
        try:
            return self.proc.wait(timeout or T(10))
        except subprocess.TimeoutExpired:
            raise AssertionError("fnwm (pid %d) did not exit in time:\n%s"
                                 % (self.pid, self.log()))

    async def async_wait_exit(self, timeout=None):
        await async_wait_for(lambda: not self.alive(), timeout or T(10),
                             what="fnwm pid %d to exit" % self.pid)
        return self.proc.returncode

    def signal(self, sig):
        self.signalled = True
        self.proc.send_signal(sig)

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def close_log(self):
        if not self._log.closed:
            self._log.close()


class Fnwm:
    """Factory of masters on private config dirs under tmp_path."""

    def __init__(self, tmp_path):
        self.tmp = str(tmp_path)
        self.managers = []
        self._n = 0

    def new_dir(self, name=None, config=None):
        self._n += 1
        d = os.path.join(self.tmp, name or "cfg%d" % self._n)
        os.makedirs(d, exist_ok=True)
        if config is not None:
            write_text(os.path.join(d, "config.json"), json.dumps(config))
        return d

    def spawn(self, args, env=None, cwd=None, config_dir=None, extra_env=None):
        """Starts fnwm with exactly args (after the binary)."""
        self._n += 1
        e = dict(os.environ if env is None else env)
        if extra_env:
            e.update(extra_env)
        if SANITIZED:
            e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
            e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        log = os.path.join(self.tmp, "fnwm-%d.log" % self._n)
        m = Manager([FNWM_BIN] + list(args), log, e, cwd, config_dir)
        self.managers.append(m)
        return m

    def start(self, config_dir=None, config=None, args=(), env=None,
              extra_env=None, port=0, debug=False, wait=True, cwd=None):
        """Starts `fnwm startworkermanager --dir D --port 0` and waits
        until it serves (Manager.ready). config (a dict) is written to
        D/config.json."""
        if config_dir is None:
            config_dir = self.new_dir(config=config)
        elif config is not None:
            write_text(os.path.join(config_dir, "config.json"),
                       json.dumps(config))
        argv = ["startworkermanager", "--dir", config_dir]
        if port is not None:
            argv += ["--port", str(port)]
        if debug:
            argv.append("--debug")
        argv += list(args)
        m = self.spawn(argv, env=env, extra_env=extra_env, cwd=cwd,
                       config_dir=config_dir)
        if wait:
            m.ready()
        return m

    def run(self, args, timeout=None, **kw):
        """Runs fnwm expecting it to exit; returns (rc, log text)."""
        m = self.spawn(args, **kw)
        rc = m.wait_exit(timeout or T(10))
        return rc, m.log()

    def finish(self):
        problems = []
        for m in self.managers:
            if m.alive():
                m.signal(signal.SIGTERM)
                try:
                    rc = m.proc.wait(T(10))
                except subprocess.TimeoutExpired:
                    m.proc.kill()
                    m.proc.wait()
                    problems.append("fnwm pid %d ignored SIGTERM" % m.pid)
                    rc = None
                if rc not in (0, None):
                    problems.append("fnwm pid %d exited %s on SIGTERM"
                                    % (m.pid, rc))
            m.close_log()
            text = m.log()
            marker = sanitizer_marker(text)
            if marker:
                problems.append("sanitizer report (%s) from pid %d:\n%s"
                                % (marker, m.pid, text[-20000:]))
        return problems


@pytest.fixture
def fnwm(tmp_path):
    """Starts masters; on teardown stops them and fails on sanitizer
    reports in their stderr."""
    f = Fnwm(tmp_path)
    yield f
    problems = f.finish()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


# Fast but not twitchy settings for most tests.
FAST_CONFIG = {"fnwm": {"debounce": 0.02, "probe_connect_timeout": 2,
                        "probe_reply_timeout": 1}}


@pytest.fixture
def manager(fnwm):
    """A running master with FAST_CONFIG and an empty workers dir."""
    return fnwm.start(config=FAST_CONFIG)


# ----------------------------------------------------------------------------
# fake workers


class FakeWorker:
    def __init__(self, uuid, mode="answer", pre=0, delay=0.0,
                 answer_after=0.0, log=None, tls=None):
        self.uuid = uuid
        argv = [PYTHON, FAKEWORKER, "--uuid", uuid, "--mode", mode,
                "--pre", str(pre), "--delay", str(delay),
                "--answer-after", str(answer_after)]
        if log:
            argv += ["--log", log]
        if tls:
            argv += ["--tls", "%s:%s" % tls]
        self.log = log
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise AssertionError("fake worker did not start: %r" % line)
        self.port = int(line.split()[1])

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(T(10))

    def requests(self):
        if not self.log or not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [l.rstrip("\n") for l in f]


class FakeWorkers:
    def __init__(self, tmp_path):
        self.tmp = str(tmp_path)
        self.all = []

    def spawn(self, uuid, **kw):
        w = FakeWorker(uuid, **kw)
        self.all.append(w)
        return w

    def finish(self):
        for w in self.all:
            if w.proc.poll() is None:
                w.proc.kill()
            w.proc.wait()
            w.proc.stdout.close()


@pytest.fixture
def fakeworkers(tmp_path):
    f = FakeWorkers(tmp_path)
    yield f
    f.finish()


def dead_pid():
    """A pid whose process has exited and been reaped."""
    p = subprocess.Popen(["/bin/true"])
    p.wait()
    return p.pid


@pytest.fixture
def sleeper():
    """Starts `sleep` processes: live pids that answer nothing."""
    procs = []

    def start():
        p = subprocess.Popen(["sleep", "600"])
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()


# ----------------------------------------------------------------------------
# worker files


def write_text(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)


def write_atomic(path, text):
    """tmp file (not named worker_*) + rename, like funcnodes writes."""
    d, b = os.path.split(path)
    tmp = os.path.join(d, "tmp.%s.%d" % (b, os.getpid()))
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def worker_doc(uuid, port=None, host="127.0.0.1", **extra):
    """The content of a worker_<uuid>.json as a running WSWorker writes it."""
    d = {"type": "WSWorker", "uuid": uuid, "name": uuid, "data_path": None,
         "env_path": None, "pid": 4242, "package_dependencies": {},
         "worker_dependencies": {},
         "update_on_startup": {"funcnodes": True, "funcnodes-core": True,
                               "funcnodes-worker": True},
         "host": host, "port": port if port is not None else 9382,
         "ssl": False}
    d.update(extra)
    return d


def json_path(workers_dir, uuid):
    return os.path.join(workers_dir, "worker_%s.json" % uuid)


def p_path(workers_dir, uuid):
    return os.path.join(workers_dir, "worker_%s.p" % uuid)


def write_worker(workers_dir, uuid, doc=None, pid=None, atomic=True, **kw):
    """Writes worker_<uuid>.json (doc or worker_doc(uuid, **kw)) and, when
    pid is given, worker_<uuid>.p with it. Returns the JSON document."""
    os.makedirs(workers_dir, exist_ok=True)
    if doc is None:
        doc = worker_doc(uuid, **kw)
    text = json.dumps(doc, indent=2)
    if atomic:
        write_atomic(json_path(workers_dir, uuid), text)
    else:
        write_text(json_path(workers_dir, uuid), text)
    if pid is not None:
        write_text(p_path(workers_dir, uuid), str(pid))
    return doc


def start_worker(fakeworkers, workers_dir, uuid, **kw):
    """A fake worker process plus its .json and .p: a running worker."""
    w = fakeworkers.spawn(uuid, **kw)
    write_worker(workers_dir, uuid, port=w.port, pid=w.pid)
    return w


# ----------------------------------------------------------------------------
# WebSocket clients (websockets, asyncio API)


async def connect(target, path="/", **kw):
    """Connects to a Manager (or a ws:// URL)."""
    url = target if isinstance(target, str) else \
        "ws://127.0.0.1:%d%s" % (target.port, path)
    kw.setdefault("open_timeout", T(10))
    kw.setdefault("close_timeout", T(5))
    kw.setdefault("max_size", None)
    return await websockets.connect(url, compression=None,
                                    ping_interval=None, **kw)


async def recv(ws, timeout=None):
    """The next frame; fails on timeout."""
    try:
        return await asyncio.wait_for(ws.recv(), timeout or T(5))
    except asyncio.TimeoutError:
        raise AssertionError("no frame within %.1fs" % (timeout or T(5)))


async def recv_json(ws, timeout=None):
    frame = await recv(ws, timeout)
    assert isinstance(frame, str), "expected a text frame, got %r" % frame
    return json.loads(frame)


async def recv_until(ws, pred, timeout=None):
    """Reads JSON frames until pred(msg) is true; returns that message."""
    timeout = timeout or T(5)
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no matching frame within %.1fs; saw %s"
                                 % (timeout, _short(seen)))
        try:
            frame = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            continue
        msg = json.loads(frame) if isinstance(frame, str) and \
            frame[:1] in "{[" else frame
        seen.append(msg)
        if pred(msg):
            return msg


async def no_frame(ws, timeout):
    """Asserts that nothing arrives within timeout."""
    try:
        frame = await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError:
        return
    raise AssertionError("unexpected frame: %r" % (frame[:300],))


def _short(seen):
    s = repr(seen)
    return s if len(s) < 1500 else s[:700] + " ... " + s[-700:]


def is_status(msg):
    return isinstance(msg, dict) and msg.get("type") == "worker_status"


async def request_status(ws, timeout=None):
    """Sends worker_status and returns the next worker_status frame."""
    await ws.send("worker_status")
    return await recv_until(ws, is_status, timeout)


async def wait_status(ws, pred, timeout=None, poll=False):
    """Reads worker_status frames until pred(status) holds; returns it.

    With poll=False only what arrives by itself (broadcasts) counts; with
    poll=True worker_status is also re-requested now and then.
    """
    timeout = timeout or T(5)
    deadline = time.monotonic() + timeout
    last = None
    next_poll = 0.0
    while True:
        now = time.monotonic()
        if now >= deadline:
            raise AssertionError("status never matched within %.1fs; "
                                 "last: %s" % (timeout, _short(last)))
        if poll and now >= next_poll:
            await ws.send("worker_status")
            next_poll = now + 0.25
        try:
            frame = await asyncio.wait_for(
                ws.recv(), min(deadline - now, 0.25 if poll else 3600))
        except asyncio.TimeoutError:
            continue
        if not isinstance(frame, str) or not frame.startswith("{"):
            continue
        msg = json.loads(frame)
        if is_status(msg):
            last = msg
            if pred(msg):
                return msg


def uuids(entries):
    return sorted(e["uuid"] for e in entries)


def active(status):
    return uuids(status["active"])


def inactive(status):
    return uuids(status["inactive"])


def entry(status, uuid):
    """The entry of uuid and which list holds it, or (None, None)."""
    for lst in ("active", "inactive"):
        for e in status[lst]:
            if e.get("uuid") == uuid:
                return e, lst
    return None, None


# ----------------------------------------------------------------------------
# raw sockets: HTTP and hand-made WebSocket frames


def ws_key():
    return base64.b64encode(os.urandom(16)).decode()


def handshake_request(port, path="/", headers=None, host=None):
    h = {"Host": host or "127.0.0.1:%d" % port, "Upgrade": "websocket",
         "Connection": "Upgrade", "Sec-WebSocket-Key": ws_key(),
         "Sec-WebSocket-Version": "13"}
    if headers:
        h.update(headers)
    lines = ["GET %s HTTP/1.1" % path]
    lines += ["%s: %s" % kv for kv in h.items() if kv[1] is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def http_exchange(port, request, timeout=None):
    """Sends a raw HTTP request; returns (status code, head, body) of the
    answer, read until the head is complete and the connection closes or
    the Content-Length is satisfied."""
    timeout = timeout or T(5)
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(request)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    break
                if head.startswith(b"HTTP/1.1 101"):
                    break
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    assert m, "no HTTP status line in %r" % data[:200]
    return int(m.group(1)), head.decode("latin-1"), body


OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def frame_bytes(opcode, payload, fin=True, mask=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    body = bytes(c ^ key[i % 4] for i, c in enumerate(payload)) \
        if n < 4096 else _mask_fast(payload, key)
    return head + key + body


def _mask_fast(payload, key):
    n = len(payload)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ k).to_bytes(n, "big")


class RawWS:
    """A hand-driven WebSocket client on a blocking socket."""

    def __init__(self, port, path="/", headers=None, rcvbuf=None,
                 timeout=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout or T(5))
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(handshake_request(port, path, headers))
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("handshake: connection closed: %r"
                                     % self.buf)
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        if self.status != 101:
            raise AssertionError("handshake refused: %r" % head)

    def send_frame(self, opcode, payload, fin=True):
        self.sock.sendall(frame_bytes(opcode, payload, fin))

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode())

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self):
        """(fin, opcode, payload); EOFError at end of stream."""
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        key = self._need(4) if b1 & 0x80 else None
        payload = self._need(n)
        if key:
            payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_close(self):
        """Reads until a close frame or EOF: (code or None, frames seen)."""
        frames = 0
        while True:
            try:
                fin, op, payload = self.recv_frame()
            except (EOFError, ConnectionResetError):
                return None, frames
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] \
                    if len(payload) >= 2 else None
                return code, frames
            frames += 1

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

