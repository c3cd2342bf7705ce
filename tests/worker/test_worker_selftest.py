"""Self-test of the fnwm test worker (tests/worker/funcnodes).

Run:  /usr/bin/python3 -m pytest tests/worker/test_worker_selftest.py
The worker is started with the interpreter running pytest, or with $FNWM_WORKER_PYTHON
(e.g. an older Python or a fresh venv).  python3-websockets is used only here.
"""

import asyncio
import base64
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websockets

HERE = Path(__file__).resolve().parent
WORKER_PYTHON = os.environ.get("FNWM_WORKER_PYTHON", sys.executable)

START_TIMEOUT = 15.0
EXIT_TIMEOUT = 10.0


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def wait_until(pred, timeout, interval=0.02, msg="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timeout waiting for %s" % msg)
        time.sleep(interval)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_connect(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def read_text(p):
    try:
        return Path(p).read_text()
    except OSError:
        return None


def read_json(p):
    try:
        return json.loads(Path(p).read_text())
    except (OSError, ValueError):
        return None


def arun(coro, timeout=20.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def recv_json(ws, timeout=5.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until_result(ws, timeout=5.0):
    """Frames received until (and including) the first result/error frame."""
    frames = []
    deadline = time.monotonic() + timeout
    while True:
        msg = await recv_json(ws, max(0.05, deadline - time.monotonic()))
        frames.append(msg)
        if msg.get("type") in ("result", "error"):
            return frames


def connect(port):
    return websockets.connect(
        "ws://127.0.0.1:%d" % port, open_timeout=5, close_timeout=2, max_size=None
    )


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Worker:
    """One test-worker process in a private config dir."""

    def __init__(self, base, uuid="w1", cfg=None, env=None, port=None, write_json=True,
                 startport=None, endport=None, use_dir_flag=True):
        self.base = Path(base)
        self.uuid = uuid
        self.wdir = self.base / "workers"
        self.wdir.mkdir(parents=True, exist_ok=True)
        self.json = self.wdir / ("worker_%s.json" % uuid)
        self.pfile = self.wdir / ("worker_%s.p" % uuid)
        self.rsfile = self.wdir / ("worker_%s.runstate" % uuid)
        self.datadir = self.wdir / ("worker_%s" % uuid)
        self.port = port if port is not None else free_port()
        self.startport = startport if startport is not None else self.port
        self.endport = endport if endport is not None else self.startport + 40
        self.use_dir_flag = use_dir_flag
        self.proc = None
        c = {
            "type": "WSWorker",
            "uuid": uuid,
            "name": "name-" + uuid,
            "data_path": None,
            "env_path": None,
            "pid": 1,
            "host": "localhost",
            "port": self.port,
            "ssl": False,
            "unknown_key": {"keep": [1, 2, 3]},
        }
        c.update(cfg or {})
        self.cfg = c
        if write_json:
            self.json.write_text(json.dumps(c))
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("FNWM_TEST_") or k.startswith("FUNCNODES_"):
                del self.env[k]
        self.env["PYTHONPATH"] = str(HERE)
        self.env["FUNCNODES_WS_WORKER_STARTPORT"] = str(self.startport)
        self.env["FUNCNODES_WS_WORKER_ENDPORT"] = str(self.endport)
        if not use_dir_flag:
            self.env["FUNCNODES_CONFIG_DIR"] = str(self.base)
        self.env.update(env or {})

    def start(self, extra_global=()):
        args = [WORKER_PYTHON, "-m", "funcnodes"]
        args += list(extra_global)
        if self.use_dir_flag:
            args += ["--dir", str(self.base)]
        args += ["worker", "--uuid", self.uuid, "start"]
        self.out = open(self.base / ("stdout.%s.txt" % self.uuid), "wb")
        self.err = open(self.base / ("stderr.%s.txt" % self.uuid), "wb")
        # a shell's background job inherits SIGINT=SIG_IGN (and the worker, like Python,
        # then keeps ignoring it); give the worker the default disposition.
        self.proc = subprocess.Popen(args, env=self.env, stdout=self.out, stderr=self.err,
                                     cwd=str(self.base), preexec_fn=_default_sigint)
        return self

    def stderr(self):
        self.err.flush()
        return (self.base / ("stderr.%s.txt" % self.uuid)).read_text(errors="replace")

    def wait_ready(self, timeout=START_TIMEOUT):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("worker exited early rc=%s\n%s"
                                     % (self.proc.returncode, self.stderr()))
            j = read_json(self.json)
            if not j or j.get("pid") != self.proc.pid:
                return None
            if read_text(self.rsfile) != "running":
                return None
            if read_text(self.pfile) != str(self.proc.pid):
                return None
            return j if can_connect(j["port"]) else None
        j = wait_until(ready, timeout, msg="worker ready")
        self.port = j["port"]
        return j

    def wait_exit(self, timeout=EXIT_TIMEOUT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("worker did not exit in %.1f s\n%s" % (timeout, self.stderr()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def make_worker(tmp_path):
    workers = []

    def factory(**kw):
        w = Worker(tmp_path, **kw)
        workers.append(w)
        return w

    yield factory
    for w in workers:
        w.kill()
        for f in ("out", "err"):
            if hasattr(w, f):
                getattr(w, f).close()


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def _cli(args, env=None, **kw):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(HERE)
    e.update(env or {})
    return subprocess.run([WORKER_PYTHON, "-m", "funcnodes"] + args, env=e,
                          capture_output=True, text=True, timeout=30, **kw)


def test_version():
    r = _cli(["--version"])
    assert r.returncode == 0
    assert r.stdout.strip().endswith("0.1.0")


def test_modules_list(tmp_path):
    r = _cli(["modules", "list"])
    assert r.returncode == 0, r.stderr
    # a fake installed distribution with a funcnodes.module entry point
    site = tmp_path / "site"
    di = site / "fnwm_testdep-0.3.0.dist-info"
    di.mkdir(parents=True)
    (di / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fnwm-testdep\nVersion: 0.3.0\nSummary: test dep\n")
    (di / "entry_points.txt").write_text("[funcnodes.module]\nmodule = fnwm_testdep\n")
    r = _cli(["modules", "list"], env={"PYTHONPATH": "%s%s%s" % (HERE, os.pathsep, site)})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "fnwm_testdep:" in lines
    i = lines.index("fnwm_testdep:")
    assert lines[i + 1].startswith("\t") and "fnwm_testdep" in lines[i + 1]
    assert all(len(line.expandtabs(1)) <= 81 for line in lines)
    r = _cli(["modules", "bogus"])
    assert r.returncode != 0


def test_worker_list(make_worker):
    w = make_worker(uuid="lst")
    r = _cli(["--dir", str(w.base), "worker", "list"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "lst\tname-lst"


# ---------------------------------------------------------------------------
# start-up / files
# ---------------------------------------------------------------------------


def test_start_writes_files(make_worker):
    w = make_worker(uuid="files1", cfg={"name": None, "update_on_startup": {"funcnodes": False}},
                    env={"FNWM_TEST_STARTUP_PAUSE": "0.4"})
    w.start()
    seen = []

    def track():
        rs = read_text(w.rsfile)
        # the runstate file is rewritten in place (truncate + write, like the real
        # worker), so a reader can see it empty
        if rs and (not seen or seen[-1] != rs):
            seen.append(rs)
        return rs == "running"

    wait_until(track, START_TIMEOUT, interval=0.01, msg="runstate running")
    expected = ["starting\nLoading packages", "starting\nLoading config",
                "starting\nLoading nodespace", "running"]
    # observed states appear in the reference order (polling may miss short ones)
    idx = [expected.index(s) for s in seen]
    assert idx == sorted(idx) and idx[-1] == 3, seen
    assert "starting\nLoading config" in seen
    j = w.wait_ready()
    assert read_text(w.pfile) == str(w.proc.pid)  # no newline
    assert j["pid"] == w.proc.pid
    assert j["port"] == w.port and can_connect(j["port"])
    assert j["host"] == "localhost"
    assert j["ssl"] is False
    assert j["type"] == "WSWorker"
    assert j["uuid"] == "files1"
    assert j["name"] == "files1"  # falls back to the uuid
    assert j["unknown_key"] == {"keep": [1, 2, 3]}
    assert j["update_on_startup"] == {"funcnodes": False, "funcnodes-core": True,
                                      "funcnodes-worker": True}
    assert j["package_dependencies"] == {} and j["worker_dependencies"] == {}
    assert j["data_path"] is None and j["env_path"] is None
    st = os.stat(w.json)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert w.json.read_text().startswith('{\n  "')
    # no temp file named like a worker config left behind
    assert [p.name for p in w.wdir.glob("worker_*.json")] == ["worker_files1.json"]
    log = w.datadir / "funcnodes.files1.log"
    wait_until(lambda: log.exists() and "WebSocket server running" in log.read_text(), 5,
               msg="log file")
    assert "WebSocket server running" in w.stderr()


def test_config_dir_from_env_and_custom_data_path(make_worker, tmp_path):
    dp = tmp_path / "elsewhere"
    w = make_worker(uuid="envdir", use_dir_flag=False, cfg={"data_path": str(dp)})
    w.start(extra_global=["--debug"])
    j = w.wait_ready()
    assert j["data_path"] == str(dp)
    assert (dp / "funcnodes.envdir.log").exists()
    assert "DEBUG" in w.stderr()


def test_missing_json_exits_1(make_worker):
    w = make_worker(uuid="nojson", write_json=False)
    w.start()
    assert w.wait_exit() == 1
    assert "No worker found" in w.stderr()
    assert not w.pfile.exists()


def test_uuid_mismatch_exits_1(make_worker):
    w = make_worker(uuid="mism")
    w.json.write_text(json.dumps(dict(w.cfg, uuid="other")))
    w.start()
    assert w.wait_exit() == 1
    assert "No worker found" in w.stderr()
    assert not w.pfile.exists()


def test_refuses_while_p_exists(make_worker):
    w = make_worker(uuid="dup")
    w.pfile.write_text("999999")
    w.start()
    assert w.wait_exit() == 1
    assert "Worker already running" in w.stderr()
    assert w.pfile.read_text() == "999999"
    assert not can_connect(w.port)


def test_port_fallback(make_worker):
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    busy = blocker.getsockname()[1]
    try:
        w = make_worker(uuid="pfb", port=busy, startport=busy, endport=busy + 40)
        w.start()
        j = w.wait_ready()
        assert j["port"] != busy and busy < j["port"] <= busy + 40
    finally:
        blocker.close()


def test_port_wraparound(make_worker):
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    busy = blocker.getsockname()[1]
    start = free_port()
    try:
        # configured port == ENDPORT and busy -> wrap to STARTPORT
        w = make_worker(uuid="wrap", port=busy, startport=start, endport=busy)
        w.start()
        j = w.wait_ready()
        assert j["port"] == start or (start < j["port"] < busy)
    finally:
        blocker.close()


# ---------------------------------------------------------------------------
# WS protocol
# ---------------------------------------------------------------------------


def test_uuid_probe_broadcast_first(make_worker):
    w = make_worker(uuid="probe1")
    w.start()
    w.wait_ready()

    async def go():
        async with connect(w.port) as a, connect(w.port) as b:
            await a.send(json.dumps({"type": "cmd", "cmd": "uuid"}))
            frames = await recv_until_result(a)
            assert len(frames) >= 2
            assert frames[0]["type"] == "progress"
            assert frames[-1] == {"type": "result", "result": "probe1", "id": None}
            # b got the broadcast, not the result
            fb = await recv_json(b)
            assert fb["type"] == "progress"

            await a.send(json.dumps({"type": "cmd", "cmd": "name", "id": 42}))
            frames = await recv_until_result(a)
            assert frames[-1] == {"type": "result", "result": "name-probe1", "id": 42}
            assert (await recv_json(b))["type"] == "progress"

            # ping -> pong broadcast to all clients
            await a.send(json.dumps({"type": "ping"}))
            assert await recv_json(a) == {"type": "pong"}
            assert await recv_json(b) == {"type": "pong"}

            # unknown command -> error broadcast
            await a.send(json.dumps({"type": "cmd", "cmd": "nope", "id": "e1"}))
            frames = await recv_until_result(a)
            err = frames[-1]
            assert err["type"] == "error" and err["id"] == "e1"
            assert "nope" in err["error"] and err["tb"] == []
            fb = await recv_until_result(b)
            assert fb[-1] == err

            # frames without type are ignored; non-JSON is ignored
            await a.send(json.dumps({"cmd": "uuid"}))
            await a.send("not json")
            await a.send(json.dumps({"type": "ping"}))
            assert await recv_json(a) == {"type": "pong"}

    arun(go())


def test_ws_fragmentation_ping_and_limits(make_worker):
    w = make_worker(uuid="frag", env={"FUNCNODES_WS_WORKER_MAX_SIZE": "100000"})
    w.start()
    w.wait_ready()

    async def go():
        async with connect(w.port) as a:
            # fragmented text message
            await a.send(['{"type": "cmd", ', '"cmd": "uuid", ', '"id": 7}'])
            frames = await recv_until_result(a)
            assert frames[-1] == {"type": "result", "result": "frag", "id": 7}
            # protocol ping -> pong
            waiter = await a.ping(b"abc")
            await asyncio.wait_for(waiter, 5)
        # too large -> close 1009
        async with connect(w.port) as a:
            await a.send("x" * 200000)
            with pytest.raises(websockets.ConnectionClosed) as ei:
                await asyncio.wait_for(a.recv(), 5)
            assert ei.value.code == 1009
        # client-initiated close handshake
        a = await connect(w.port)
        await a.close(1000, "bye")
        assert a.close_code == 1000

    arun(go())
    assert w.alive()


def _raw_handshake(port, path="/", key=None):
    key = key or base64.b64encode(os.urandom(16)).decode()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
           % (path, port, key))
    s.sendall(req.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return s, buf.decode("latin-1"), key


def test_ws_raw_handshake_and_errors(make_worker):
    import hashlib
    w = make_worker(uuid="raw")
    w.start()
    w.wait_ready()
    s, resp, key = _raw_handshake(w.port)
    try:
        assert resp.startswith("HTTP/1.1 101")
        expected = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        assert ("Sec-WebSocket-Accept: %s" % expected) in resp
        # unmasked client frame -> close 1002
        payload = b'{"type":"ping"}'
        s.sendall(struct.pack("!BB", 0x81, len(payload)) + payload)
        data = b""
        deadline = time.monotonic() + 5
        while len(data) < 4 and time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data[0] == 0x88
        assert struct.unpack("!H", data[2:4])[0] == 1002
    finally:
        s.close()
    s, resp, _ = _raw_handshake(w.port, path="/other")
    s.close()
    assert resp.startswith("HTTP/1.1 404")
    assert w.alive()


# ---------------------------------------------------------------------------
# stopping
# ---------------------------------------------------------------------------


def _assert_stopped_cleanly(w):
    assert not w.pfile.exists()
    assert not w.rsfile.exists()
    j = read_json(w.json)
    assert j and j["uuid"] == w.uuid and j["pid"] == w.proc.pid
    assert j["unknown_key"] == {"keep": [1, 2, 3]}
    assert (w.datadir / "nodespace.json").exists()


def test_stop_worker_ws(make_worker):
    w = make_worker(uuid="stop1")
    w.start()
    w.wait_ready()

    async def go():
        async with connect(w.port) as a, connect(w.port) as b:
            await a.send(json.dumps({"type": "cmd", "cmd": "stop_worker"}))
            frames_a, frames_b = [], []
            for ws, frames in ((a, frames_a), (b, frames_b)):
                with pytest.raises(websockets.ConnectionClosed) as ei:
                    while True:
                        frames.append(await recv_json(ws))
                assert ei.value.code == 1001
                assert ei.value.reason == "Server shutting down"
            assert {"type": "progress", "message": "Stopping worker", "status": "info",
                    "progress": 0.0, "blocking": False} in frames_a
            assert any(f.get("type") == "workerevent" and f.get("event") == "stopping"
                       for f in frames_b)
            return time.monotonic()

    t0 = arun(go())
    assert w.wait_exit() == 0
    assert time.monotonic() - t0 < 3.0
    _assert_stopped_cleanly(w)


def test_stop_reply_first(make_worker):
    w = make_worker(uuid="stop2", cfg={"test_behaviour": {"stop_reply_first": True}})
    w.start()
    w.wait_ready()

    async def go():
        async with connect(w.port) as a:
            await a.send(json.dumps({"type": "cmd", "cmd": "stop_worker", "id": 9}))
            frames = await recv_until_result(a)
            assert frames[-1] == {"type": "result", "result": True, "id": 9}

    arun(go())
    assert w.wait_exit() == 0
    _assert_stopped_cleanly(w)


def test_p_file_command_stop(make_worker):
    w = make_worker(uuid="pcmd", env={"FNWM_TEST_SAVE_INTERVAL": "0.2"})
    w.start()
    w.wait_ready()
    w.pfile.write_text(json.dumps({"cmd": "stop_worker"}))
    assert w.wait_exit() == 0
    _assert_stopped_cleanly(w)


def test_save_loop_rewrites_p(make_worker):
    w = make_worker(uuid="prw", env={"FNWM_TEST_SAVE_INTERVAL": "0.2"})
    w.start()
    w.wait_ready()
    w.pfile.unlink()
    wait_until(lambda: read_text(w.pfile) == str(w.proc.pid), 5, msg=".p rewritten")
    w.pfile.write_text("garbage")
    wait_until(lambda: read_text(w.pfile) == str(w.proc.pid), 5, msg=".p rewritten")
    assert w.alive()


def test_p_foreign_live_pid_stops_worker(make_worker):
    w = make_worker(uuid="pforeign", env={"FNWM_TEST_SAVE_INTERVAL": "0.2"})
    w.start()
    w.wait_ready()
    w.pfile.write_text(str(os.getpid()))  # another live process
    assert w.wait_exit() == 0


def test_sigterm_leaves_stale_files(make_worker):
    w = make_worker(uuid="term")
    w.start()
    w.wait_ready()
    w.proc.send_signal(signal.SIGTERM)
    assert w.wait_exit() == -signal.SIGTERM
    assert read_text(w.pfile) == str(w.proc.pid)
    assert read_text(w.rsfile) == "running"


def test_sigint_orderly_stop(make_worker):
    w = make_worker(uuid="int")
    w.start()
    w.wait_ready()
    w.proc.send_signal(signal.SIGINT)
    assert w.wait_exit() == 0
    _assert_stopped_cleanly(w)


# ---------------------------------------------------------------------------
# misbehaviour switches
# ---------------------------------------------------------------------------


def test_exit_at_once_env(make_worker):
    w = make_worker(uuid="eao", env={"FNWM_TEST_EXIT_AT_ONCE": "3"})
    w.start()
    assert w.wait_exit() == 3
    assert not w.pfile.exists() and not w.rsfile.exists()


def test_exit_at_once_json_and_json_wins(make_worker):
    w = make_worker(uuid="eaoj", cfg={"test_behaviour": {"exit_at_once": 4}},
                    env={"FNWM_TEST_EXIT_AT_ONCE": "3"})
    w.start()
    assert w.wait_exit() == 4
    assert not w.pfile.exists()
    # JSON null switches an env setting off
    w2 = make_worker(uuid="eaon", cfg={"test_behaviour": {"exit_at_once": None}},
                     env={"FNWM_TEST_EXIT_AT_ONCE": "3"})
    w2.start()
    w2.wait_ready()


@pytest.mark.parametrize("mode,rc", [("exit", 1), ("kill", -signal.SIGKILL)])
def test_crash_after(make_worker, mode, rc):
    w = make_worker(uuid="crash" + mode,
                    env={"FNWM_TEST_CRASH_AFTER": "0.7", "FNWM_TEST_CRASH_MODE": mode})
    w.start()
    w.wait_ready()
    assert w.wait_exit() == rc
    assert read_text(w.pfile) == str(w.proc.pid)
    assert read_text(w.rsfile) == "running"


def test_crash_after_json(make_worker):
    w = make_worker(uuid="crashj", cfg={"test_behaviour": {"crash_after": 0.3}})
    w.start()
    assert w.wait_exit() == 1
    assert read_json(w.json)["pid"] == w.proc.pid  # it was ready before crashing


def test_never_ready(make_worker):
    w = make_worker(uuid="never", env={"FNWM_TEST_NEVER_READY": "1",
                                       "FNWM_TEST_SAVE_INTERVAL": "0.2"})
    w.start()
    wait_until(lambda: read_text(w.rsfile) == "running", START_TIMEOUT, msg="running")
    assert read_text(w.pfile) == str(w.proc.pid)
    time.sleep(0.5)  # give it the chance to (wrongly) bind
    assert w.alive()
    assert not can_connect(w.port)
    assert read_json(w.json)["pid"] == 1  # JSON not rewritten (never bound)
    # the .p command channel still works
    w.pfile.write_text(json.dumps({"cmd": "stop_worker"}))
    assert w.wait_exit() == 0
    assert not w.pfile.exists()


def test_ignore_stop(make_worker):
    w = make_worker(uuid="ign", cfg={"test_behaviour": {"ignore_stop": True}},
                    env={"FNWM_TEST_SAVE_INTERVAL": "0.2"})
    w.start()
    w.wait_ready()

    async def go():
        async with connect(w.port) as a:
            await a.send(json.dumps({"type": "cmd", "cmd": "stop_worker", "id": 1}))
            frames = await recv_until_result(a)
            assert frames[-1] == {"type": "result", "result": True, "id": 1}

    arun(go())
    w.pfile.write_text(json.dumps({"cmd": "stop_worker"}))
    wait_until(lambda: read_text(w.pfile) == str(w.proc.pid), 5, msg=".p rewritten")
    time.sleep(0.3)
    assert w.alive() and can_connect(w.port)
    # SIGINT still stops it
    w.proc.send_signal(signal.SIGINT)
    assert w.wait_exit() == 0


def test_ignore_sigterm(make_worker):
    w = make_worker(uuid="igt", env={"FNWM_TEST_IGNORE_SIGTERM": "yes"})
    w.start()
    w.wait_ready()
    w.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert w.alive()

    async def go():
        async with connect(w.port) as a:
            await a.send(json.dumps({"type": "cmd", "cmd": "stop_worker"}))
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await recv_json(a)

    arun(go())
    assert w.wait_exit() == 0


def test_no_broadcast_before_result(make_worker):
    w = make_worker(uuid="nob", env={"FNWM_TEST_NO_BROADCAST_BEFORE_RESULT": "true"})
    w.start()
    w.wait_ready()

    async def go():
        async with connect(w.port) as a:
            await a.send(json.dumps({"type": "cmd", "cmd": "uuid"}))
            assert await recv_json(a) == {"type": "result", "result": "nob", "id": None}

    arun(go())


def test_start_delay(make_worker):
    w = make_worker(uuid="delay", cfg={"test_behaviour": {"start_delay": 1.5}})
    t0 = time.monotonic()
    w.start()
    wait_until(lambda: read_text(w.rsfile) == "starting\nLoading config", START_TIMEOUT,
               interval=0.01, msg="Loading config")
    assert read_text(w.pfile) == str(w.proc.pid)
    assert not can_connect(w.port)
    w.wait_ready()
    assert time.monotonic() - t0 >= 1.5


def test_answer_uuid(make_worker):
    w = make_worker(uuid="real", env={"FNWM_TEST_ANSWER_UUID": "from-env"},
                    cfg={"test_behaviour": {"answer_uuid": "impostor"}})
    w.start()
    w.wait_ready()

    async def go():
        async with connect(w.port) as a:
            await a.send(json.dumps({"type": "cmd", "cmd": "uuid"}))
            frames = await recv_until_result(a)
            assert frames[-1] == {"type": "result", "result": "impostor", "id": None}

    arun(go())


def test_exit_delay(make_worker):
    w = make_worker(uuid="linger", env={"FNWM_TEST_EXIT_DELAY": "1.0",
                                        "FNWM_TEST_SAVE_INTERVAL": "0.2"})
    w.start()
    w.wait_ready()
    w.pfile.write_text(json.dumps({"cmd": "stop_worker"}))
    wait_until(lambda: not w.pfile.exists(), 5, msg=".p removed")
    t0 = time.monotonic()
    assert not can_connect(w.port)  # listener closed before the linger
    assert w.wait_exit() == 0
    assert time.monotonic() - t0 >= 0.7
