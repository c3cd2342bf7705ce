# SPDX-License-Identifier: MIT
"""fnwm as a service: systemd notifications through a real NOTIFY_SOCKET
listener, SIGHUP reload with a good and a bad configuration, per-worker
resource limits seen in /proc/PID/limits, and /healthz and /metrics
(parsed as the Prometheus text format) consistent with worker_status."""
import asyncio
import json
import os
import re
import signal
import socket
import time

import pytest
import websockets

from conftest import (T, FAST_CONFIG, connect, recv_until, request_status,
                      wait_for, http_exchange)

# Workers here must stop within the teardown's wait.
WORKER_CONFIG = {"fnwm": dict(FAST_CONFIG["fnwm"], stop_timeout=2,
                              kill_timeout=1)}

WORKER_TREE = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "worker")


class NotifyListener:
    """A datagram socket as systemd's NOTIFY_SOCKET; records messages."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.msgs = []  # (monotonic time, text)

    def pump(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return
            for line in data.decode().split("\n"):
                if line:
                    self.msgs.append((time.monotonic(), line))

    def wait(self, pred, timeout):
        def seen():
            self.pump()
            return [m for m in self.msgs if pred(m[1])]
        return wait_for(seen, timeout, interval=0, what="notify message")

    def close(self):
        self.sock.close()


def test_notify_ready_status_watchdog_stopping(fnwm, tmp_path):
    nl = NotifyListener(str(tmp_path / "notify.sock"))
    try:
        m = fnwm.start(config=FAST_CONFIG, wait=False, extra_env={
            "NOTIFY_SOCKET": nl.path, "WATCHDOG_USEC": "500000"})
        ready = nl.wait(lambda s: s == "READY=1", T(10))
        # READY comes once the hub listens.
        m.wait_listening()
        assert "listening on" in m.log()
        status = nl.wait(lambda s: s.startswith("STATUS="), T(5))
        assert re.match(r"STATUS=\d+ workers?", status[0][1]), status
        # WATCHDOG=1 every WatchdogSec/2 from the loop.
        t0 = time.monotonic()
        wait_for(lambda: (nl.pump(), len([1 for t, s in nl.msgs
                         if s == "WATCHDOG=1" and t > t0]) >= 5)[1],
                 T(10), what="5 watchdog pings")
        pings = [t for t, s in nl.msgs if s == "WATCHDOG=1" and t > t0]
        gaps = sorted(b - a for a, b in zip(pings, pings[1:]))
        # Every WatchdogSec/2 (0.25 s): never a burst; the typical gap is
        # the cadence (a loaded machine may delay one now and then).
        assert gaps[0] > 0.1, gaps
        assert 0.2 <= gaps[len(gaps) // 2] <= 0.35 * T(1), gaps
        assert ready[0][0] <= status[0][0]
        m.signal(signal.SIGTERM)
        nl.wait(lambda s: s == "STOPPING=1", T(10))
        assert m.wait_exit() == 0
    finally:
        nl.close()


async def test_sighup_good_then_bad_config_keeps_clients(fnwm, tmp_path):
    nl = NotifyListener(str(tmp_path / "notify.sock"))
    try:
        m = fnwm.start(config=FAST_CONFIG,
                       extra_env={"NOTIFY_SOCKET": nl.path})
        cfg = os.path.join(m.config_dir, "config.json")
        evil = "http://other.example"
        headers = {"Origin": evil}

        def handshake_status():
            req = ("GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\nOrigin: %s\r\n\r\n"
                   % (m.port, evil))
            return http_exchange(m.port, req.encode())

        assert handshake_status()[0] == 403
        ws = await connect(m.url)
        await ws.send("worker_status")
        await recv_until(ws, lambda x: x.get("type") == "worker_status")

        # A good configuration: the origin is allowed now, no client lost.
        good = dict(FAST_CONFIG)
        good["fnwm"] = dict(FAST_CONFIG["fnwm"], allowed_origins=[evil],
                            log_level="debug")
        with open(cfg, "w") as f:
            json.dump(good, f)
        m.signal(signal.SIGHUP)
        await m.async_wait_log(r"configuration reloaded")
        assert handshake_status()[0] == 101
        await ws.send("ping")
        assert await recv_until(ws, lambda x: x == "pong") == "pong"

        # A bad one: refused with a clear line, the good one stays.
        with open(cfg, "w") as f:
            f.write('{"fnwm": {"probe_interval": "often"}}')
        m.signal(signal.SIGHUP)
        await m.async_wait_log(r"reload refused.*probe_interval")
        assert handshake_status()[0] == 101
        await ws.send("ping")
        assert await recv_until(ws, lambda x: x == "pong") == "pong"
        nl.pump()
        texts = [s for _, s in nl.msgs]
        assert texts.count("RELOADING=1") == 2
        i = texts.index("RELOADING=1")
        assert "READY=1" in texts[i:]
        await ws.close()
    finally:
        nl.close()


def _worker_env(tmp_path):
    return {"PYTHONPATH": WORKER_TREE,
            "FUNCNODES_WS_WORKER_STARTPORT": str(20000 + os.getpid() % 20000)}


async def _create_and_start(ws, kwargs):
    await ws.send(json.dumps({"type": "new_worker", "kwargs": kwargs}))
    created = await recv_until(ws, lambda x: x.get("type") in
                               ("worker_created", "error"), timeout=T(30))
    assert created["type"] == "worker_created", created
    await ws.send(json.dumps({"type": "set_active",
                              "workerid": created["uuid"]}))
    return created["uuid"], await recv_until(
        ws, lambda x: x.get("type") in ("set_worker", "error"), timeout=T(60))


async def test_worker_resource_limits(fnwm, tmp_path):
    m = fnwm.start(config=WORKER_CONFIG, args=["--python", "/usr/bin/python3"],
                   extra_env=_worker_env(tmp_path))
    ws = await connect(m.url)
    limits = {"nofile": 321, "as": 3000000000, "cpu": 7200, "core": 0,
              "nice": 3}
    uuid, sw = await _create_and_start(ws, {"name": "lim", "in_venv": False,
                                             "fnwm": {"limits": limits}})
    assert sw["type"] == "set_worker", sw
    pid = sw["data"]["pid"]
    text = open("/proc/%d/limits" % pid).read()

    def row(name):
        line = [l for l in text.splitlines() if l.startswith(name)][0]
        return line[len(name):].split()[:2]

    assert row("Max open files") == ["321", "321"]
    assert row("Max address space") == ["3000000000", "3000000000"]
    assert row("Max cpu time") == ["7200", "7200"]
    assert row("Max core file size") == ["0", "0"]
    stat = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    assert int(stat[16]) == 3  # field 19: nice

    # A limit that cannot be granted is a clear error on set_active.
    _, sw = await _create_and_start(ws, {
        "name": "toomuch", "in_venv": False,
        "fnwm": {"limits": {"nofile": 1 << 40}}})
    assert sw["type"] == "error", sw
    assert "RLIMIT_NOFILE" in sw["message"], sw
    await ws.send(json.dumps({"type": "stop_worker", "workerid": uuid}))
    # The reset after "Stopping worker.", not an earlier operation's.
    await recv_until(ws, lambda x: x.get("type") == "progress"
                     and x["message"] == "Stopping worker.", timeout=T(30))
    await recv_until(ws, lambda x: x.get("type") == "progress"
                     and x["message"] == "", timeout=T(30))
    await ws.close()


def _http(port, method, path, headers=""):
    """One request; returns (status, headers, body). HEAD reads no body."""
    req = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n"
           % (method, path, port, headers)).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=T(5))
    try:
        s.sendall(req)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, "connection closed before the head: %r" % data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.strip().lower(): v.strip() for k, v in
                (l.split(":", 1) for l in lines[1:] if ":" in l)}
        want = 0 if method == "HEAD" else int(hdrs.get("content-length", 0))
        while len(body) < want:
            chunk = s.recv(65536)
            assert chunk, "connection closed before the body"
            body += chunk
        if method == "HEAD":
            # Nothing may follow the head of a HEAD answer.
            s.settimeout(0.2)
            try:
                body += s.recv(65536)
            except socket.timeout:
                pass
    finally:
        s.close()
    return status, hdrs, body


_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"'


def parse_prometheus(text):
    """A strict parser of the text exposition format (0.0.4): returns
    {family: {"type": t, "help": h, "samples": [(name, labels, value)]}}
    and fails on anything the format does not allow."""
    fams = {}
    order = []
    current = None
    for line in text.split("\n"):
        if line == "":
            continue
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            assert re.fullmatch(_NAME, name), line
            assert name not in fams or "help" not in fams[name], \
                "second HELP for " + name
            fams.setdefault(name, {"samples": []})["help"] = doc
            current = name
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert typ in ("counter", "gauge", "histogram", "summary",
                           "untyped"), line
            f = fams.setdefault(name, {"samples": []})
            assert "type" not in f, "second TYPE for " + name
            assert not f["samples"], "TYPE after samples of " + name
            f["type"] = typ
            order.append(name)
            current = name
            continue
        if line.startswith("#"):
            continue
        m = re.fullmatch(r"(%s)(\{(.*)\})? (\S+)( -?\d+)?" % _NAME, line)
        assert m, "bad sample line: %r" % line
        name, labels_txt, value = m.group(1), m.group(3), m.group(4)
        labels = {}
        if labels_txt:
            pos = 0
            for lm in re.finditer(_LABEL + r"(,|$)", labels_txt):
                assert lm.start() == pos, "bad labels: %r" % line
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
            assert pos == len(labels_txt), "bad labels: %r" % line
        float(value)  # NaN/Inf spelled as Python accepts them
        fam = name
        # Samples of a family must follow its TYPE, without interleaving.
        assert fam == current, "sample %s outside its family block" % name
        fams[fam]["samples"].append((name, labels, float(value)))
    return fams


async def test_healthz_and_metrics(fnwm, tmp_path):
    m = fnwm.start(config=WORKER_CONFIG, args=["--python", "/usr/bin/python3"],
                   extra_env=_worker_env(tmp_path))
    ws = await connect(m.url)
    uuid, sw = await _create_and_start(ws, {"name": "met", "in_venv": False})
    assert sw["type"] == "set_worker", sw
    await ws.send(json.dumps({"type": "new_worker",
                              "kwargs": {"name": "idle", "in_venv": False}}))
    await recv_until(ws, lambda x: x.get("type") == "worker_created")

    status, hdrs, body = _http(m.port, "GET", "/healthz")
    assert status == 200, (status, body)
    assert hdrs["content-type"].startswith("application/json")
    health = json.loads(body)
    assert health["status"] == "ok" and health["workers"] == 2

    async def settled():
        st = await request_status(ws)
        fams = parse_prometheus(_http(m.port, "GET", "/metrics")[2].decode())
        up = {s[1]["uuid"]: s[2] for s in fams["fnwm_worker_up"]["samples"]}
        want = {e["uuid"]: 1.0 for e in st["active"]}
        want.update({e["uuid"]: 0.0 for e in st["inactive"]})
        return (st, fams) if up == want else None
    st, fams = await asyncio.wait_for(_poll(settled), T(10))
    assert [e["uuid"] for e in st["active"]] == [uuid]
    assert fams["fnwm_worker_up"]["type"] == "gauge"
    assert fams["fnwm_worker_restarts_total"]["type"] == "counter"
    by_state = {s[1]["state"]: s[2] for s in fams["fnwm_workers"]["samples"]}
    assert by_state["running"] == 1 and by_state["down"] == 1
    assert fams["fnwm_monitors"]["samples"][0][2] == 1
    assert fams["fnwm_websocket_clients"]["samples"][0][2] >= 1
    assert fams["fnwm_messages_received_total"]["samples"][0][2] >= 3
    assert fams["fnwm_master_resident_bytes"]["samples"][0][2] > 1e6
    assert fams["fnwm_last_status_change_timestamp_seconds"]["samples"][0][2] \
        > time.time() - 120
    uptime = [s for s in fams["fnwm_worker_uptime_seconds"]["samples"]
              if s[1]["uuid"] == uuid]
    assert uptime and 0 <= uptime[0][2] < 120

    # HEAD: headers only; other methods 405; a foreign Origin 403.
    status, hdrs, body = _http(m.port, "HEAD", "/metrics")
    assert status == 200 and body == b"" and int(hdrs["content-length"]) > 0
    assert _http(m.port, "POST", "/metrics")[0] == 405
    assert _http(m.port, "GET", "/metrics",
                 "Origin: http://evil.example\r\n")[0] == 403
    assert _http(m.port, "GET", "/healthz",
                 "Origin: http://127.0.0.1:8000\r\n")[0] == 200
    assert _http(m.port, "GET", "/nothing")[0] == 404
    await ws.send(json.dumps({"type": "stop_worker", "workerid": uuid}))
    # The reset after "Stopping worker.", not an earlier operation's.
    await recv_until(ws, lambda x: x.get("type") == "progress"
                     and x["message"] == "Stopping worker.", timeout=T(30))
    await recv_until(ws, lambda x: x.get("type") == "progress"
                     and x["message"] == "", timeout=T(30))
    await ws.close()


async def _poll(fn, interval=0.05):
    while True:
        v = await fn()
        if v:
            return v
        await asyncio.sleep(interval)


@pytest.mark.skipif(os.geteuid() == 0,
                    reason="root writes to any directory: 503 needs a user")
def test_healthz_unhealthy_when_workers_dir_read_only(fnwm):
    m = fnwm.start(config=FAST_CONFIG)
    os.chmod(m.workers_dir, 0o500)
    try:
        status, _, body = _http(m.port, "GET", "/healthz")
        assert status == 503, body
        assert json.loads(body)["workers_dir_writable"] is False
    finally:
        os.chmod(m.workers_dir, 0o700)
