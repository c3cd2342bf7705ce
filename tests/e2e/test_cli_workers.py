"""fnwm's command line against a real manager and the FuncNodes test worker:
worker new/start/stop/restart/delete/status/list/repair/modules/py and name
resolution.
"""
import json
import os
import re
import signal

from cli_util import (EXIT_FAILED, EXIT_OK, T, cli,  # noqa: F401
                      parse_status, parse_table, pid_alive, wait_for,
                      worker_pids)


def test_new_prints_uuid_and_creates_files(cli):
    r = cli.run("worker", "new", "--name", "alpha", "--not-in-venv",
                timeout=90)
    assert r.rc == EXIT_OK, r
    assert len(r.lines) == 1, "stdout must be just the uuid: %r" % r
    uuid = r.lines[0]
    doc = cli.worker_json(uuid)
    assert doc["uuid"] == uuid and doc["name"] == "alpha", doc
    assert doc["env_path"] is None, doc
    # Created, not started.
    assert worker_pids(uuid) == []
    st = cli.status(uuid)
    assert st["state"] == "down", st
    assert st["pid"] == "-", st


def test_new_with_uuid_and_funcnodes_style_options(cli):
    """`fnwm worker --name N new` (the funcnodes habit: name before the
    subcommand) and --uuid U are honoured."""
    r = cli.run("worker", "--name", "beta", "new", "--not-in-venv",
                timeout=90)
    assert r.rc == EXIT_OK, r
    assert cli.worker_json(r.lines[0])["name"] == "beta"
    r = cli.run("worker", "new", "--uuid", "myown1234", "--name", "gamma",
                "--not-in-venv", timeout=90)
    assert r.rc == EXIT_OK, r
    assert r.lines == ["myown1234"], r
    assert cli.worker_json("myown1234")["name"] == "gamma"
    # The same uuid again fails, and says why.
    r = cli.run("worker", "new", "--uuid", "myown1234", "--not-in-venv",
                timeout=90)
    assert r.rc == EXIT_FAILED, r
    assert r.err.strip() and r.out == "", r


def test_new_start_then_status_fields(cli):
    r = cli.run("worker", "new", "--name", "delta", "--not-in-venv",
                "--start", timeout=90)
    assert r.rc == EXIT_OK, r
    uuid = r.lines[0]
    pid = cli.wait_worker_pid(uuid)
    m = re.match(r"^worker delta \(%s\) running: ws://([^:/]+):(\d+)/, "
                 r"pid (\d+)$" % re.escape(uuid), r.lines[1])
    assert m, r
    assert int(m.group(3)) == pid, (r, pid)
    port = int(m.group(2))
    assert port == cli.worker_json(uuid)["port"]

    r = cli.run("worker", "--uuid", uuid, "status").ok()
    st = parse_status(r.out)
    for key in ("name", "uuid", "state", "pid", "address", "uptime",
                "restarts", "last exit"):
        assert key in st, (key, r.out)
    assert st["name"] == "delta" and st["uuid"] == uuid, st
    assert st["state"] == "running", st
    assert int(st["pid"]) == pid, st
    assert st["address"] == "ws://%s:%d/" % (m.group(1), port), st
    assert re.match(r"^\d+[smhd]", st["uptime"]), st
    assert st["restarts"] == "0", st
    assert st["last exit"] == "-", st
    # --name resolves to the same worker.
    assert cli.status(name="delta") == st or \
        cli.status(name="delta")["pid"] == st["pid"]


def test_start_stop_restart_delete(cli):
    uuid = cli.new_worker("eps")
    r = cli.run("worker", "--name", "eps", "start", timeout=90)
    assert r.rc == EXIT_OK, r
    pid1 = cli.wait_worker_pid(uuid)
    assert r.out.startswith("worker eps (%s) running: ws://" % uuid), r
    assert r.out.rstrip().endswith("pid %d" % pid1), r
    # start of a running worker: still fine, same process.
    r = cli.run("worker", "--name", "eps", "start", timeout=90)
    assert r.rc == EXIT_OK, r
    assert worker_pids(uuid) == [pid1]

    # restart: a new process, the old one gone.
    r = cli.run("worker", "--name", "eps", "restart", timeout=90)
    assert r.rc == EXIT_OK, r
    m = re.search(r"restarted: ws://[^ ]+, pid (\d+)", r.out)
    assert m, r
    pid2 = int(m.group(1))
    assert pid2 != pid1, r
    wait_for(lambda: not pid_alive(pid1), T(15), "the old worker to exit")
    assert cli.wait_worker_pid(uuid) == pid2
    st = cli.status(uuid)
    assert st["state"] == "running" and int(st["pid"]) == pid2, st

    # stop: the process is gone, the worker is down.
    r = cli.run("worker", "--name", "eps", "stop", timeout=90)
    assert r.rc == EXIT_OK, r
    assert r.out.strip() == "worker %s stopped" % uuid, r
    wait_for(lambda: not pid_alive(pid2), T(15), "the worker to exit")
    assert worker_pids(uuid) == []
    st = cli.status(uuid)
    assert st["state"] == "down" and st["pid"] == "-", st

    # start it again, then delete it while it runs.
    cli.run("worker", "--uuid", uuid, "start", timeout=90).ok()
    pid3 = cli.wait_worker_pid(uuid)
    assert os.path.isdir(cli.data_dir(uuid))
    r = cli.run("worker", "--uuid", uuid, "delete", timeout=90)
    assert r.rc == EXIT_OK, r
    assert r.out.strip() == "worker %s deleted" % uuid, r
    wait_for(lambda: not pid_alive(pid3), T(15), "the worker to exit")
    left = [n for n in os.listdir(cli.workers_dir) if uuid in n]
    assert left == [], "files left after delete: %s" % left
    assert not os.path.exists(cli.data_dir(uuid))
    r = cli.run("worker", "--uuid", uuid, "status")
    assert r.rc == EXIT_FAILED, r
    assert "no worker with uuid %s" % uuid in r.err, r
    r = cli.run("worker", "list").ok()
    assert uuid not in r.out


def test_stop_of_a_stopped_worker(cli):
    uuid = cli.new_worker("zeta")
    r = cli.run("worker", "--uuid", uuid, "stop", timeout=90)
    assert r.rc == EXIT_OK, r
    assert worker_pids(uuid) == []


def test_list_table(cli):
    u1 = cli.new_worker("one", start=True)
    u2 = cli.new_worker("two")
    pid1 = cli.wait_worker_pid(u1)
    r = cli.run("worker", "list").ok()
    rows = {row["uuid"]: row for row in parse_table(r.out)}
    assert set(rows) == {u1, u2}, r
    a, b = rows[u1], rows[u2]
    assert a["name"] == "one" and a["state"] == "running", a
    assert a["pid"] == str(pid1), a
    assert a["port"] == str(cli.worker_json(u1)["port"]), a
    assert re.match(r"^\d+[smhd]", a["uptime"]), a
    assert a["restarts"] == "0" and a["last_exit"] == "-", a
    assert b["name"] == "two" and b["state"] == "down", b
    assert b["pid"] == "-" and b["uptime"] == "-", b


def test_list_json_is_consistent_with_worker_status(cli):
    """`worker list --json` parses, and agrees with what the UI gets from
    worker_status over WebSocket."""
    u1 = cli.new_worker("on", start=True)
    u2 = cli.new_worker("off")
    pid1 = cli.wait_worker_pid(u1)
    r = cli.run("worker", "list", "--json").ok()
    rows = json.loads(r.out)
    assert isinstance(rows, list), r
    mine = {e["uuid"]: e for e in rows}
    st = cli.worker_status()
    ws_active = {e["uuid"]: e for e in st["active"]}
    ws_inactive = {e["uuid"]: e for e in st["inactive"]}
    assert set(mine) == set(ws_active) | set(ws_inactive) == {u1, u2}
    for uuid, e in mine.items():
        ref = ws_active.get(uuid) or ws_inactive.get(uuid)
        assert e["active"] is (uuid in ws_active), (e, st)
        assert e["name"] == ref["name"], (e, ref)
        assert e["host"] == ref["host"] and e["port"] == ref["port"], \
            (e, ref)
    assert mine[u1]["pid"] == pid1, mine[u1]
    assert mine[u1]["restarts"] == 0, mine[u1]
    assert mine[u1]["last_exit"] is None, mine[u1]
    assert isinstance(mine[u1]["started"], (int, float)), mine[u1]
    assert mine[u2]["pid"] is None and mine[u2]["state"] == "down", mine[u2]
    assert mine[u2]["active"] is False


def test_list_json_state_matches_table(cli):
    """The man page: --json prints "the table as JSON"; a worker that the
    table shows as running must not be "starting" in the JSON."""
    uuid = cli.new_worker("same", start=True)
    cli.wait_worker_pid(uuid)
    table = {row["uuid"]: row for row in
             parse_table(cli.run("worker", "list").ok().out)}
    js = {e["uuid"]: e for e in
          json.loads(cli.run("worker", "list", "--json").ok().out)}
    assert table[uuid]["state"] == "running", table
    assert js[uuid]["state"] == table[uuid]["state"], (js[uuid],
                                                       table[uuid])


def test_list_full(cli):
    """--full: the whole worker entries (as worker_status has them)."""
    u1 = cli.new_worker("full1", start=True)
    u2 = cli.new_worker("full2")
    cli.wait_worker_pid(u1)
    r = cli.run("worker", "list", "--full").ok()
    rows = {e["uuid"]: e for e in json.loads(r.out)}
    assert set(rows) == {u1, u2}, r
    for uuid in (u1, u2):
        doc = cli.worker_json(uuid)
        e = rows[uuid]
        for key in ("type", "uuid", "name", "host", "port", "env_path",
                    "data_path", "update_on_startup"):
            assert e.get(key) == doc.get(key), (key, e, doc)
    assert rows[u1]["active"] is True and rows[u2]["active"] is False


def test_empty_list(cli):
    r = cli.run("worker", "list").ok()
    assert parse_table(r.out) == []
    r = cli.run("worker", "list", "--json").ok()
    assert json.loads(r.out) == []
    r = cli.run("worker", "list", "--full").ok()
    assert json.loads(r.out) == []


def test_ambiguous_name(cli):
    u1 = cli.new_worker("twin")
    u2 = cli.new_worker("twin")
    assert u1 != u2
    for cmd in (["status"], ["start"], ["stop"], ["delete"],
                ["logs", "-n", "1"], ["py", "--", "-c", "print(1)"]):
        r = cli.run("worker", "--name", "twin", *cmd, timeout=60)
        assert r.rc == EXIT_FAILED, r
        assert u1 in r.err and u2 in r.err, r
        assert "--uuid" in r.err, r
        assert r.out == "", r
    # Nothing happened to either.
    assert worker_pids(u1) == [] and worker_pids(u2) == []
    assert os.path.exists(os.path.join(cli.workers_dir,
                                       "worker_%s.json" % u1))
    assert os.path.exists(os.path.join(cli.workers_dir,
                                       "worker_%s.json" % u2))
    # --uuid picks one; --uuid with the matching name too.
    assert cli.status(u1)["uuid"] == u1
    r = cli.run("worker", "--uuid", u2, "--name", "twin", "status").ok()
    assert parse_status(r.out)["uuid"] == u2


def test_unknown_name_and_uuid(cli):
    cli.new_worker("known")
    for cmd in (["status"], ["start"], ["stop"], ["restart"], ["delete"],
                ["repair"], ["logs"], ["modules", "list"],
                ["py", "--", "-c", "print(1)"]):
        r = cli.run("worker", "--name", "unknown", *cmd, timeout=60)
        assert r.rc == EXIT_FAILED, r
        assert 'no worker named "unknown"' in r.err, r
        assert r.out == "", r
    r = cli.run("worker", "--uuid", "nosuchuuid", "start")
    assert r.rc == EXIT_FAILED, r
    assert "no worker with uuid nosuchuuid" in r.err, r
    # uuid and name that do not belong together (funcnodes: "different
    # name").
    uuid = cli.status(name="known")["uuid"]
    r = cli.run("worker", "--uuid", uuid, "--name", "other", "status")
    assert r.rc == EXIT_FAILED, r
    assert uuid in r.err and "other" in r.err, r


def test_py_runs_the_workers_interpreter(cli):
    uuid = cli.new_worker("pyw")
    r = cli.run("worker", "--name", "pyw", "py", "--", "-c", "print(1+1)")
    assert r.rc == EXIT_OK, r
    assert r.out == "2\n", r
    # It is the interpreter the worker runs with (config's fnwm.python),
    # with the arguments passed untouched, and its exit status is ours.
    r = cli.run("worker", "--uuid", uuid, "py", "-c",
                "import sys; print(sys.executable); print(sys.argv[1:])",
                "a b", "--name")
    assert r.rc == EXIT_OK, r
    assert r.lines == ["/usr/bin/python3", "['a b', '--name']"], r
    r = cli.run("worker", "--uuid", uuid, "py", "--", "-c",
                "import sys; sys.exit(7)")
    assert r.rc == 7, r


def test_modules_list(cli):
    """modules list runs `-m funcnodes modules list` with the worker's
    interpreter: a module registered under funcnodes.module shows up."""
    cli.new_worker("modw")
    site = os.path.join(cli.dir, "site")
    dist = os.path.join(site, "fnwm_cli_mod-1.2.3.dist-info")
    os.makedirs(dist)
    with open(os.path.join(dist, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: fnwm-cli-mod\n"
                "Version: 1.2.3\nSummary: a module of the CLI test\n")
    with open(os.path.join(dist, "entry_points.txt"), "w") as f:
        f.write("[funcnodes.module]\nmodule = fnwm_cli_mod\n")
    env = {"PYTHONPATH": cli.env["PYTHONPATH"] + ":" + site}
    r = cli.run("worker", "--name", "modw", "modules", "list", env=env)
    assert r.rc == EXIT_OK, r
    assert "fnwm_cli_mod:" in r.lines, r
    assert "InstalledModule(name='fnwm_cli_mod'" in r.out, r
    assert "1.2.3" in r.out, r


def test_repair_without_venv_fails_cleanly(cli):
    cli.new_worker("rep")
    r = cli.run("worker", "--name", "rep", "repair", timeout=90)
    assert r.rc == EXIT_FAILED, r
    assert "virtual environment" in r.err, r
    assert r.out == "", r


def test_status_after_a_crash_shows_restart_and_last_exit(cli):
    """A worker killed by SIGKILL is restarted by its monitor; status and
    list then show the new pid, 1 restart and the last exit."""
    uuid = cli.new_worker("crashy", start=True)
    pid1 = cli.wait_worker_pid(uuid)
    os.kill(pid1, signal.SIGKILL)

    def restarted():
        st = cli.status(uuid)
        if st["state"] == "running" and st["pid"] not in ("-", str(pid1)):
            return st
        return None
    st = wait_for(restarted, T(30), "the worker to be restarted")
    assert st["restarts"] == "1", st
    assert st["last exit"] == "signal 9", st
    assert int(st["pid"]) == cli.wait_worker_pid(uuid)
    row = [x for x in parse_table(cli.run("worker", "list").ok().out)
           if x["uuid"] == uuid][0]
    assert row["restarts"] == "1" and row["last_exit"] == "signal 9", row
    assert row["pid"] == st["pid"], row
    e = cli.details(uuid)
    assert e["restarts"] == 1 and e["last_exit"] == {"code": None,
                                                     "signal": 9}, e


def test_list_full_matches_worker_status(cli):
    """--full prints the entries the UI gets from worker_status."""
    u1 = cli.new_worker("fs1", start=True)
    cli.new_worker("fs2")
    cli.wait_worker_pid(u1)
    full = {e["uuid"]: e for e in
            json.loads(cli.run("worker", "list", "--full").ok().out)}
    st = cli.worker_status()
    for lst, active in (("active", True), ("inactive", False)):
        for e in st[lst]:
            mine = dict(full[e["uuid"]])
            assert mine.pop("active") is active, mine
            assert mine == e, (mine, e)


def test_list_shows_whole_uuids(cli):
    """The table's UUID column is what --uuid needs: never cut short."""
    long_uuid = "w" + "0123456789abcdef" * 3  # 49 characters
    r = cli.run("worker", "new", "--uuid", long_uuid, "--name", "long",
                "--not-in-venv", timeout=90)
    assert r.rc == EXIT_OK and r.lines == [long_uuid], r
    rows = parse_table(cli.run("worker", "list").ok().out)
    assert [x["uuid"] for x in rows] == [long_uuid], rows


def test_start_of_a_worker_that_cannot_start(cli):
    """A worker that exits at once (status 3): start fails with exit 1 and
    says why (the worker's exit), and status shows it failed."""
    uuid = cli.new_worker("broken")
    doc = cli.worker_json(uuid)
    doc["test_behaviour"] = {"exit_at_once": 3}
    with open(os.path.join(cli.workers_dir, "worker_%s.json" % uuid),
              "w") as f:
        json.dump(doc, f)
    r = cli.run("worker", "--name", "broken", "start", timeout=120)
    assert r.rc == EXIT_FAILED, r
    assert r.out == "", r
    st = cli.status(uuid)
    assert st["state"] == "failed", st
    assert st["last exit"] == "status 3", st
    # The error says why, not only that it failed.
    assert re.search(r"status 3|exit(ed)?( with)?( code| status)? 3",
                     r.err), r
