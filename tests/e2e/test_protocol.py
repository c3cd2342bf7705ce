"""The manager's WebSocket protocol: plain commands, replies, errors."""
import asyncio
import json


from conftest import (T, connect, entry, is_status, no_frame, recv,
                      recv_json, recv_until, request_status, worker_doc,
                      write_atomic, json_path)

STATUS_EMPTY = {"type": "worker_status", "active": [], "inactive": []}


async def test_ping_answers_bare_pong(manager):
    ws = await connect(manager)
    await ws.send("ping")
    frame = await recv(ws)
    assert frame == "pong"
    assert isinstance(frame, str)  # a text frame, not binary
    await ws.close()


async def test_identify(manager):
    ws = await connect(manager)
    await ws.send("identify")
    msg = await recv_json(ws)
    assert set(msg) == {"class", "py", "implementation", "version"}
    assert msg["class"] == "WorkerManager"
    assert msg["implementation"] == "fnwm"
    assert isinstance(msg["py"], str) and msg["py"]
    assert isinstance(msg["version"], str) and msg["version"][0].isdigit()
    await ws.close()


async def test_worker_status_empty(manager):
    ws = await connect(manager)
    assert await request_status(ws) == STATUS_EMPTY
    # Asking again gives the same answer (cached lists, no side effects).
    assert await request_status(ws) == STATUS_EMPTY
    await ws.close()


async def test_worker_status_lists_worker_file(manager):
    doc = write_worker_file(manager, "w1")
    ws = await connect(manager)
    st = await recv_until_listed(ws, "w1")
    assert st["active"] == []
    assert st["inactive"] == [doc]
    await ws.close()


def write_worker_file(manager, uuid, **kw):
    doc = worker_doc(uuid, **kw)
    write_atomic(json_path(manager.workers_dir, uuid), json.dumps(doc))
    return doc


async def recv_until_listed(ws, uuid):
    await ws.send("worker_status")
    return await recv_until(
        ws, lambda m: is_status(m) and entry(m, uuid)[0] is not None, T(5))


async def test_commands_are_case_sensitive_and_exact(manager):
    ws = await connect(manager)
    for text in ("PING", "Ping", " ping", "ping ", "ping\n", "pingping",
                 "identify\n", "Worker_Status", "STOP", "stop "):
        await ws.send(text)
        msg = await recv_json(ws)
        assert msg["type"] == "error", text
        assert isinstance(msg["message"], str) and msg["message"], text
    # "stop " was not a stop: the manager still answers.
    await ws.send("ping")
    assert await recv(ws) == "pong"
    assert manager.alive()
    await ws.close()


async def test_pipelined_commands_answered_in_order(manager):
    ws = await connect(manager)
    await request_status(ws)  # first scan done: nothing waits
    for text in ("ping", "identify", "worker_status", "bogus", "ping"):
        await ws.send(text)
    frames = [await recv(ws) for _ in range(5)]
    assert frames[0] == "pong"
    assert json.loads(frames[1])["class"] == "WorkerManager"
    assert json.loads(frames[2]) == STATUS_EMPTY
    assert json.loads(frames[3])["type"] == "error"
    assert frames[4] == "pong"
    await ws.close()


async def test_many_queued_replies_arrive_whole_and_in_order(manager):
    """Replies queued faster than they are written go out several to a
    send: every one must still arrive as its own frame, in order, small
    and larger ones (7-bit and 16-bit frame lengths) mixed."""
    ws = await connect(manager)
    await request_status(ws)
    n = 600
    for i in range(n):
        await ws.send("ping")
        await ws.send("identify")
        await ws.send("bogus-%d-%s" % (i, "z" * (i % 300)))
    for i in range(n):
        assert await recv(ws) == "pong", i
        assert json.loads(await recv(ws))["class"] == "WorkerManager", i
        err = json.loads(await recv(ws))
        assert err["type"] == "error" and ("bogus-%d-" % i) in \
            err["message"], (i, err)
    await ws.send("ping")
    assert await recv(ws) == "pong"
    await ws.close()


# Each bad input must be answered with exactly one error and leave the
# connection usable (a ping afterwards gets pong as the very next frame).
BAD_INPUTS = [
    ("unknown word", "hello"),
    ("empty text", ""),
    ("whitespace", "   "),
    ("truncated object", "{"),
    ("truncated array", "[1, 2"),
    ("trailing garbage", '{"type": "x"} trailing'),
    ("two objects", '{"type": "a"}{"type": "b"}'),
    ("single quotes", "{'type': 'ping'}"),
    ("no type", '{"workerid": "abc"}'),
    ("type not a string", '{"type": 5}'),
    ("type null", '{"type": null}'),
    ("type is object", '{"type": {"x": 1}}'),
    ("unknown type", '{"type": "no_such_command"}'),
    # Worker commands refused before they touch anything.
    ("set_active without workerid", '{"type": "set_active"}'),
    ("stop_worker with numeric workerid",
     '{"type": "stop_worker", "workerid": 5}'),
    ("restart_worker with null workerid",
     '{"type": "restart_worker", "workerid": null}'),
    ("delete_worker with path workerid",
     '{"type": "delete_worker", "workerid": "../../etc"}'),
    ("delete_worker with dot workerid",
     '{"type": "delete_worker", "workerid": ".hidden"}'),
    ("set_active with empty workerid",
     '{"type": "set_active", "workerid": ""}'),
    ("set_active with slash workerid",
     '{"type": "set_active", "workerid": "a/b"}'),
    ("new_worker with kwargs list", '{"type": "new_worker", "kwargs": []}'),
    ("new_worker with kwargs string",
     '{"type": "new_worker", "kwargs": "x"}'),
    ("plain command as JSON type", '{"type": "ping"}'),
    ("worker_status as JSON type", '{"type": "worker_status"}'),
    ("number", "42"),
    ("negative float", "-1.5e3"),
    ("list", "[1, 2, 3]"),
    ("empty list", "[]"),
    ("JSON string", '"ping"'),
    ("null", "null"),
    ("true", "true"),
    ("NaN", '{"type": "x", "v": NaN}'),
    ("Infinity", '{"type": "x", "v": Infinity}'),
    ("NUL inside", 'ping\x00'),
    ("escaped NUL type", '{"type": "ping\\u0000"}'),
    ("deep nesting", "[" * 5000 + "]" * 5000),
    ("deep objects", '{"a":' * 3000 + "1" + "}" * 3000),
    ("long unknown", "x" * 100000),
    ("unicode", "\u00fcnicode \u2603 \U0001F600"),
]


async def test_bad_inputs_get_error_and_connection_stays_usable(manager):
    ws = await connect(manager)
    for name, text in BAD_INPUTS:
        await ws.send(text)
        msg = await recv_json(ws, T(5))
        assert msg.get("type") == "error", (name, msg)
        assert isinstance(msg.get("message"), str) and msg["message"], name
        assert set(msg) == {"type", "message"}, (name, msg)
        await ws.send("ping")
        assert await recv(ws) == "pong", name
    assert manager.alive()
    await ws.close()


async def test_error_messages_name_the_problem(manager):
    ws = await connect(manager)
    await ws.send("frobnicate")
    assert "frobnicate" in (await recv_json(ws))["message"]
    await ws.send('{"type": "frobnicate_json"}')
    assert "frobnicate_json" in (await recv_json(ws))["message"]
    await ws.send('{"no": "type"}')
    assert "type" in (await recv_json(ws))["message"]
    await ws.close()


async def test_binary_frame_gets_error_and_connection_stays_open(manager):
    ws = await connect(manager)
    for payload in (b"ping", b"\x00\xff\xfe", b"", b"x" * 70000):
        await ws.send(payload)
        msg = await recv_json(ws)
        assert msg["type"] == "error"
        assert "binary" in msg["message"]
        await ws.send("ping")
        assert await recv(ws) == "pong"
    await ws.close()


async def test_fragmented_text_message_is_reassembled(manager):
    ws = await connect(manager)
    await ws.send(iter(["pi", "n", "g"]))
    assert await recv(ws) == "pong"
    await ws.send(iter(["iden", "tify"]))
    assert (await recv_json(ws))["class"] == "WorkerManager"
    # A fragmented message larger than one receive buffer.
    big = ["x" * 50000 for _ in range(6)]
    await ws.send(iter(big))
    assert (await recv_json(ws))["type"] == "error"
    await ws.send(iter(["worker_", "status"]))
    assert await recv_json(ws) == STATUS_EMPTY
    await ws.close()


async def test_large_single_message_under_limit_is_handled(manager):
    ws = await connect(manager)
    doc = json.dumps({"type": "huge", "pad": "y" * (3 * 1024 * 1024)})
    await ws.send(doc)
    msg = await recv_json(ws, T(10))
    assert msg["type"] == "error" and "huge" in msg["message"]
    await ws.send("ping")
    assert await recv(ws) == "pong"
    await ws.close()


async def test_websocket_ping_is_answered(manager):
    ws = await connect(manager)
    waiter = await ws.ping(b"hello")
    await asyncio.wait_for(waiter, T(5))
    await ws.send("ping")
    assert await recv(ws) == "pong"
    await ws.close()


async def test_client_close_handshake(manager):
    ws = await connect(manager)
    await ws.send("ping")
    assert await recv(ws) == "pong"
    await ws.close(code=1000, reason="bye")
    assert ws.close_code == 1000
    # The manager is fine afterwards.
    ws2 = await connect(manager)
    await ws2.send("ping")
    assert await recv(ws2) == "pong"
    await ws2.close()


async def test_many_clients_each_get_own_replies(manager):
    clients = [await connect(manager) for _ in range(30)]
    for i, ws in enumerate(clients):
        await ws.send("ping" if i % 2 == 0 else "identify")
    for i, ws in enumerate(clients):
        frame = await recv(ws)
        if i % 2 == 0:
            assert frame == "pong"
        else:
            assert json.loads(frame)["class"] == "WorkerManager"
    for ws in clients:
        await ws.close()


async def test_first_frame_rule_under_broadcast_load(fnwm):
    """Fresh connections get pong / the identity as their first frame and
    no broadcast at all until they send a real command, even while the
    lists change all the time."""
    m = fnwm.start(config={"fnwm": {"debounce": 0}})
    watcher = await connect(m)
    assert await request_status(watcher) == STATUS_EMPTY

    stop = asyncio.Event()
    counter = {"writes": 0}

    async def churn():
        i = 0
        while not stop.is_set():
            i += 1
            doc = worker_doc("churn", name="n%d" % i)
            write_atomic(json_path(m.workers_dir, "churn"), json.dumps(doc))
            counter["writes"] = i
            await asyncio.sleep(0.005)

    broadcasts = {"n": 0}

    async def watch():
        while not stop.is_set():
            try:
                frame = await asyncio.wait_for(watcher.recv(), 0.2)
            except asyncio.TimeoutError:
                continue
            if is_status(json.loads(frame)):
                broadcasts["n"] += 1

    tasks = [asyncio.create_task(churn()), asyncio.create_task(watch())]
    try:
        # Broadcasts are flowing before we start probing.
        await _until(lambda: broadcasts["n"] >= 5, T(5))
        idle = []
        for i in range(40):
            ws = await connect(m)
            if i % 2 == 0:
                await ws.send("ping")
                assert await recv(ws) == "pong", i
            else:
                await ws.send("identify")
                first = await recv(ws)
                assert json.loads(first)["class"] == "WorkerManager", i
            idle.append(ws)
        # Several more broadcasts go out; the ping/identify-only clients
        # must receive none of them.
        seen = broadcasts["n"]
        await _until(lambda: broadcasts["n"] >= seen + 5, T(5))
        for ws in idle:
            await no_frame(ws, 0.01)
        # A real command subscribes: then broadcasts arrive.
        sub = idle[0]
        await sub.send("worker_status")
        await recv_until(sub, is_status, T(5))
        await recv_until(sub, is_status, T(5))  # a broadcast
        for ws in idle:
            await ws.close()
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert broadcasts["n"] >= 10
    await watcher.close()


async def _until(cond, timeout):
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)
