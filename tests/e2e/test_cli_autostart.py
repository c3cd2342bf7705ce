"""fnwm's command line: finding, auto-starting and failing to reach the
manager (exit 3), and driving a manager by --host/--port.
"""
import asyncio
import http.server
import json
import os
import re
import socket
import threading
import time

import websockets

from cli_util import (EXIT_OK, EXIT_UNREACHABLE, STARTED_RE, T, cli,  # noqa
                      free_port,
                      start_manager, wait_for, worker_pids)


def started_pid(r):
    m = STARTED_RE.search(r.err)
    assert m, "no 'started a worker manager' message: %r" % r
    return int(m.group(1)), m.group(2)


def test_autostart_from_nothing(cli):
    """No manager: the first command starts one (detached, logging to
    D/logs/fnwm-manager.log) and succeeds; the next ones use it."""
    assert cli.manager_pids() == []
    r = cli.run("worker", "list")
    assert r.rc == EXIT_OK, r
    assert r.out.split()[:3] == ["NAME", "UUID", "STATE"], r
    pid, log = started_pid(r)
    assert log == cli.manager_log, r
    assert cli.manager_pids() == [pid]
    text = cli.read_manager_log()
    assert re.search(r"listening on ws://[^ ]*:%d/" % cli.port, text), text
    # The manager is detached: its own session, not the CLI's child.
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    assert int(fields[3]) == pid, "manager is not a session leader"

    for args in (["worker", "list"], ["ping"], ["identify"],
                 ["worker", "list", "--json"]):
        r2 = cli.run(*args)
        assert r2.rc == EXIT_OK, r2
        assert "started a worker manager" not in r2.err, r2
        assert cli.manager_pids() == [pid], (args, cli.manager_pids())


def test_autostart_manager_has_config_python(cli):
    """The auto-started manager reads D/config.json: identify reports the
    python configured there, and the port given on the command line."""
    r = cli.run("identify")
    assert r.rc == EXIT_OK, r
    ident = json.loads(r.out)
    assert ident["class"] == "WorkerManager", ident
    assert ident["py"] == "/usr/bin/python3", ident
    r = cli.run("ping").ok()
    assert re.match(r"^pong from ws://127\.0\.0\.1:%d/ in \d+ ms$"
                    % cli.port, r.out.strip()), r


def test_commands_at_once_from_nothing(cli):
    """Commands started together with no manager running all succeed (as
    scripts run in parallel do), and one manager is left for the dir."""
    for round in range(3):
        procs = [cli.popen("worker", "list") for _ in range(4)]
        for p in procs:
            p.wait(T(60))
            p.out.join(T(5))
            p.err.join(T(5))
        for p in procs:
            assert p.returncode == EXIT_OK, (round, p.out.text(),
                                             p.err.text())
        wait_for(lambda: len(cli.manager_pids()) == 1, T(10),
                 "exactly one manager for the dir (%s)"
                 % cli.manager_pids())
        assert cli.run("ping").rc == EXIT_OK
        cli.run("stop").ok()
        cli.wait_manager_gone()


def test_no_start_with_nothing_running(cli):
    r = cli.run("--no-start", "worker", "list")
    assert r.rc == EXIT_UNREACHABLE, r
    assert "no worker manager at ws://127.0.0.1:%d/" % cli.port in r.err, r
    assert cli.manager_pids() == []
    assert not os.path.exists(cli.manager_log)
    for args in (["ping"], ["identify"], ["worker", "--name", "x", "status"],
                 ["worker", "new", "--name", "x", "--not-in-venv"]):
        r = cli.run("--no-start", *args)
        assert r.rc == EXIT_UNREACHABLE, r
        assert r.out == "", r
    assert cli.manager_pids() == []


def test_no_start_with_a_manager_running(cli):
    cli.run("ping").ok()
    r = cli.run("--no-start", "worker", "list")
    assert r.rc == EXIT_OK, r


def test_stop_with_nothing_running_starts_nothing(cli):
    """`stop` when no manager runs must not start one just to stop it."""
    r = cli.run("stop")
    assert r.rc in (EXIT_OK, EXIT_UNREACHABLE), r
    assert "started a worker manager" not in r.err, r
    assert not os.path.exists(cli.manager_log), cli.read_manager_log()


# -- busy port -----------------------------------------------------------------

NOT_A_MANAGER_RE = re.compile(
    r"not a (worker )?manager|not a WebSocket server|"
    r"does not identify as a worker manager", re.I)


def assert_busy_port_message(cli, r):
    assert r.rc == EXIT_UNREACHABLE, r
    assert str(cli.port) in r.err, r
    assert "in use" in r.err, r
    assert NOT_A_MANAGER_RE.search(r.err), r
    # Nothing was started for a port that is taken.
    assert "started a worker manager" not in r.err, r
    assert cli.manager_pids() == []


def test_busy_port_plain_tcp_listener(cli):
    """Something listens on the port but speaks nothing: exit 3, saying
    the port is in use by something that is not a manager."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", cli.port))
    s.listen(16)
    try:
        t0 = time.monotonic()
        r = cli.run("worker", "list", timeout=60)
        assert_busy_port_message(cli, r)
        assert time.monotonic() - t0 < T(20), "took too long"
    finally:
        s.close()


def test_busy_port_accepts_and_closes(cli):
    """A listener that accepts and hangs up at once."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", cli.port))
    s.listen(16)
    stop = threading.Event()

    def serve():
        s.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = s.accept()
                c.close()
            except OSError:
                pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        r = cli.run("worker", "list", timeout=60)
        assert_busy_port_message(cli, r)
    finally:
        stop.set()
        t.join(5)
        s.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


def test_busy_port_http_server(cli):
    """An HTTP server that is not a manager: exit 3 and why."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", cli.port), _Quiet)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        r = cli.run("worker", "list", timeout=60)
        assert_busy_port_message(cli, r)
        r = cli.run("ping", timeout=60)
        assert_busy_port_message(cli, r)
    finally:
        srv.shutdown()
        srv.server_close()


def test_busy_port_other_websocket_server(cli):
    """A WebSocket server that answers identify with something else."""
    ready = threading.Event()
    box = {}

    async def handler(ws, path=None):
        async for msg in ws:
            await ws.send(json.dumps({"class": "SomethingElse"}))

    def serve():
        loop = asyncio.new_event_loop()
        box["loop"] = loop
        asyncio.set_event_loop(loop)

        async def main():
            box["stop"] = asyncio.Event()
            async with websockets.serve(handler, "127.0.0.1", cli.port):
                ready.set()
                await box["stop"].wait()
        loop.run_until_complete(main())
        loop.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(T(10))
    try:
        r = cli.run("worker", "list", timeout=60)
        assert_busy_port_message(cli, r)
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        t.join(T(10))


# -- bad configuration -----------------------------------------------------------


def test_bad_config_port(cli):
    """config.json with worker_manager.port "nine": exit 3 (no manager can
    be started) with a reason that names the problem."""
    cli.write_config({"worker_manager": {"port": "nine"},
                      "fnwm": {"python": "/usr/bin/python3"}})
    r = cli.run("worker", "list", port=False)
    assert r.rc == EXIT_UNREACHABLE, r
    assert "config.json" in r.err, r
    assert "worker_manager.port" in r.err, r
    assert cli.manager_pids() == []


def test_bad_config_port_with_port_option(cli):
    """The same config with --port P on the command line: still exit 3 and
    the config problem, not a usage error."""
    cli.write_config({"worker_manager": {"port": "nine"},
                      "fnwm": {"python": "/usr/bin/python3"}})
    r = cli.run("worker", "list")
    assert r.rc == EXIT_UNREACHABLE, r
    assert "config.json" in r.err and "port" in r.err, r
    assert cli.manager_pids() == []


def test_bad_config_manager_setting(cli):
    """A setting only the manager uses is wrong (fnwm.max_message_size):
    the command exits 3 and says what is wrong with config.json."""
    cli.write_config({"fnwm": {"python": "/usr/bin/python3",
                               "max_message_size": "huge"}})
    r = cli.run("worker", "list")
    assert r.rc == EXIT_UNREACHABLE, r
    assert "config.json" in r.err and "max_message_size" in r.err, r
    assert cli.manager_pids() == []


def test_unparsable_config_is_ignored_with_a_warning(cli):
    """Like FuncNodes, an unparsable config.json is ignored (defaults), but
    the command says so."""
    cli.write_config(raw="{not json")
    r = cli.run("worker", "list")
    assert r.rc == EXIT_OK, r
    assert "config.json" in r.err and "ignored" in r.err, r


def test_manager_cannot_start_says_why(cli):
    """The auto-started manager exits at once (its config dir is taken by
    another manager on another port): exit 3 quoting that reason."""
    other = start_manager(cli, port=free_port(), log_name="other.log")
    assert other.poll() is None
    r = cli.run("worker", "list")
    assert r.rc == EXIT_UNREACHABLE, r
    assert "could not start" in r.err, r
    assert "another manager" in r.err or "already running" in r.err, r


# -- remote-style use -------------------------------------------------------------


def test_host_and_port_drive_a_manager_of_another_dir(cli):
    """`fnwm --host 127.0.0.1 --port P ...` from a machine whose own config
    knows nothing of that manager (another, empty config dir)."""
    start_manager(cli, host="127.0.0.1")
    here = cli.new_dir()  # the "client machine"

    def run(*args, **kw):
        return cli.run("--host", "127.0.0.1", *args, dir=here, **kw)

    r = run("ping")
    assert r.rc == EXIT_OK, r
    assert "ws://127.0.0.1:%d/" % cli.port in r.out, r
    r = run("identify")
    assert json.loads(r.out)["class"] == "WorkerManager"
    r = run("worker", "new", "--name", "remote", "--not-in-venv", "--start",
            timeout=90)
    assert r.rc == EXIT_OK, r
    uuid = r.lines[0]
    # The worker lives in the manager's dir, not the client's.
    assert os.path.exists(os.path.join(cli.workers_dir,
                                       "worker_%s.json" % uuid))
    assert not os.path.exists(os.path.join(here, "workers",
                                           "worker_%s.json" % uuid))
    r = run("--no-start", "worker", "list", "--json")
    assert r.rc == EXIT_OK, r
    e = [x for x in json.loads(r.out) if x["uuid"] == uuid]
    assert e and e[0]["active"] is True, r
    r = run("worker", "--name", "remote", "status")
    assert r.rc == EXIT_OK and "state:     running" in r.out, r
    r = run("worker", "--name", "remote", "logs", "-n", "5")
    assert r.rc == EXIT_OK and r.out.strip(), r
    r = run("worker", "--name", "remote", "stop", timeout=90)
    assert r.rc == EXIT_OK, r
    assert worker_pids(uuid) == []
    # No manager was started for the client's dir.
    assert cli.manager_pids(here) == []
    assert not os.path.exists(os.path.join(here, "logs",
                                           "fnwm-manager.log"))


def test_host_localhost_and_wildcard(cli):
    """localhost and 0.0.0.0 in --host are dialled on the loopback."""
    start_manager(cli, host="127.0.0.1")
    for host in ("localhost", "0.0.0.0"):
        r = cli.run("--host", host, "ping")
        assert r.rc == EXIT_OK, r
        assert len(cli.manager_pids()) == 1, host


def test_config_host_and_port_are_used(cli):
    """Without --port the CLI dials worker_manager.port of config.json, and
    auto-starts the manager there."""
    cli.write_config({"worker_manager": {"host": "localhost",
                                         "port": cli.port},
                      "fnwm": {"python": "/usr/bin/python3"}})
    r = cli.run("worker", "list", port=False)
    assert r.rc == EXIT_OK, r
    r = cli.run("ping", port=False).ok()
    assert ":%d/" % cli.port in r.out, r
    assert len(cli.manager_pids()) == 1
