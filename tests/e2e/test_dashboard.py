"""The dashboard's side of the master: GET / serves the page built into
the binary (one document, the hub's Host and Origin rules, headers that
keep it unframed and its URL out of Referers), and the worker_stats and
worker_stats_history messages give the CPU and memory of a worker's
process tree, sampled only while someone watches. The page itself runs
in Chromium in tests/ui/dashboard.test.mjs."""
import asyncio
import json
import os
import re
import time
import urllib.request

import websockets

from cli_util import (FNWM_CONFIG, T, cli, start_manager,  # noqa: F401
                      wait_for, ws_request)
from conftest import handshake_request, http_exchange


def get(port, path="/", host=None, origin=None, method="GET"):
    req = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (
        method, path, host or "127.0.0.1:%d" % port)
    if origin:
        req += "Origin: %s\r\n" % origin
    return http_exchange(port, (req + "\r\n").encode())


def headers(head):
    out = {}
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        out[k.strip().lower()] = v.strip()
    return out


def test_page_is_one_document_under_the_hub_rules(cli):
    cli.run("ping").ok()  # starts the manager
    status, head, body = get(cli.port)
    assert status == 200, (head, body[:200])
    h = headers(head)
    assert h["content-type"] == "text/html; charset=utf-8"
    assert int(h["content-length"]) == len(body) < 150 * 1024
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert "connect-src 'self'" in h["content-security-policy"]
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-frame-options"] == "DENY"
    page = body.decode()
    assert "<table" in page and "uPlot" in page
    # Nothing is loaded from elsewhere, or from the hub a second time.
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["'](?!data:)""",
                         page), "the page loads another resource"
    assert "@include" not in page
    status, head, body = get(cli.port, method="HEAD")
    assert status == 200 and body == b""
    # The Host and Origin rules of every other request.
    assert get(cli.port, host="evil.example:80")[0] == 403
    assert get(cli.port, origin="http://evil.example")[0] == 403
    assert get(cli.port, origin="http://127.0.0.1:%d" % cli.port)[0] == 200
    assert get(cli.port, path="/index.html")[0] == 404
    assert get(cli.port, method="POST")[0] == 405


def _handshake(port, query):
    """The status of a WebSocket handshake to /query; "pong" when it was
    accepted and answered a ping."""
    status, _, _ = http_exchange(port, handshake_request(port, "/" + query))
    if status != 101:
        return status

    async def ping():
        async with websockets.connect(
                "ws://127.0.0.1:%d/%s" % (port, query), open_timeout=T(5),
                ping_interval=None, compression=None) as ws:
            await ws.send("ping")
            return await asyncio.wait_for(ws.recv(), T(5))
    return asyncio.run(ping())


def test_page_is_open_its_socket_needs_the_token(cli):
    cli.write_config({"fnwm": dict(FNWM_CONFIG, require_token=True)})
    start_manager(cli)
    with open(os.path.join(cli.dir, "fnwm.token")) as f:
        token = f.read().strip()
    # The page holds no data; what it shows comes over the WebSocket.
    assert get(cli.port)[0] == 200
    assert get(cli.port, path="/metrics")[0] == 401
    assert (_handshake(cli.port, "")) == 401
    assert (_handshake(cli.port, "?token=" + "0" * 64)) == 401
    assert (_handshake(cli.port, "?token=" + token)) == "pong"
    with open(os.path.join(cli.logs_dir, "explicit-manager.log")) as f:
        assert token not in f.read()


async def _watch(port, first, until, timeout):
    """Subscribes to worker_stats; returns the reply and the ticks until
    until(ticks) holds."""
    async with websockets.connect(
            "ws://127.0.0.1:%d/" % port, open_timeout=T(5),
            ping_interval=None, compression=None, max_size=None) as ws:
        await ws.send(json.dumps(first))
        ticks, reply = [], None
        deadline = time.monotonic() + timeout
        while not (reply and until(ticks)):
            left = deadline - time.monotonic()
            assert left > 0, "worker_stats: %s" % ticks[-3:]
            msg = json.loads(await asyncio.wait_for(ws.recv(), left))
            if msg.get("type") == "error":
                return msg, ticks
            if msg.get("type") != "worker_stats":
                continue
            if reply is None:
                reply = msg
            else:
                ticks.append((time.monotonic(), msg))
        return reply, ticks


def test_worker_stats_of_a_running_worker(cli):
    uuid = cli.new_worker("stats", start=True)
    pid = cli.wait_worker_pid(uuid)

    def has_cpu(ticks):
        return any(t[1]["workers"].get(uuid, {}).get("cpu") is not None
                   for t in ticks)
    reply, ticks = asyncio.run(_watch(
        cli.port, {"type": "worker_stats"}, has_cpu, T(15)))
    assert reply["access"] == "control"
    man = reply["manager"]
    assert man["version"] and man["pid"] > 0 and man["rss"] > 1 << 20
    assert man["workers"] == 1 and man["monitors"] == 1
    assert man["clients"] >= 1 and man["watchers"] == 1
    assert 0 <= man["uptime"] < 600
    # Memory at once, from /proc of the worker's tree.
    w = reply["workers"][uuid]
    assert w["pid"] == pid and w["procs"] >= 1
    with open("/proc/%d/status" % pid) as f:
        rss = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024
    assert rss / 2 < w["rss"] < rss * 4, (w, rss)
    # CPU from the second look on, every interval.
    w = [t[1]["workers"][uuid] for t in ticks if t[1]["workers"].get(uuid)]
    assert w[-1]["cpu"] >= 0 and w[-1]["pid"] == pid
    assert reply["interval"] == 2
    # Unknown workers and bad arguments get an error, not a close.
    err = ws_request(cli.port, json.dumps({"type": "worker_stats_history",
                                           "workerid": "nope"}), "error")
    assert "not found" in err["message"]
    err = ws_request(cli.port, json.dumps({"type": "worker_stats",
                                           "subscribe": "yes"}), "error")
    assert "subscribe must be true or false" in err["message"]
    hist = ws_request(cli.port, json.dumps({"type": "worker_stats_history",
                                            "workerid": uuid}),
                      "worker_stats_history")
    assert hist["uuid"] == uuid and hist["step"] == 10
    assert isinstance(hist["samples"], list)


def test_history_points_after_a_step(cli):
    uuid = cli.new_worker("hist", start=True)
    pid = cli.wait_worker_pid(uuid)

    async def body():
        async with websockets.connect(
                "ws://127.0.0.1:%d/" % cli.port, ping_interval=None,
                compression=None, max_size=None) as ws:
            await ws.send(json.dumps({"type": "worker_stats"}))
            deadline = time.monotonic() + T(30)
            while time.monotonic() < deadline:
                await ws.send(json.dumps({"type": "worker_stats_history",
                                          "workerid": uuid}))
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(),
                                                            T(10)))
                    if msg["type"] == "worker_stats_history":
                        break
                if msg["samples"]:
                    return msg["samples"]
                await asyncio.sleep(1)
            raise AssertionError("no history point within 30 s")
    samples = asyncio.run(body())
    t, cpu, rss, procs = samples[-1]
    assert abs(t - time.time()) < 60 and cpu >= 0 and rss > 1 << 20
    assert procs >= 1
    assert pid > 0


def _switches(pid):
    total = 0
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, task)) as f:
            text = f.read()
        total += sum(int(x) for x in re.findall(
            r"^(?:non)?voluntary_ctxt_switches:\s+(\d+)", text, re.M))
    return total


def test_no_sampling_without_a_watcher(cli):
    """The sampler's timer runs only while a client watches: an idle
    master with none wakes up as seldom as before."""
    cli.write_config({"fnwm": dict(FNWM_CONFIG, probe_interval=3600)})
    p = start_manager(cli)
    time.sleep(1)

    def wakeups(seconds):
        a = _switches(p.pid)
        time.sleep(seconds)
        return _switches(p.pid) - a
    idle = wakeups(T(4))

    async def watch_then_leave():
        async with websockets.connect(
                "ws://127.0.0.1:%d/" % cli.port, ping_interval=None,
                compression=None, max_size=None) as ws:
            await ws.send(json.dumps({"type": "worker_stats"}))
            n = 0
            while n < 3:  # the reply and two ticks
                msg = json.loads(await asyncio.wait_for(ws.recv(), T(10)))
                n += msg.get("type") == "worker_stats"
    asyncio.run(watch_then_leave())
    # The next tick finds nobody and stops the timer.
    time.sleep(2.5)
    after = wakeups(T(4))
    # lws's own once-a-second housekeeping stays; the ticks are gone.
    assert after <= idle + 1, (idle, after)
