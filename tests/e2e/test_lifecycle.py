"""Start-up, shutdown and configuration of the master process."""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess

import pytest
import websockets

from conftest import (EXIT_PERMANENT, EXIT_USAGE, T, async_wait_for,
                      connect, free_port, recv, recv_json, request_status,
                      wait_for, worker_doc, write_text, write_worker)

PROGRESS_STOP = {"type": "progress", "message": "Stopping worker manager.",
                 "status": "info", "progress": 1.0, "blocking": False}


async def closed_with(ws, timeout=None):
    """Waits for the server to close ws; returns the close code."""
    try:
        while True:
            await recv(ws, timeout or T(5))
    except websockets.ConnectionClosed:
        pass
    return ws.close_code


async def test_stop_progress_then_1001_to_everyone_and_exit_0(manager):
    requester = await connect(manager)
    subscribed = await connect(manager)
    await request_status(subscribed)
    fresh = await connect(manager)  # never sent anything
    pinged = await connect(manager)
    await pinged.send("ping")
    assert await recv(pinged) == "pong"

    await requester.send("stop")
    msg = await recv_json(requester)
    assert msg == PROGRESS_STOP
    assert await closed_with(requester) == 1001
    for ws in (subscribed, fresh, pinged):
        assert await closed_with(ws) == 1001
    assert requester.close_reason == "Server shutdown"
    assert await manager.async_wait_exit(T(5)) == 0
    # The port is closed.
    with pytest.raises(OSError):
        await connect(manager, open_timeout=T(2))


async def test_stop_sent_as_second_message(manager):
    ws = await connect(manager)
    await ws.send("ping")
    await ws.send("stop")
    assert await recv(ws) == "pong"
    assert await recv_json(ws) == PROGRESS_STOP
    assert await closed_with(ws) == 1001
    assert await manager.async_wait_exit(T(5)) == 0


@pytest.mark.parametrize("how", ["write", "rename"])
async def test_kill_file_stops_and_is_deleted(manager, how):
    ws = await connect(manager)
    await request_status(ws)
    kill = os.path.join(manager.config_dir, "kill_worker_manager")
    if how == "write":
        write_text(kill, "please")
    else:
        write_text(kill + ".tmp", "")
        os.rename(kill + ".tmp", kill)
    assert await closed_with(ws) == 1001
    assert await manager.async_wait_exit(T(5)) == 0
    assert not os.path.exists(kill)


async def test_stale_kill_file_at_start_is_removed(fnwm):
    d = fnwm.new_dir()
    kill = os.path.join(d, "kill_worker_manager")
    write_text(kill, "")
    m = fnwm.start(config_dir=d)
    wait_for(lambda: not os.path.exists(kill), T(5))
    ws = await connect(m)
    await ws.send("ping")
    assert await recv(ws) == "pong"
    assert m.alive()
    # A kill file made now does stop it.
    write_text(kill, "")
    assert await m.async_wait_exit(T(5)) == 0
    assert not os.path.exists(kill)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_stops_with_0(manager, sig):
    ws = await connect(manager)
    await ws.send("ping")
    assert await recv(ws) == "pong"
    manager.signal(sig)
    assert await closed_with(ws) == 1001
    assert await manager.async_wait_exit(T(5)) == 0


async def test_sighup_does_not_stop(manager):
    manager.signal(signal.SIGHUP)
    await manager.async_wait_log(r"configuration reloaded|reload refused|"
                                 r"SIGHUP")
    ws = await connect(manager)
    await ws.send("ping")
    assert await recv(ws) == "pong"
    assert manager.alive()
    await ws.close()


async def test_second_manager_same_dir_exits_100(fnwm):
    first = fnwm.start()
    rc, log = fnwm.run(["startworkermanager", "--dir", first.config_dir,
                        "--port", "0"])
    assert rc == EXIT_PERMANENT
    assert "another manager" in log
    assert "pid %d" % first.pid in log
    # The first one is unaffected.
    ws = await connect(first)
    await ws.send("ping")
    assert await recv(ws) == "pong"
    await ws.close()


async def test_lock_is_released_after_stop(fnwm):
    first = fnwm.start()
    d = first.config_dir
    ws = await connect(first)
    await ws.send("stop")
    assert await first.async_wait_exit(T(5)) == 0
    second = fnwm.start(config_dir=d)
    ws = await connect(second)
    await ws.send("ping")
    assert await recv(ws) == "pong"
    await ws.close()


async def test_busy_port_exits_100(fnwm):
    first = fnwm.start(args=["--host", "127.0.0.1"])
    rc, log = fnwm.run(["startworkermanager", "--dir", fnwm.new_dir(),
                        "--host", "127.0.0.1", "--port", str(first.port)])
    assert rc == EXIT_PERMANENT
    assert str(first.port) in log
    # A port held by some other program.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        port = s.getsockname()[1]
        rc, log = fnwm.run(["startworkermanager", "--dir", fnwm.new_dir(),
                            "--host", "127.0.0.1", "--port", str(port)])
        assert rc == EXIT_PERMANENT, log
        assert "listening on" not in log
    finally:
        s.close()
    assert first.alive()


HOLDER = r"""
import fcntl, socket, sys, time
what, lock, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
held = []
if what in ("lock", "both"):
    f = open(lock, "a+")
    fcntl.flock(f, fcntl.LOCK_EX)
    held.append(f)
if what in ("port", "both"):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    held.append(s)
print("held", flush=True)
time.sleep(float(sys.argv[4]))
"""


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@pytest.mark.parametrize("what", ["lock", "port", "both"])
async def test_successor_of_killed_manager_waits_for_its_children(fnwm, what):
    # A manager killed between a fork and its child's exec leaves that
    # child holding the lock and the port for a moment: the lock file
    # still names the dead manager. Its successor waits that moment out.
    d = fnwm.new_dir()
    lock = os.path.join(d, "fnwm-manager.lock")
    write_text(lock, "%d\n" % dead_pid())
    port = free_port()
    holder = subprocess.Popen(
        ["/usr/bin/python3", "-c", HOLDER, what, lock, str(port), "0.5"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        m = fnwm.start(config_dir=d, port=port,
                       args=["--host", "127.0.0.1"])
        assert holder.wait(T(5)) == 0  # it let go; nobody killed it
        ws = await connect(m)
        await ws.send("ping")
        assert await recv(ws) == "pong"
        await ws.close()
        with open(lock) as f:
            assert f.read().strip() == str(m.pid)
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------------------
# config dir resolution


async def assert_serves_workers_of(m, config_dir):
    """m lists exactly the marker worker of config_dir."""
    ws = await connect(m)
    st = await request_status(ws)
    assert [e["uuid"] for e in st["inactive"]] == [
        "marker_" + os.path.basename(config_dir)], st
    await ws.close()


def put_marker(config_dir):
    write_worker(os.path.join(config_dir, "workers"),
                 "marker_" + os.path.basename(config_dir), port=1)


@pytest.mark.parametrize("where", ["global", "command"])
async def test_dir_option_positions(fnwm, where):
    d = os.path.join(fnwm.tmp, "fresh", "nested")  # does not exist yet
    if where == "global":
        args = ["--dir", d, "startworkermanager", "--port", "0"]
    else:
        args = ["startworkermanager", "--dir", d, "--port", "0"]
    m = fnwm.spawn(args, config_dir=d)
    m.ready()
    wd = os.path.join(d, "workers")
    assert os.path.isdir(wd)
    assert stat.S_IMODE(os.stat(wd).st_mode) & 0o077 == 0
    put_marker(d)
    ws = await connect(m)
    await async_wait_for(
        lambda: _listed(ws, "marker_nested"), T(5))
    await ws.close()


async def _listed(ws, uuid):
    st = await request_status(ws)
    return any(e["uuid"] == uuid for e in st["inactive"] + st["active"])


async def test_env_config_dir(fnwm):
    d = fnwm.new_dir("envdir")
    put_marker(d)
    m = fnwm.spawn(["startworkermanager", "--port", "0"],
                   extra_env={"FUNCNODES_CONFIG_DIR": d})
    m.ready()
    await assert_serves_workers_of(m, d)


async def test_dir_option_beats_env(fnwm):
    e = fnwm.new_dir("envdir")
    d = fnwm.new_dir("optdir")
    put_marker(d)
    m = fnwm.spawn(["--dir", d, "startworkermanager", "--port", "0"],
                   extra_env={"FUNCNODES_CONFIG_DIR": e})
    m.ready()
    await assert_serves_workers_of(m, d)
    assert not os.path.exists(os.path.join(e, "workers"))


async def test_home_default(fnwm):
    home = fnwm.new_dir("home")
    base = os.path.join(home, ".funcnodes")
    put_marker(base)
    env = {k: v for k, v in os.environ.items()
           if k != "FUNCNODES_CONFIG_DIR"}
    env["HOME"] = home
    m = fnwm.spawn(["startworkermanager", "--port", "0"], env=env)
    m.ready()
    await assert_serves_workers_of(m, base)
    assert os.path.exists(os.path.join(base, "fnwm-manager.lock"))


async def test_relative_dir_is_made_absolute(fnwm):
    cwd = fnwm.new_dir("cwd")
    m = fnwm.spawn(["--dir", "rel/../relcfg", "startworkermanager",
                    "--port", "0"], cwd=cwd)
    m.ready()
    d = os.path.join(cwd, "relcfg")
    assert os.path.isdir(os.path.join(d, "workers"))
    assert "config dir %s" % d in m.log()
    put_marker(d)
    ws = await connect(m)
    await async_wait_for(lambda: _listed(ws, "marker_relcfg"), T(5))
    await ws.close()


async def test_config_json_port_and_host(fnwm):
    port = free_port()
    d = fnwm.new_dir(config={"worker_manager": {"host": "127.0.0.1",
                                                "port": port}})
    m = fnwm.start(config_dir=d, port=None)
    assert m.port == port
    ws = await connect(m)
    await ws.send("ping")
    assert await recv(ws) == "pong"
    await ws.close()
    # --port overrides it.
    d2 = fnwm.new_dir(config={"worker_manager": {"port": port}})
    m2 = fnwm.start(config_dir=d2, port=0)
    assert m2.port != port


async def test_config_json_bu_fallback(fnwm):
    port = free_port()
    d = fnwm.new_dir()
    write_text(os.path.join(d, "config.json"), "{broken")
    write_text(os.path.join(d, "config.json.bu"),
               json.dumps({"worker_manager": {"port": port}}))
    m = fnwm.start(config_dir=d, port=None)
    assert m.port == port


async def test_custom_config_dir(fnwm):
    custom = os.path.join(fnwm.tmp, "custom")  # created by the manager
    port = free_port()
    base = fnwm.new_dir("base", config={"custom_config_dir": custom,
                                        "worker_manager": {"port": 1}})
    os.makedirs(custom)
    write_text(os.path.join(custom, "config.json"),
               json.dumps({"worker_manager": {"port": port}}))
    put_marker(custom)
    m = fnwm.start(config_dir=base, port=None)
    # The custom dir's config.json is the one that counts.
    assert m.port == port
    await assert_serves_workers_of(m, custom)
    assert not os.path.exists(os.path.join(base, "workers"))
    # The kill file belongs in the custom dir too.
    write_text(os.path.join(base, "kill_worker_manager"), "")
    write_text(os.path.join(custom, "kill_worker_manager"), "")
    assert await m.async_wait_exit(T(5)) == 0
    assert not os.path.exists(os.path.join(custom, "kill_worker_manager"))
    assert os.path.exists(os.path.join(base, "kill_worker_manager"))


@pytest.mark.parametrize("config", [
    {"worker_manager": {"port": "nine"}},
    {"worker_manager": {"port": 70000}},
    {"worker_manager": {"host": 5}},
    {"fnwm": {"max_message_size": 10}},
    {"fnwm": {"client_queue_bytes": "big"}},
    {"fnwm": {"probe_interval": 0}},
    {"fnwm": {"allowed_origins": "http://x"}},
    {"fnwm": {"allowed_origins": [1]}},
], ids=lambda c: json.dumps(c))
def test_bad_config_exits_100(fnwm, config):
    d = fnwm.new_dir(config=config)
    rc, log = fnwm.run(["startworkermanager", "--dir", d, "--port", "0"])
    assert rc == EXIT_PERMANENT
    key = list(list(config.values())[0])[0]
    assert key in log
    assert "listening on" not in log


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["startworkermanager", "--port", "abc"],
    ["startworkermanager", "--port", "65536"],
    ["startworkermanager", "--no-such-option"],
    ["startworkermanager", "extra"],
    ["--no-such-global", "startworkermanager"],
], ids=lambda a: " ".join(a) or "none")
def test_usage_errors_exit_2(fnwm, args):
    rc, log = fnwm.run(args, extra_env={
        "FUNCNODES_CONFIG_DIR": fnwm.new_dir()})
    assert rc == EXIT_USAGE
    assert "listening on" not in log


def test_version_and_help(fnwm):
    rc, log = fnwm.run(["--version"])
    assert rc == 0 and log.startswith("fnwm ")
    rc, log = fnwm.run(["--help"])
    assert rc == 0 and "startworkermanager" in log


async def test_python_option_reported_by_identify(fnwm):
    m = fnwm.start(args=["--python", "/usr/bin/python3"])
    ws = await connect(m)
    await ws.send("identify")
    assert (await recv_json(ws))["py"] == "/usr/bin/python3"
    await ws.close()
    m2 = fnwm.start(extra_env={"FUNCNODES_PYTHON": "/opt/none/python9"})
    ws = await connect(m2)
    await ws.send("identify")
    assert (await recv_json(ws))["py"] == "/opt/none/python9"
    await ws.close()


async def test_workers_dir_removed_while_running(manager):
    """The workers dir is re-created and watched again."""
    wd = manager.workers_dir
    write_worker(wd, "before", port=1)
    ws = await connect(manager)
    await async_wait_for(lambda: _listed(ws, "before"), T(5))
    shutil.rmtree(wd)
    await async_wait_for(lambda: os.path.isdir(wd), T(5))
    write_worker(wd, "after", port=1)
    st = await async_wait_for(lambda: _status_if(ws, "after"), T(5))
    assert [e["uuid"] for e in st["inactive"]] == ["after"]
    await ws.close()


async def _status_if(ws, uuid):
    st = await request_status(ws)
    if any(e["uuid"] == uuid for e in st["inactive"] + st["active"]):
        return st
    return None


async def test_connection_during_startup_is_served(fnwm):
    """An auto-starting client connects as soon as the port accepts, while
    the master may still be scanning a big workers dir. Its ping (no
    subprotocol named, like every FuncNodes client) must be answered."""
    d = fnwm.new_dir()
    wd = os.path.join(d, "workers")
    os.makedirs(wd)
    for i in range(1000):
        write_text(os.path.join(wd, "worker_w%04d.json" % i),
                   json.dumps(worker_doc("w%04d" % i, port=1)))
    for attempt in range(2):
        port = free_port()
        m = fnwm.spawn(["startworkermanager", "--dir", d, "--host",
                        "127.0.0.1", "--port", str(port)], config_dir=d)
        ws = await async_wait_for(lambda: _try_connect(port), T(10),
                                  interval=0.001)
        await ws.send("ping")
        assert await recv(ws, T(3)) == "pong", "attempt %d" % attempt
        await ws.send("identify")
        assert (await recv_json(ws))["class"] == "WorkerManager"
        await ws.close()
        m.signal(signal.SIGTERM)
        assert await m.async_wait_exit(T(10)) == 0


async def _try_connect(port):
    try:
        return await websockets.connect(
            "ws://127.0.0.1:%d/" % port, compression=None,
            ping_interval=None, open_timeout=T(5))
    except OSError:
        return None
