"""Autostart: `fnwm worker --name N enable|disable` marks a worker to
start whenever the manager starts (its "fnwm": {"autostart": true}, or
fnwm.autostart in config.json for all); `fnwm stop` and a new manager
bring exactly those back."""
import json

from cli_util import (FNWM_CONFIG, T, cli, parse_table, pid_alive,  # noqa
                      wait_for, worker_pids)


def rows(cli):
    return {r["name"]: r for r in parse_table(cli.run("worker", "list")
                                              .ok().out)}


def test_autostart_survives_stop_and_a_new_manager(cli):
    a = cli.new_worker("auto-a", start=True)
    b = cli.new_worker("auto-b", start=True)
    c = cli.new_worker("manual", start=True)
    r = cli.run("worker", "--name", "auto-a", "enable").ok()
    assert r.out.strip() == ("worker auto-a (%s) enabled: it starts with "
                             "the worker manager" % a), r
    cli.run("worker", "--uuid", b, "enable").ok()
    assert cli.worker_json(a)["fnwm"]["autostart"] is True
    t = rows(cli)
    assert [t[n]["autostart"] for n in ("auto-a", "auto-b", "manual")] == \
        ["on", "on", "off"], t
    assert cli.status(a)["autostart"] == "on"

    old = {u: cli.wait_worker_pid(u) for u in (a, b, c)}
    [mpid] = cli.manager_pids()
    cli.run("stop", timeout=90).ok()
    wait_for(lambda: not pid_alive(mpid), T(20), "the manager to exit")
    assert all(worker_pids(u) == [] for u in (a, b, c))

    # A new manager (the CLI starts one) starts the enabled ones only.
    t = rows(cli)
    for u in (a, b):
        pid = cli.wait_worker_pid(u, T(30))
        assert pid != old[u]
    wait_for(lambda: all(rows(cli)[n]["state"] == "running"
                         for n in ("auto-a", "auto-b")), T(30),
             "the autostarted workers to run")
    assert worker_pids(c) == []
    assert rows(cli)["manual"]["state"] == "down"
    assert "autostart" in cli.read_manager_log()

    # disable: not started by the next manager.
    cli.run("worker", "--name", "auto-b", "disable").ok()
    assert cli.worker_json(b)["fnwm"]["autostart"] is False
    cli.run("stop", timeout=90).ok()
    cli.wait_manager_gone()
    cli.run("ping").ok()
    cli.wait_worker_pid(a, T(30))
    assert worker_pids(b) == [] and worker_pids(c) == []


def test_manager_wide_default_and_worker_override(cli):
    """fnwm.autostart: true starts every worker but one that says false;
    a bad value is refused clearly and its JSON left alone."""
    a = cli.new_worker("all-a")
    b = cli.new_worker("all-b")
    cli.run("worker", "--uuid", b, "disable").ok()
    cli.run("stop", timeout=90).ok()
    cli.wait_manager_gone()
    cli.write_config({"fnwm": dict(FNWM_CONFIG, autostart=True)})
    cli.run("ping").ok()
    cli.wait_worker_pid(a, T(30))
    assert worker_pids(b) == []
    assert rows(cli)["all-a"]["autostart"] == "on"
    assert rows(cli)["all-b"]["autostart"] == "off"


def test_enable_errors(cli):
    r = cli.run("worker", "--name", "nobody", "enable")
    assert r.rc == 1 and "no worker named" in r.err, r
    uuid = cli.new_worker("w")
    path = "%s/worker_%s.json" % (cli.workers_dir, uuid)
    doc = cli.worker_json(uuid)
    doc["fnwm"] = "not an object"
    with open(path, "w") as f:
        json.dump(doc, f)
    before = open(path).read()
    r = cli.run("worker", "--uuid", uuid, "enable")
    assert r.rc == 1 and "not an object" in r.err, r
    assert open(path).read() == before
