"""Hostile and broken peers: oversized and invalid frames, floods, clients
that never read, odd HTTP, foreign Origins, odd files in the workers dir,
and workers that answer the probe badly."""
import asyncio
import errno
import json
import os
import socket
import struct

import pytest
import websockets

from conftest import (OP_CLOSE, OP_CONT, OP_TEXT, T, RawWS, active,
                      async_wait_for, connect, frame_bytes,
                      handshake_request, http_exchange, inactive, is_status,
                      json_path, p_path, recv, recv_json,
                      recv_until, request_status, uuids, wait_status,
                      worker_doc, write_atomic, write_text, write_worker)


async def assert_responsive(m):
    ws = await connect(m)
    await ws.send("ping")
    assert await recv(ws, T(3)) == "pong"
    await ws.close()
    assert m.alive()


# ---------------------------------------------------------------------------
# frames


@pytest.fixture
def small_limit(fnwm):
    return fnwm.start(config={"fnwm": {"max_message_size": 2048}})


async def test_message_at_limit_is_accepted(small_limit):
    ws = await connect(small_limit)
    await ws.send("a" * 2048)
    msg = await recv_json(ws)
    assert msg["type"] == "error"
    await ws.send("ping")
    assert await recv(ws) == "pong"
    await ws.close()


@pytest.mark.parametrize("how", ["single", "fragments", "binary",
                                 "binary_fragments"])
async def test_oversized_message_closes_1009(small_limit, how):
    ws = await connect(small_limit)
    await ws.send("ping")
    assert await recv(ws) == "pong"
    if how == "single":
        await ws.send("a" * 2049)
    elif how == "fragments":
        await ws.send(iter(["b" * 1000, "b" * 1000, "b" * 1000]))
    elif how == "binary":
        await ws.send(b"\x00" * 3000)
    else:
        await ws.send(iter([b"\x01" * 1500, b"\x01" * 1500]))
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            frame = await recv(ws)
            assert "pong" != frame
    assert ws.close_code == 1009
    await assert_responsive(small_limit)


async def test_oversized_frame_header_closes_1009(small_limit):
    """A frame that only announces a huge length is refused before any
    payload is buffered."""
    r = RawWS(small_limit.port)
    r.sock.sendall(struct.pack("!BBQ", 0x81, 0x80 | 127, 1 << 40) +
                   b"\x00\x00\x00\x00" + b"x" * 100)
    code, _ = r.recv_close()
    assert code == 1009
    r.close()
    await assert_responsive(small_limit)


INVALID_UTF8 = [
    ("lone continuation", [b"\x80"]),
    ("invalid byte", [b"ping\xff"]),
    ("overlong NUL", [b"\xc0\x80"]),
    ("surrogate", [b"\xed\xa0\x80"]),
    ("above U+10FFFF", [b"\xf4\x90\x80\x80"]),
    ("truncated at end", [b"abc\xe2\x82"]),
    ("bad continuation across fragments", [b"x\xe2\x82", b"(y"]),
    ("truncated across fragments", [b"abc", b"\xe2"]),
]


@pytest.mark.parametrize("name,frags", INVALID_UTF8,
                         ids=[n for n, _ in INVALID_UTF8])
async def test_invalid_utf8_closes_1007(manager, name, frags):
    r = RawWS(manager.port)
    for i, f in enumerate(frags):
        r.send_frame(OP_TEXT if i == 0 else OP_CONT, f,
                     fin=i == len(frags) - 1)
    code, frames = r.recv_close()
    assert code == 1007
    assert frames == 0  # no error reply: the message never got through
    r.close()
    await assert_responsive(manager)


async def test_valid_utf8_split_across_fragments(manager):
    r = RawWS(manager.port)
    r.send_frame(OP_TEXT, b"\xe2\x82", fin=False)  # U+20AC, first 2 bytes
    r.send_frame(OP_CONT, b"\xac", fin=True)
    fin, op, payload = r.recv_frame()
    assert op == OP_TEXT
    assert json.loads(payload)["type"] == "error"
    r.send_text("ping")
    assert r.recv_frame()[2] == b"pong"
    r.close()


async def test_unmasked_client_frame(manager):
    """RFC 6455 wants the server to close on an unmasked client frame;
    libwebsockets tolerates it. Either way: no crash, no hang."""
    r = RawWS(manager.port)
    r.sock.sendall(frame_bytes(OP_TEXT, b"ping", mask=False))
    try:
        fin, op, payload = r.recv_frame()
    except (EOFError, ConnectionResetError):
        op = None
    if op == OP_CLOSE:
        assert struct.unpack("!H", payload[:2])[0] == 1002
    elif op is not None:
        assert (op, payload) == (OP_TEXT, b"pong")
    r.close()
    await assert_responsive(manager)


async def test_control_frame_interleaved_in_fragments(manager):
    r = RawWS(manager.port)
    r.send_frame(OP_TEXT, b"pi", fin=False)
    r.send_frame(0x9, b"hi")  # ping inside a fragmented message
    r.send_frame(OP_CONT, b"ng", fin=True)
    got = [r.recv_frame() for _ in range(2)]
    assert (True, 0xA, b"hi") in got
    assert (True, OP_TEXT, b"pong") in got
    r.close()


# ---------------------------------------------------------------------------
# floods


async def test_1000_clients_connect_and_drop(fnwm):
    m = fnwm.start()
    await assert_responsive(m)
    baseline = m.fd_count()
    sem = asyncio.Semaphore(100)
    stats = {"pong": 0, "upgraded": 0}

    async def one(i):
        async with sem:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", m.port), T(10))
            kind = i % 7
            try:
                if kind == 1:
                    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                elif kind >= 2:
                    writer.write(handshake_request(m.port))
                    head = await asyncio.wait_for(
                        reader.readuntil(b"\r\n\r\n"), T(10))
                    assert head.startswith(b"HTTP/1.1 101"), head
                    stats["upgraded"] += 1
                    if kind == 3:
                        writer.write(frame_bytes(OP_TEXT, b"ping"))
                        reply = await asyncio.wait_for(
                            reader.readexactly(6), T(10))
                        assert reply == b"\x81\x04pong"
                        stats["pong"] += 1
                    elif kind == 4:
                        writer.write(frame_bytes(OP_TEXT,
                                                 b"worker_status")[:5])
                    elif kind == 5:
                        writer.write(frame_bytes(OP_CLOSE,
                                                 struct.pack("!H", 1000)))
                    elif kind == 6:
                        writer.write(frame_bytes(OP_TEXT, b"worker_status"))
                await writer.drain()
            finally:
                if i % 2:
                    # Abortive close: RST instead of FIN.
                    writer.get_extra_info("socket").setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
                writer.close()

    await asyncio.gather(*(one(i) for i in range(1000)))
    assert stats["pong"] == 1000 // 7 + (1 if 1000 % 7 > 3 else 0)
    await assert_responsive(m)
    # Every one of those connections is gone from the master.
    await async_wait_for(lambda: m.fd_count() <= baseline, T(15),
                         what="fds back to %d" % baseline)
    await assert_responsive(m)


def pad_workers(wd, n, size):
    for i in range(n):
        write_worker(wd, "pad%02d" % i, port=1, pad="p" * size)


async def test_client_not_reading_replies_is_closed(fnwm):
    m = fnwm.start(config={"fnwm": {"client_queue_bytes": 65536}})
    pad_workers(m.workers_dir, 4, 2000)  # ~9 KB worker_status
    good = await connect(m)
    st = await wait_status(good, lambda s: len(s["inactive"]) == 4, T(5),
                           poll=True)
    assert len(json.dumps(st)) > 4000
    n = 3000
    lag = RawWS(m.port, rcvbuf=4096)
    lag.sock.sendall(b"".join(frame_bytes(OP_TEXT, b"worker_status")
                              for _ in range(n)))
    await m.async_wait_log(r"closing a client that does not read", T(10))
    # Meanwhile everybody else is served at once.
    await assert_responsive(m)
    await good.send("worker_status")
    assert (await recv_until(good, is_status))["inactive"] == st["inactive"]
    # The laggard's connection ends (close frame 1008 once it reads
    # again, or dropped) long before it got all its replies.
    lag.sock.settimeout(T(15))
    code, frames = await asyncio.to_thread(lag.recv_close)
    assert code in (1008, None)
    assert frames < n
    lag.close()
    await good.close()
    await assert_responsive(m)


async def test_client_not_reading_broadcasts_is_closed(fnwm):
    m = fnwm.start(config={"fnwm": {"client_queue_bytes": 65536,
                                    "debounce": 0}})
    pad_workers(m.workers_dir, 6, 4000)  # ~25 KB per broadcast
    good = await connect(m)
    await wait_status(good, lambda s: len(s["inactive"]) == 6, T(5),
                      poll=True)
    lag = RawWS(m.port, rcvbuf=4096)
    lag.send_text("worker_status")  # subscribes, then never reads
    stop = asyncio.Event()
    received = {"n": 0}

    async def churn():
        i = 0
        while not stop.is_set() and i < 2000:
            i += 1
            write_atomic(json_path(m.workers_dir, "churn"),
                         json.dumps(worker_doc("churn", name="n%d" % i)))
            await asyncio.sleep(0.002)

    async def read_good():
        while not stop.is_set():
            try:
                await asyncio.wait_for(good.recv(), 0.1)
                received["n"] += 1
            except asyncio.TimeoutError:
                pass

    tasks = [asyncio.create_task(churn()), asyncio.create_task(read_good())]
    try:
        await m.async_wait_log(r"closing a client that does not read",
                               T(20))
        n_before = received["n"]
        # The reading client keeps getting broadcasts.
        await async_wait_for(lambda: received["n"] > n_before + 3, T(5))
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    lag.sock.settimeout(T(15))
    code, frames = await asyncio.to_thread(lag.recv_close)
    assert code in (1008, None)
    lag.close()
    await good.close()
    await assert_responsive(m)


async def test_reading_client_gets_reply_larger_than_queue_limit(fnwm):
    """client_queue_bytes bounds the backlog of a client that does not
    read; a client that reads must still get a single reply that is
    larger than that bound."""
    d = fnwm.new_dir(config={"fnwm": {"client_queue_bytes": 65536}})
    pad_workers(os.path.join(d, "workers"), 10, 10000)  # ~100 KB
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    # (Without the fix: ConnectionClosedError, 1008 "lagging".)
    await ws.send("worker_status")
    st = await recv_until(ws, is_status)
    assert len(st["inactive"]) == 10
    assert len(json.dumps(st)) > 65536
    await ws.send("ping")
    assert await recv(ws) == "pong"
    await ws.close()


async def test_many_pipelined_requests_from_a_reading_client(manager):
    r = RawWS(manager.port)
    n = 2000
    r.sock.sendall(b"".join(frame_bytes(OP_TEXT, b"ping")
                            for _ in range(n)))
    for i in range(n):
        assert r.recv_frame() == (True, OP_TEXT, b"pong"), i
    r.close()


# ---------------------------------------------------------------------------
# HTTP


async def test_upgrade_on_other_path_is_404(manager):
    for path in ("/other", "/ws", "/index.html", "/x/", "/other?x=/"):
        status, _, _ = http_exchange(
            manager.port, handshake_request(manager.port, path))
        assert status == 404, path
    # Query arguments do not change the path.
    ws = await connect(manager, path="/?token=abc")
    await ws.send("ping")
    assert await recv(ws) == "pong"
    await ws.close()
    await assert_responsive(manager)


@pytest.mark.parametrize("request_line,expected", [
    ("GET / HTTP/1.1", 200),  # the dashboard page
    ("GET /other HTTP/1.1", 404),
    ("GET /favicon.ico HTTP/1.1", 404),
    ("POST / HTTP/1.1", 405),
    ("PUT / HTTP/1.1", 405),
    ("DELETE / HTTP/1.1", 405),
])
async def test_plain_http(manager, request_line, expected):
    req = ("%s\r\nHost: 127.0.0.1:%d\r\nContent-Length: 0\r\n\r\n"
           % (request_line, manager.port)).encode()
    status, head, body = http_exchange(manager.port, req)
    assert status == expected
    await assert_responsive(manager)


async def test_internal_subprotocols_not_usable(manager):
    """Asking for the probe's or the HTTP protocol's name must not give a
    half-working connection: refused, or served as the hub."""
    for proto in ("fnwm-probe", "http"):
        try:
            r = RawWS(manager.port, timeout=T(3),
                      headers={"Sec-WebSocket-Protocol": proto})
        except (AssertionError, OSError):
            continue  # refused: fine
        try:
            r.send_text("ping")
            try:
                frame = r.recv_frame()
            except socket.timeout:
                raise AssertionError("subprotocol %r: connection open but "
                                     "ping unanswered" % proto)
            except (EOFError, ConnectionResetError):
                continue  # closed: fine
            assert frame == (True, OP_TEXT, b"pong"), proto
        finally:
            r.close()
    await assert_responsive(manager)


async def test_garbage_http_does_not_hurt(manager):
    for junk in (b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n", b"x" * 10000,
                 b"GET / HTTP/1.1\r\n" + b"X: " + b"y" * 20000 + b"\r\n\r\n",
                 b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 64):
        s = socket.create_connection(("127.0.0.1", manager.port),
                                     timeout=T(5))
        try:
            # The master may hang up before it read everything.
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass
        except OSError as e:  # shutdown() after the master hung up
            assert e.errno == errno.ENOTCONN, e
        finally:
            s.close()
    await assert_responsive(manager)


# ---------------------------------------------------------------------------
# Origin


def upgrade_status(port, origin=None, host=None):
    headers = {"Origin": origin} if origin is not None else None
    status, _, _ = http_exchange(port, handshake_request(port, "/", headers,
                                                         host=host))
    return status


async def test_origin_checks(manager):
    p = manager.port
    assert upgrade_status(p) == 101
    assert upgrade_status(p, "http://127.0.0.1:%d" % p) == 101
    assert upgrade_status(p, "http://localhost:8000") == 101
    assert upgrade_status(p, "http://[::1]:8000") == 101
    # A Host of its own is refused before the Origin rule (DNS
    # rebinding; test_access.py has the allow-list).
    assert upgrade_status(p, "http://example.com",
                          host="example.com:%d" % p) == 403
    # Foreign pages.
    assert upgrade_status(p, "http://evil.example") == 403
    assert upgrade_status(p, "http://example.com") == 403
    assert upgrade_status(p, "null") == 403
    assert upgrade_status(p, "file://") == 403
    assert upgrade_status(p, "http://localhost.evil.example") == 403
    await manager.async_wait_log(r"refused WebSocket from origin "
                                 r"http://evil\.example")
    await assert_responsive(manager)


async def test_origin_lookalike_of_loopback_refused(manager):
    """A DNS name that merely starts with "127." is not loopback."""
    p = manager.port
    assert upgrade_status(p, "http://127.0.0.1.evil.example") == 403
    assert upgrade_status(p, "http://127.attacker.example:8000") == 403


async def test_origin_allow_list(fnwm):
    d = fnwm.new_dir(config={"fnwm": {
        "allowed_origins": ["https://ui.example.org"]}})
    m = fnwm.start(config_dir=d, args=["--allow-origin",
                                       "http://dev.example:3000"])
    p = m.port
    assert upgrade_status(p, "https://ui.example.org") == 101
    assert upgrade_status(p, "http://dev.example:3000") == 101
    assert upgrade_status(p, "http://dev.example:3001") == 403
    assert upgrade_status(p, "http://other.example.org") == 403
    m2 = fnwm.start(args=["--allow-origin", "*"])
    assert upgrade_status(m2.port, "http://anything.example") == 101
    assert upgrade_status(m2.port, "null") == 101


# ---------------------------------------------------------------------------
# the workers dir


async def test_invalid_worker_file_names_ignored(fnwm):
    d = fnwm.new_dir()
    wd = os.path.join(d, "workers")
    os.makedirs(wd)
    odd = {
        "worker_.x.json": worker_doc(".x"),
        "worker_..json": worker_doc("."),
        "worker_a b.json": worker_doc("a b"),
        "worker_\u00fc.json": worker_doc("\u00fc"),
        "worker_x$y.json": worker_doc("x$y"),
        "worker_.json": worker_doc(""),
        "worker_x.json.tmp": worker_doc("x"),
        "worker_y.json~": worker_doc("y"),
        ".worker_z.json": worker_doc("z"),
        "Worker_w.json": worker_doc("w"),
        "worker_%s.json" % ("l" * 200): worker_doc("l" * 200),
    }
    for name, doc in odd.items():
        write_text(os.path.join(wd, name), json.dumps(doc))
    # .p files with invalid ids are not ours to delete either.
    write_text(os.path.join(wd, "worker_.x.p"), "1")
    write_text(os.path.join(wd, "worker_a b.p"), "1")
    # Not regular files.
    os.mkfifo(os.path.join(wd, "worker_fifo.json"))
    os.mkdir(os.path.join(wd, "worker_dir.json"))
    os.mkdir(os.path.join(wd, "worker_dirp"))
    good = write_worker(wd, "good", port=1)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await request_status(ws)
    assert st == {"type": "worker_status", "active": [], "inactive": [good]}
    # The same names created while running are ignored too.
    for name, doc in odd.items():
        os.unlink(os.path.join(wd, name))
        write_text(os.path.join(wd, name), json.dumps(doc))
    os.mkfifo(os.path.join(wd, "worker_fifo2.json"))
    good2 = write_worker(wd, "good2", port=1)
    st = await wait_status(ws, lambda s: "good2" in inactive(s), T(5))
    assert st["inactive"] == [good, good2]
    for name in odd:
        assert os.path.exists(os.path.join(wd, name)), name
    assert os.path.exists(os.path.join(wd, "worker_.x.p"))
    assert os.path.exists(os.path.join(wd, "worker_a b.p"))
    await ws.close()
    await assert_responsive(m)


async def test_huge_worker_file_skipped(fnwm):
    d = fnwm.new_dir()
    wd = os.path.join(d, "workers")
    os.makedirs(wd)
    doc = worker_doc("huge", port=1, pad="z" * (17 * 1024 * 1024))
    write_text(json_path(wd, "huge"), json.dumps(doc))
    good = write_worker(wd, "good", port=1)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await request_status(ws, T(10))
    assert st["inactive"] == [good]
    assert os.path.exists(json_path(wd, "huge"))
    await ws.close()


# ---------------------------------------------------------------------------
# workers that answer badly


async def test_badly_behaved_workers(fnwm):
    """Workers served from this test process (its own pid is the live pid
    in their .p files)."""
    d = fnwm.new_dir(config={"fnwm": {"probe_connect_timeout": 1,
                                      "probe_reply_timeout": 1}})
    wd = os.path.join(d, "workers")
    os.makedirs(wd)
    servers = []

    def ws_server(name, behaviour):
        async def handler(ws):
            try:
                async for msg in ws:
                    await behaviour(ws, name, msg)
            except websockets.ConnectionClosed:
                pass
        return websockets.serve(handler, "127.0.0.1", 0, compression=None,
                                ping_interval=None, max_size=None)

    async def huge(ws, name, msg):
        await ws.send("x" * (2 * 1024 * 1024))
        await ws.send(json.dumps({"type": "result", "result": name}))

    async def binary_first(ws, name, msg):
        await ws.send(b"\x00\x01binary")
        await ws.send(json.dumps({"type": "result", "result": name,
                                  "id": None}))

    async def fragmented(ws, name, msg):
        text = json.dumps({"type": "result", "result": name, "id": None})
        await ws.send(iter([text[:7], text[7:20], text[20:]]))

    async def not_json_first(ws, name, msg):
        await ws.send("this is not json")
        await ws.send("[1, 2]")
        await ws.send(json.dumps({"no": "type"}))
        await ws.send(json.dumps({"type": "result", "result": name,
                                  "id": None}))

    async def result_number(ws, name, msg):
        await ws.send(json.dumps({"type": "result", "result": 12345}))

    async def result_missing(ws, name, msg):
        await ws.send(json.dumps({"type": "result"}))

    async def nan(ws, name, msg):
        await ws.send('{"type": "result", "result": NaN}')

    async def close_policy(ws, name, msg):
        await ws.close(1008, "go away")

    behaviours = {"huge": huge, "binary_first": binary_first,
                  "fragmented": fragmented,
                  "not_json_first": not_json_first,
                  "result_number": result_number,
                  "result_missing": result_missing, "nan": nan,
                  "close_policy": close_policy}
    ports = {}
    for name, b in behaviours.items():
        srv = await ws_server(name, b)
        servers.append(srv)
        ports[name] = srv.sockets[0].getsockname()[1]

    # Raw TCP peers: one talks HTTP but no WebSocket, one says nothing,
    # one closes at once.
    async def http_200(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        await writer.drain()
        writer.close()

    async def blackhole(reader, writer):
        try:
            await reader.read()
        finally:
            writer.close()

    async def slam(reader, writer):
        writer.close()

    for name, cb in (("http_200", http_200), ("blackhole", blackhole),
                     ("slam", slam)):
        srv = await asyncio.start_server(cb, "127.0.0.1", 0)
        servers.append(srv)
        ports[name] = srv.sockets[0].getsockname()[1]

    me = os.getpid()
    for name, port in ports.items():
        write_worker(wd, name, port=port, pid=me)
    # Port as a string, a port of 0, a port too big, no port at all.
    write_worker(wd, "port_string", port=str(ports["fragmented"]), pid=me)
    write_worker(wd, "port_zero", port=0, pid=me)
    write_worker(wd, "port_big", port=70000, pid=me)
    doc = worker_doc("port_none", pid=me)
    del doc["port"]
    write_worker(wd, "port_none", doc=doc, pid=me)
    # A host that is not an address.
    write_worker(wd, "bad_host", port=ports["fragmented"],
                 host="no such host!", pid=me)

    m = fnwm.start(config_dir=d)
    # Its own port: the master answers the probe with an error frame.
    write_worker(wd, "itself", port=m.port, pid=me)
    ws = await connect(m)
    want_active = ["binary_first", "fragmented", "not_json_first"]
    st = await wait_status(
        ws, lambda s: active(s) == want_active and
        "itself" in inactive(s), T(10), poll=True)
    everyone = sorted(list(ports) + ["port_string", "port_zero", "port_big",
                                     "port_none", "bad_host", "itself"])
    assert uuids(st["active"] + st["inactive"]) == everyone
    # Our pid is alive and was not reused: every .p stays.
    for name in everyone:
        assert os.path.exists(p_path(wd, name)), name
    await ws.close()
    await assert_responsive(m)
    for srv in servers:
        srv.close()
        await srv.wait_closed()
