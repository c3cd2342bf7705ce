"""Worker operations against the spec's transcripts (§3.5.5-3.5.9):
new_worker, set_active, stop_worker, restart_worker, delete_worker, run
with the FuncNodes test double as the worker."""
import os

from workers_util import harness  # noqa: F401 (the fixture)
from workers_util import (T, async_wait_for, is_event, is_progress,
                          is_reset, is_type, monitor_pids, pid_alive,
                          progress_line, read_json, replies, short,
                          wait_gone, wait_worker_pids, worker_pids)

RUNSTATES = ["starting - Loading packages", "starting - Loading config",
             "starting - Loading nodespace", "running"]


def check_activation(tr, uuid, started):
    """The set_active transcript of §3.5.6, broadcasts left out:
    Activating 0.1, [Starting 0.4], Contacting 0.5, runstate texts at 0.5
    (in life order, each once, never removed/stopped), set_worker, reset.
    Returns the set_worker data."""
    lines = [progress_line(m) for m in replies(tr)]
    assert lines[0] == ("Activating worker.", 0.1, True), short(lines)
    i = 1
    if started:
        assert lines[i] == ("Starting worker.", 0.4, True), short(lines)
        i += 1
    else:
        assert ("Starting worker.", 0.4, True) not in lines, short(lines)
    assert lines[i] == ("Contacting worker.", 0.5, True), short(lines)
    i += 1
    seen = []
    while isinstance(lines[i], tuple):
        text, p, blocking = lines[i]
        assert p == 0.5, short(lines)
        assert text in RUNSTATES, "unexpected progress %r in %s" % (
            text, short(lines))
        seen.append(text)
        i += 1
    # No repeats, and in the order of a worker's life.
    assert seen == sorted(set(seen), key=RUNSTATES.index), short(lines)
    assert lines[i:] == ["set_worker", ("", 1, False)], short(lines)
    data = replies(tr)[i]["data"]
    assert data["uuid"] == uuid
    return data


def test_new_worker_transcript_and_broadcast(harness):
    async def body():
        h = harness.start()
        a = await h.client("A")
        b = await h.client("B")
        fresh = await h.client("fresh", subscribe=False)
        await fresh.send("ping")
        await fresh.wait(lambda m: m == "pong", T(5))
        mb = b.mark()
        uuid, tr = await h.new_worker(a, name="demo")
        lines = [progress_line(m) for m in replies(tr)]
        assert lines == [("Writing configuration.", 0.9, True),
                         ("Creating new worker.", 1.0, True),
                         "worker_created", ("", 1, False)], short(lines)
        assert tr[2] == {"type": "worker_created", "uuid": uuid}
        # Progress is broadcast, worker_created is for the requester only.
        i = await b.wait(is_reset, T(5), mb)
        got = [progress_line(m) for m in replies(b.msgs[mb:i + 1])]
        assert got == [("Writing configuration.", 0.9, True),
                       ("Creating new worker.", 1.0, True),
                       ("", 1, False)], short(got)
        # ... followed by a status broadcast listing it as inactive.
        for c, m in ((a, 0), (b, mb)):
            await c.wait(lambda x: is_type("worker_status")(x) and uuid in
                         [e["uuid"] for e in x["inactive"]], T(5), m,
                         "status with the new worker")
        # A client that only pinged gets nothing unsolicited.
        assert fresh.msgs == ["pong"], short(fresh.msgs)

        doc = read_json(h.path(uuid, ".json"))
        assert doc["type"] == "WSWorker"
        assert doc["uuid"] == uuid and doc["name"] == "demo"
        assert doc["data_path"] is None and doc["env_path"] is None
        assert doc["pid"] is None and doc["ssl"] is False
        assert doc["host"] == "127.0.0.1"
        assert doc["port"] == h.startport
        assert doc["update_on_startup"] == {
            "funcnodes": True, "funcnodes-core": True,
            "funcnodes-worker": True}
        assert doc["package_dependencies"] == {}
        assert doc["worker_dependencies"] == {}
        assert os.stat(h.path(uuid, ".json")).st_mode & 0o077 == 0
        assert os.path.isdir(h.data_dir(uuid))
        assert worker_pids(uuid) == []
    harness.run(body())


def test_new_worker_reset_spares_a_client_mid_operation(harness):
    """new_worker's broadcast reset would read as the end of another
    client's stop_worker: a client with an operation under way does not get
    it; an idle one does."""
    async def body():
        # Time enough for a creation while the worker ignores its stop.
        h = harness.start(fnwm={"stop_timeout": 4})
        a = await h.client("A")
        b = await h.client("B")
        idle = await h.client("idle")
        uuid, pid = await h.running_worker(
            b, test_behaviour={"ignore_stop": True})
        mb = b.mark()
        await b.send({"type": "stop_worker", "workerid": uuid})
        await b.wait(lambda x: is_progress(x) and
                     x["message"] == "Stopping worker.", T(5), mb)
        # The worker ignores its stop command: the monitor waits 4 s
        # before SIGTERM, and meanwhile A creates a worker.
        mi = idle.mark()
        await h.new_worker(a)
        await idle.wait(is_reset, T(5), mi, "the broadcast reset")
        assert pid_alive(pid), "the stop ended too soon for this test"
        i = await b.wait(is_reset, T(20), mb)
        # B saw the creation's progress, but its reset only when its own
        # stop had ended: after the worker was gone.
        assert not pid_alive(pid)
        lines = [progress_line(m) for m in replies(b.msgs[mb:i + 1])]
        assert lines[0] == ("Stopping worker.", 0.1, True), short(lines)
        assert ("Creating new worker.", 1.0, True) in lines, short(lines)
        assert lines.count(("", 1, False)) == 1, short(lines)
    harness.run(body())


def test_set_active_transcript(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        other = await h.client("other")
        uuid = await h.created_worker(c)
        mo = other.mark()
        tr, last = await h.set_active(c, uuid)
        data = check_activation(tr, uuid, started=True)
        pids = await wait_worker_pids(uuid, 1)
        assert data["pid"] == pids[0]
        assert data["port"] != 0 and data["host"] == "127.0.0.1"
        assert data == read_json(h.path(uuid, ".json"))
        # Progress and set_worker went to the requester only; the other
        # client saw broadcasts: the worker's events, then the status.
        assert [m for m in other.msgs[mo:] if not
                (is_type("worker_status")(m) or
                 is_type("worker_event")(m))] == []
        await other.wait(is_event(uuid, "starting"), T(5), mo)
        await other.wait(lambda x: is_type("worker_status")(x) and uuid in
                         [e["uuid"] for e in x["active"]], T(10), mo,
                         "status with the worker active")
        assert len(monitor_pids(uuid)) == 1
    harness.run(body())


def test_set_active_unknown_worker(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        tr, last = await h.set_active(c, "nosuchworker")
        assert [progress_line(m) for m in replies(tr)] == [
            ("Activating worker.", 0.1, True), "error", ("", 1, False)]
        assert last == {"type": "error",
                        "message": "Worker with id nosuchworker not found."}
        assert monitor_pids("nosuchworker") == []
        assert not os.path.exists(h.path("nosuchworker", ".json"))
    harness.run(body())


def test_set_active_on_active_worker_is_cheap(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        uuid, pid = await h.running_worker(c)
        for _ in range(3):
            tr, last = await h.set_active(c, uuid, timeout=T(1.5))
            data = check_activation(tr, uuid, started=False)
            assert data["pid"] == pid
            assert worker_pids(uuid) == [pid]
        assert len(monitor_pids(uuid)) == 1
    harness.run(body())


def test_stop_worker_transcript(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        other = await h.client("other")
        uuid, pid = await h.running_worker(c)
        mo = other.mark()
        tr = await h.stop_worker(c, uuid, timeout=T(10))
        assert [progress_line(m) for m in replies(tr)] == [
            ("Stopping worker.", 0.1, True), ("", 1, False)], short(tr)
        await wait_gone([pid], T(5), "the worker")
        assert worker_pids(uuid) == []
        # Broadcasts: stopping, then down (a clean exit), and a status
        # with the worker inactive.
        await other.wait(is_event(uuid, "stopping"), T(5), mo)
        i = await other.wait(is_event(uuid, "down"), T(10), mo)
        ev = other.msgs[i]
        assert ev["pid"] is None and ev["last_exit"] == {"code": 0,
                                                        "signal": None}
        await other.wait(lambda x: is_type("worker_status")(x) and uuid in
                         [e["uuid"] for e in x["inactive"]] and uuid not in
                         [e["uuid"] for e in x["active"]], T(10), mo,
                         "status with the worker inactive")
        await wait_gone(monitor_pids(uuid), T(10), "the monitor")
        # The worker stopped in order: .p gone, its state saved.
        assert not os.path.exists(h.path(uuid, ".p"))
        assert os.path.exists(os.path.join(h.data_dir(uuid),
                                           "nodespace.json"))
        # It can be started again; a stale "stopped" is not relayed.
        tr, last = await h.set_active(c, uuid)
        data = check_activation(tr, uuid, started=True)
        assert data["pid"] != pid and pid_alive(data["pid"])
        assert worker_pids(uuid) == [data["pid"]]
    harness.run(body())


def test_stop_worker_not_running(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        uuid = await h.created_worker(c)
        tr = await h.stop_worker(c, uuid, timeout=T(5))
        assert [progress_line(m) for m in replies(tr)] == [
            ("Stopping worker.", 0.1, True), ("", 1, False)], short(tr)
        assert worker_pids(uuid) == []
    harness.run(body())


def test_restart_worker_transcript_new_pid_each_time(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        uuid, pid = await h.running_worker(c)
        pids = [pid]
        for _ in range(3):
            tr, last = await h.op(
                c, "restart_worker", uuid,
                lambda x: is_type("set_worker")(x) or is_type("error")(x),
                T(30))
            lines = [progress_line(m) for m in replies(tr)]
            assert lines[:2] == [("Stopping worker.", 0.1, True),
                                 ("", 1, False)], short(lines)
            data = check_activation(replies(tr)[2:], uuid, started=False)
            assert data["pid"] not in pids, (data["pid"], pids)
            assert not [p for p in pids if pid_alive(p)], pids
            assert worker_pids(uuid) == [data["pid"]]
            pids.append(data["pid"])
        assert len(monitor_pids(uuid)) == 1
    harness.run(body())


def test_restart_worker_not_running_starts_it(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        uuid = await h.created_worker(c)
        tr, last = await h.op(
            c, "restart_worker", uuid,
            lambda x: is_type("set_worker")(x) or is_type("error")(x), T(30))
        assert last["type"] == "set_worker", short(tr)
        assert worker_pids(uuid) == [last["data"]["pid"]]
    harness.run(body())


def test_delete_running_worker_leaves_nothing(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        other = await h.client("other")
        uuid, pid = await h.running_worker(c)
        keep = await h.created_worker(c)   # an unrelated worker stays
        mon = monitor_pids(uuid)
        assert len(mon) == 1
        mo = other.mark()
        tr, last = await h.op(c, "delete_worker", uuid,
                              is_type("worker_deleted"), T(30))
        assert [progress_line(m) for m in replies(tr)] == [
            ("Deleting worker...", 0.1, True),
            ("Stopping worker.", 0.1, True), ("", 1, False),
            ("Removing files...", 0.6, True),
            ("Worker deleted.", 1.0, True),
            "worker_deleted", ("", 1, False)], short(tr)
        assert last == {"type": "worker_deleted", "uuid": uuid}
        # Nothing left: files, data dir, processes.
        assert h.files_of(uuid) == []
        assert not os.path.exists(h.data_dir(uuid))
        assert not pid_alive(pid)
        assert worker_pids(uuid) == []
        await wait_gone(mon, T(5), "the monitor")
        # Every client gets a status without it; the other worker stays.
        for cl, m in ((c, 0), (other, mo)):
            i = await cl.wait(lambda x: is_type("worker_status")(x) and
                              uuid not in [e["uuid"] for e in
                                           x["active"] + x["inactive"]],
                              T(5), max(m, len(cl.msgs) - len(tr)),
                              "status without the deleted worker")
            assert keep in [e["uuid"] for e in cl.msgs[i]["inactive"]]
        assert os.path.exists(h.path(keep, ".json"))
        # A worker with that id is unknown now.
        tr, last = await h.set_active(c, uuid)
        assert last["message"] == "Worker with id %s not found." % uuid
    harness.run(body())


def test_delete_inactive_worker_transcript(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        uuid = await h.created_worker(c)
        tr, last = await h.op(c, "delete_worker", uuid,
                              is_type("worker_deleted"), T(10))
        assert [progress_line(m) for m in replies(tr)] == [
            ("Deleting worker...", 0.1, True),
            ("Removing files...", 0.6, True),
            ("Worker deleted.", 1.0, True),
            "worker_deleted", ("", 1, False)], short(tr)
        assert h.files_of(uuid) == []
        assert os.listdir(h.workers_dir) == []
    harness.run(body())


def test_delete_unknown_worker(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        m = c.mark()
        await c.send({"type": "delete_worker", "workerid": "nosuch"})
        i = await c.wait(is_type("error"), T(5), m)
        assert c.msgs[i] == {"type": "error",
                             "message": "Worker nosuch not found"}
        assert [x for x in c.msgs[m:i] if is_progress(x)] == []
    harness.run(body())


def test_worker_output_goes_to_worker_log(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        uuid, pid = await h.running_worker(c)
        log = os.path.join(h.data_dir(uuid), "worker.log")

        def logged():
            try:
                with open(log) as f:
                    text = f.read()
            except OSError:
                return False
            return "WebSocket server running" in text and uuid in text
        await async_wait_for(logged, T(5), "the worker's output in " + log)
        # Nothing of it in the manager's own stderr.
        assert "WebSocket server running" not in h.log()
    harness.run(body())
