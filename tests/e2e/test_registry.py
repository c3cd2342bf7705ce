"""The worker registry: classification of the workers dir, probes, and the
worker_status broadcasts that follow changes."""
import json
import os
import time

from conftest import (FAST_CONFIG, T, active, async_wait_for, connect,
                      dead_pid, entry, free_port, inactive, is_status,
                      json_path, no_frame, p_path, recv, recv_until,
                      request_status,
                      start_worker, uuids, wait_status, worker_doc,
                      write_text, write_worker)


def workers_dir_of(fnwm):
    d = fnwm.new_dir(config=FAST_CONFIG)
    w = os.path.join(d, "workers")
    os.makedirs(w)
    return d, w


async def test_live_answering_worker_is_active(fnwm, fakeworkers):
    d, wd = workers_dir_of(fnwm)
    log = os.path.join(fnwm.tmp, "probe.log")
    w = fakeworkers.spawn("alive", log=log)
    doc = write_worker(wd, "alive", port=w.port, pid=w.pid)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await request_status(ws)
    assert active(st) == ["alive"] and inactive(st) == []
    e = st["active"][0]
    # The entry is the file's content with pid taken from the .p file.
    expected = dict(doc, pid=w.pid)
    assert e == expected
    assert os.path.exists(p_path(wd, "alive"))
    # The probe is exactly the FuncNodes identity request.
    reqs = [json.loads(r) for r in w.requests()]
    assert {"type": "cmd", "cmd": "uuid"} in reqs
    await ws.close()


async def test_probe_dials_loopback_for_wildcard_and_localhost(
        fnwm, fakeworkers):
    d, wd = workers_dir_of(fnwm)
    for uuid, host in (("wild", "0.0.0.0"), ("lh", "localhost"),
                       ("lit", "127.0.0.1")):
        w = fakeworkers.spawn(uuid)
        write_worker(wd, uuid, port=w.port, pid=w.pid, host=host)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await request_status(ws)
    assert active(st) == ["lh", "lit", "wild"]
    # host is reported as written, not as dialled.
    assert entry(st, "wild")[0]["host"] == "0.0.0.0"
    await ws.close()


async def test_live_pid_not_answering_is_inactive_and_p_kept(
        fnwm, fakeworkers, sleeper):
    d, wd = workers_dir_of(fnwm)
    silent = fakeworkers.spawn("silent", mode="silent")
    write_worker(wd, "silent", port=silent.port, pid=silent.pid)
    wrong = fakeworkers.spawn("wrong", mode="wrong")
    write_worker(wd, "wrong", port=wrong.port, pid=wrong.pid)
    closer = fakeworkers.spawn("closer", mode="close")
    write_worker(wd, "closer", port=closer.port, pid=closer.pid)
    # A live process with nothing listening on the worker's port (a
    # worker still starting up).
    s = sleeper()
    write_worker(wd, "starting", port=free_port(), pid=s.pid)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await request_status(ws, T(10))
    assert active(st) == []
    assert inactive(st) == ["closer", "silent", "starting", "wrong"]
    # The pid in the entry is the .p's.
    assert entry(st, "silent")[0]["pid"] == silent.pid
    assert entry(st, "starting")[0]["pid"] == s.pid
    # That reply waited for the first scan, probes included (the silent
    # one timed out after probe_reply_timeout): every decision is made,
    # and the .p files must all still be there.
    st = await request_status(ws)
    assert inactive(st) == ["closer", "silent", "starting", "wrong"]
    for uuid in ("silent", "wrong", "closer", "starting"):
        assert os.path.exists(p_path(wd, uuid)), uuid
    await ws.close()


async def test_dead_pid_p_is_removed_and_worker_inactive(fnwm):
    d, wd = workers_dir_of(fnwm)
    pid = dead_pid()
    doc = write_worker(wd, "dead", pid=pid, port=1)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await request_status(ws)
    assert active(st) == [] and inactive(st) == ["dead"]
    await async_wait_for(lambda: not os.path.exists(p_path(wd, "dead")),
                         T(5))
    # Without a .p the entry is the file's content as written.
    st = await request_status(ws)
    assert st["inactive"] == [doc]
    # The JSON itself is never touched.
    assert json.load(open(json_path(wd, "dead"))) == doc
    await ws.close()


async def test_reused_pid_p_is_removed(fnwm, sleeper):
    d, wd = workers_dir_of(fnwm)
    s = sleeper()  # started now
    write_worker(wd, "reused", pid=s.pid, port=1)
    # The .p was written long before that process started: its writer
    # is gone and the pid was recycled.
    old = time.time() - 3600
    os.utime(p_path(wd, "reused"), (old, old))
    m = fnwm.start(config_dir=d)
    await async_wait_for(lambda: not os.path.exists(p_path(wd, "reused")),
                         T(5))
    ws = await connect(m)
    st = await request_status(ws)
    assert inactive(st) == ["reused"]
    await ws.close()


async def test_orphaned_p_is_removed(fnwm, sleeper):
    d, wd = workers_dir_of(fnwm)
    s = sleeper()
    write_text(p_path(wd, "orphan_live"), str(s.pid))
    write_text(p_path(wd, "orphan_dead"), str(dead_pid()))
    write_text(p_path(wd, "orphan_junk"), "junk")
    m = fnwm.start(config_dir=d)
    for uuid in ("orphan_live", "orphan_dead", "orphan_junk"):
        await async_wait_for(lambda: not os.path.exists(p_path(wd, uuid)),
                             T(5), what=uuid)
    ws = await connect(m)
    assert await request_status(ws) == {"type": "worker_status",
                                        "active": [], "inactive": []}
    # An orphan appearing at run time is removed too.
    write_text(p_path(wd, "later"), str(s.pid))
    await async_wait_for(lambda: not os.path.exists(p_path(wd, "later")),
                         T(5))
    await ws.close()


async def test_unparsable_p_recent_kept_old_removed(fnwm):
    d, wd = workers_dir_of(fnwm)
    write_worker(wd, "junk_new", port=1)
    write_text(p_path(wd, "junk_new"), "not a pid")
    write_worker(wd, "junk_old", port=1)
    write_text(p_path(wd, "junk_old"), "not a pid")
    old = time.time() - 3600
    os.utime(p_path(wd, "junk_old"), (old, old))
    m = fnwm.start(config_dir=d)
    await async_wait_for(lambda: not os.path.exists(p_path(wd, "junk_old")),
                         T(5))
    ws = await connect(m)
    st = await request_status(ws)
    assert inactive(st) == ["junk_new", "junk_old"]
    # An unparsable .p makes the entry's pid null.
    assert entry(st, "junk_new")[0]["pid"] is None
    assert os.path.exists(p_path(wd, "junk_new"))
    # junk_old's entry carries the JSON's own pid again.
    assert entry(st, "junk_old")[0]["pid"] == 4242
    await ws.close()


async def test_port_that_hangs_up_before_the_handshake(fnwm, fakeworkers,
                                                       tmp_path):
    """A worker port that accepts and closes before answering the
    WebSocket upgrade: every probe of it ends with its connection (none
    outlives the connection lws freed, which the sanitized build would
    report), the worker is listed inactive, and the manager answers."""
    d = fnwm.new_dir(config={"fnwm": dict(FAST_CONFIG["fnwm"],
                                          probe_interval=0.3)})
    wd = os.path.join(d, "workers")
    os.makedirs(wd)
    log = str(tmp_path / "hangup.log")
    w = start_worker(fakeworkers, wd, "hangup", mode="hangup", log=log)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await request_status(ws)
    assert inactive(st) == ["hangup"]
    await async_wait_for(lambda: len(w.requests()) >= 5, T(10),
                         what="five probes hung up on")
    # Each one has ended: the next goes on, the manager lives and answers.
    assert m.alive()
    await ws.send("ping")
    # this client asked for worker_status: a broadcast may come first
    assert await recv_until(ws, lambda msg: msg == "pong") == "pong"
    await ws.close()


async def test_p_with_whitespace_is_parsed(fnwm, fakeworkers):
    d, wd = workers_dir_of(fnwm)
    w = fakeworkers.spawn("ws_pid")
    write_worker(wd, "ws_pid", port=w.port)
    write_text(p_path(wd, "ws_pid"), "  %d\n" % w.pid)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await request_status(ws)
    assert active(st) == ["ws_pid"]
    assert entry(st, "ws_pid")[0]["pid"] == w.pid
    await ws.close()


async def test_bad_json_files_skipped_not_deleted(fnwm):
    d, wd = workers_dir_of(fnwm)
    bad = {
        "corrupt": "{not json",
        "empty": "",
        "array": "[1, 2]",
        "string": '"worker"',
        "notype": json.dumps({"uuid": "notype", "name": "x"}),
        "typenum": json.dumps({"type": 1, "uuid": "typenum"}),
        "nouuid": json.dumps({"type": "WSWorker"}),
        "uuidnum": json.dumps({"type": "WSWorker", "uuid": 7}),
        "mismatch": json.dumps(worker_doc("someoneelse")),
        "nan": '{"type": "WSWorker", "uuid": "nan", "port": NaN}',
    }
    for uuid, text in bad.items():
        write_text(json_path(wd, uuid), text)
    good = write_worker(wd, "good", port=1)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await request_status(ws)
    assert st == {"type": "worker_status", "active": [], "inactive": [good]}
    for uuid, text in bad.items():
        with open(json_path(wd, uuid)) as f:
            assert f.read() == text, uuid
    assert "skipped" in m.log()
    assert m.alive()
    await ws.close()


async def test_unknown_keys_are_kept_verbatim(fnwm):
    d, wd = workers_dir_of(fnwm)
    doc = worker_doc("extra", port=1, custom={"nested": [1, 2.5, None, True],
                                               "s": "\u00e9\u2603"},
                     python_path="/opt/py", required_heartbeat=None,
                     workertype="WSWorker", big=12345678901234)
    write_worker(wd, "extra", doc=doc)
    minimal = {"type": "PlainWorker", "uuid": "minimal"}
    write_worker(wd, "minimal", doc=minimal)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await request_status(ws)
    assert entry(st, "extra") == (doc, "inactive")
    # Neither host nor port: inactive without a probe, nothing added.
    assert entry(st, "minimal") == (minimal, "inactive")
    await ws.close()


async def test_status_waits_for_first_scan(fnwm, fakeworkers):
    """worker_status sent before the first probes finished is answered
    after them, not with a premature list."""
    d = fnwm.new_dir(config={"fnwm": {"probe_reply_timeout": 5}})
    wd = os.path.join(d, "workers")
    os.makedirs(wd)
    w = fakeworkers.spawn("slow", delay=T(1.0))
    write_worker(wd, "slow", port=w.port, pid=w.pid)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    t0 = time.monotonic()
    await ws.send("worker_status")
    first = json.loads(await recv(ws, T(10)))
    assert is_status(first)
    assert active(first) == ["slow"], first
    # It really waited for the slow probe.
    assert time.monotonic() - t0 >= T(1.0) * 0.5
    await ws.close()


async def test_broadcast_before_result_still_counts(fnwm, fakeworkers):
    d, wd = workers_dir_of(fnwm)
    w = fakeworkers.spawn("chatty", pre=5)
    write_worker(wd, "chatty", port=w.port, pid=w.pid)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await request_status(ws)
    assert active(st) == ["chatty"]
    await ws.close()


async def test_new_worker_file_is_broadcast_quickly(manager, fakeworkers):
    ws = await connect(manager)
    assert (await request_status(ws))["inactive"] == []
    wd = manager.workers_dir
    t0 = time.monotonic()
    doc = write_worker(wd, "fresh", port=1)
    st = await wait_status(ws, lambda s: entry(s, "fresh")[0] is not None,
                           T(3))
    assert time.monotonic() - t0 < T(1.0)
    assert st["inactive"] == [doc]
    # A running worker (JSON + .p + answering) shows up active.
    w = fakeworkers.spawn("runner")
    t0 = time.monotonic()
    write_worker(wd, "runner", port=w.port, pid=w.pid)
    st = await wait_status(ws, lambda s: "runner" in active(s), T(3))
    assert time.monotonic() - t0 < T(1.5)
    assert entry(st, "runner")[0]["pid"] == w.pid
    await ws.close()


async def test_killed_worker_goes_inactive_quickly(manager, fakeworkers):
    wd = manager.workers_dir
    w = start_worker(fakeworkers, wd, "victim")
    ws = await connect(manager)
    await request_status(ws)
    await wait_status(ws, lambda s: active(s) == ["victim"], T(5), poll=True)
    t0 = time.monotonic()
    w.kill()
    st = await wait_status(ws, lambda s: "victim" in inactive(s), T(5))
    # pidfd: well before the periodic re-probe (10 s).
    assert time.monotonic() - t0 < T(1.0)
    assert active(st) == []
    # Its pid is provably dead now: the .p goes.
    await async_wait_for(lambda: not os.path.exists(p_path(wd, "victim")),
                         T(3))
    await ws.close()


async def test_half_written_json_appears_when_completed(manager):
    wd = manager.workers_dir
    ws = await connect(manager)
    await request_status(ws)
    doc = worker_doc("half", port=1)
    text = json.dumps(doc)
    # Written in place in two steps, as a non-atomic writer would.
    with open(json_path(wd, "half"), "w") as f:
        f.write(text[: len(text) // 2])
    # A marker written after it proves the half file has been looked at.
    write_worker(wd, "marker", port=1)
    st = await wait_status(ws, lambda s: "marker" in inactive(s), T(3),
                           poll=True)
    assert entry(st, "half") == (None, None)
    with open(json_path(wd, "half"), "a") as f:
        f.write(text[len(text) // 2:])
    st = await wait_status(ws, lambda s: entry(s, "half")[0] is not None,
                           T(3))
    assert entry(st, "half") == (doc, "inactive")
    await ws.close()


async def test_corrupted_rewrite_keeps_last_good_entry(manager):
    wd = manager.workers_dir
    doc = write_worker(wd, "rw", port=1)
    ws = await connect(manager)
    await wait_status(ws, lambda s: "rw" in inactive(s), T(3), poll=True)
    write_text(json_path(wd, "rw"), '{"type": "WSWorker", "uu')
    write_worker(wd, "marker", port=1)
    st = await wait_status(ws, lambda s: "marker" in inactive(s), T(3),
                           poll=True)
    assert entry(st, "rw") == (doc, "inactive")
    doc2 = write_worker(wd, "rw", port=1, name="renamed")
    st = await wait_status(
        ws, lambda s: (entry(s, "rw")[0] or {}).get("name") == "renamed",
        T(3))
    assert entry(st, "rw") == (doc2, "inactive")
    await ws.close()


async def test_mismatched_uuid_written_at_runtime_skipped(manager):
    wd = manager.workers_dir
    ws = await connect(manager)
    await request_status(ws)
    write_text(json_path(wd, "mm"), json.dumps(worker_doc("not_mm")))
    write_worker(wd, "marker", port=1)
    st = await wait_status(ws, lambda s: "marker" in inactive(s), T(3),
                           poll=True)
    assert uuids(st["active"] + st["inactive"]) == ["marker"]
    assert os.path.exists(json_path(wd, "mm"))
    await ws.close()


async def test_deleted_json_disappears_and_p_removed(manager, fakeworkers):
    wd = manager.workers_dir
    w = start_worker(fakeworkers, wd, "gone")
    ws = await connect(manager)
    await wait_status(ws, lambda s: active(s) == ["gone"], T(5), poll=True)
    os.unlink(json_path(wd, "gone"))
    st = await wait_status(ws, lambda s: entry(s, "gone")[0] is None, T(3))
    assert st["active"] == [] and st["inactive"] == []
    # The .p is now an orphan (no JSON) and goes, live pid or not.
    await async_wait_for(lambda: not os.path.exists(p_path(wd, "gone")),
                         T(3))
    assert w.proc.poll() is None  # the master never kills workers
    await ws.close()


async def test_worker_becoming_reachable_turns_active(manager, fakeworkers,
                                                      sleeper):
    """A worker that is starting (live pid in .p, nothing on its port yet)
    is inactive with its .p kept; once it binds and rewrites its JSON with
    the real port it is active."""
    wd = manager.workers_dir
    s = sleeper()
    write_worker(wd, "boot", port=free_port(), pid=s.pid)
    ws = await connect(manager)
    await wait_status(ws, lambda s_: "boot" in inactive(s_), T(5), poll=True)
    assert os.path.exists(p_path(wd, "boot"))
    w = fakeworkers.spawn("boot")
    write_worker(wd, "boot", port=w.port)
    write_text(p_path(wd, "boot"), str(w.pid))
    st = await wait_status(ws, lambda s_: "boot" in active(s_), T(3))
    assert entry(st, "boot")[0]["port"] == w.port
    await ws.close()


async def test_periodic_reprobe_notices_worker_answering_later(
        fnwm, fakeworkers):
    """No file changes: only the periodic re-probe can notice."""
    # (probe_interval stays above the probe's deadline: a re-probe asked
    # for while one runs follows it at once, which would delay the first
    # scan's end.)
    d = fnwm.new_dir(config={"fnwm": {"probe_interval": 0.5,
                                      "probe_reply_timeout": 0.2,
                                      "debounce": 0.02}})
    wd = os.path.join(d, "workers")
    w = fakeworkers.spawn("late", answer_after=T(1.5))
    write_worker(wd, "late", port=w.port, pid=w.pid)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await request_status(ws)
    assert inactive(st) == ["late"], st
    st = await wait_status(ws, lambda s: active(s) == ["late"], T(6))
    assert inactive(st) == []
    await ws.close()


async def test_unchanged_lists_are_not_rebroadcast(fnwm, fakeworkers):
    d = fnwm.new_dir(config={"fnwm": {"probe_interval": 0.2,
                                      "debounce": 0.02}})
    wd = os.path.join(d, "workers")
    start_worker(fakeworkers, wd, "steady")
    m = fnwm.start(config_dir=d)
    # Connect after the first scan so that its broadcast is out already.
    await m.async_wait_log(r"workers known")
    ws = await connect(m)
    st = await request_status(ws)
    assert active(st) == ["steady"]
    # Several re-probes (0.2 s apart) happen, each finding the same.
    await no_frame(ws, 1.0)
    await ws.close()


async def test_many_workers(fnwm):
    d, wd = workers_dir_of(fnwm)
    docs = {}
    for i in range(300):
        uuid = "w%03d" % i
        docs[uuid] = write_worker(wd, uuid, port=1)
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await request_status(ws, T(10))
    assert inactive(st) == sorted(docs)
    assert {e["uuid"]: e for e in st["inactive"]} == docs
    for i in range(0, 300, 3):
        os.unlink(json_path(wd, "w%03d" % i))
    st = await wait_status(ws, lambda s: len(s["inactive"]) == 200, T(5))
    assert inactive(st) == sorted(u for i, u in enumerate(sorted(docs))
                                  if i % 3)
    await ws.close()
