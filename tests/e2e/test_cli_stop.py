"""fnwm's command line: `stop` and `stop --keep-workers`, and the next
command after a stop."""
import json
import subprocess

from cli_util import (EXIT_OK, EXIT_UNREACHABLE, FNWM_BIN,  # noqa: F401
                      STARTED_RE, T, cli, parse_table, pid_alive, spawn,
                      wait_for, worker_pids)


def test_stop_stops_manager_and_workers(cli):
    uuid = cli.new_worker("s1", start=True)
    wpid = cli.wait_worker_pid(uuid)
    [mpid] = cli.manager_pids()
    r = cli.run("stop", timeout=90)
    assert r.rc == EXIT_OK, r
    assert r.out.strip() == "worker manager stopped", r
    wait_for(lambda: not pid_alive(wpid), T(20), "the worker to stop")
    wait_for(lambda: not pid_alive(mpid), T(20), "the manager to exit")
    assert cli.manager_pids() == []
    r = cli.run("--no-start", "ping")
    assert r.rc == EXIT_UNREACHABLE, r
    # The worker was stopped in order (its own stop command): no stale .p.
    assert worker_pids(uuid) == []


def test_stop_returns_when_the_manager_is_gone(cli):
    """When `stop` says the manager stopped, it is gone: its process has
    exited (and released the config dir)."""
    cli.run("ping").ok()
    [mpid] = cli.manager_pids()
    r = cli.run("stop", timeout=90)
    assert r.rc == EXIT_OK, r
    assert not pid_alive(mpid), "manager %d still running after stop" % mpid


def test_command_right_after_stop(cli):
    """The command typed right after `stop` auto-starts a new manager and
    succeeds (it must not trip over the one that is going away)."""
    cli.run("ping").ok()
    for i in range(3):
        r = cli.run("stop", timeout=90)
        assert r.rc == EXIT_OK, r
        r = cli.run("worker", "list")
        assert r.rc == EXIT_OK, "round %d: %r" % (i, r)
        assert len(cli.manager_pids()) == 1


def test_stop_keep_workers_and_readopt(cli):
    """stop --keep-workers leaves the worker running; the manager that the
    next command auto-starts re-adopts it: same pid, listed as running,
    and it can be driven as before."""
    uuid = cli.new_worker("kept", start=True)
    wpid = cli.wait_worker_pid(uuid)
    [mpid] = cli.manager_pids()
    r = cli.run("stop", "--keep-workers", timeout=90)
    assert r.rc == EXIT_OK, r
    assert "keep running" in r.out, r
    wait_for(lambda: not pid_alive(mpid), T(20), "the old manager to exit")
    assert pid_alive(wpid), "the kept worker died"
    assert worker_pids(uuid) == [wpid]

    r = cli.run("worker", "list")
    assert r.rc == EXIT_OK, r
    m = STARTED_RE.search(r.err)
    assert m, "no new manager was started: %r" % r
    new_mpid = int(m.group(1))
    assert cli.manager_pids() == [new_mpid]
    rows = {x["uuid"]: x for x in parse_table(r.out)}
    assert rows[uuid]["pid"] == str(wpid), r
    # A worker younger than healthy_after is "starting" until the new
    # manager's first probe has reached it; on a loaded machine the list
    # can come first.
    assert rows[uuid]["state"] in ("starting", "running"), r
    wait_for(lambda: cli.status(uuid)["state"] == "running", T(10),
             "the new manager to probe the re-adopted worker")
    st = cli.status(uuid)
    assert st["state"] == "running" and st["pid"] == str(wpid), st
    e = [x for x in json.loads(cli.run("worker", "list", "--json")
                               .ok().out) if x["uuid"] == uuid][0]
    assert e["active"] is True and e["pid"] == wpid, e
    assert [x["uuid"] for x in cli.worker_status()["active"]] == [uuid]
    # Still supervised: stop works through the new manager.
    r = cli.run("worker", "--uuid", uuid, "stop", timeout=90)
    assert r.rc == EXIT_OK, r
    wait_for(lambda: not pid_alive(wpid), T(20), "the worker to stop")


def test_stop_keep_workers_then_next_command_at_once(cli):
    """The same without waiting for the old manager to go: the very next
    command still finds the kept worker running under a new manager."""
    uuid = cli.new_worker("kept2", start=True)
    wpid = cli.wait_worker_pid(uuid)
    cli.run("stop", "--keep-workers", timeout=90).ok()
    r = cli.run("worker", "--name", "kept2", "status")
    assert r.rc == EXIT_OK, r
    assert "state:     running" in r.out, r
    assert "pid:       %d" % wpid in r.out, r
    assert pid_alive(wpid)
    assert len(cli.manager_pids()) == 1


def test_serve_in_the_foreground_and_stop(cli):
    """`fnwm serve` (alias of startworkermanager) runs in the foreground;
    `fnwm stop` ends it with exit status 0."""
    log = open(cli.dir + "/serve.log", "wb")
    p = spawn([FNWM_BIN, "--dir", cli.dir, "--port",
                          str(cli.port), "serve", "--python",
                          "/usr/bin/python3"], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log, env=cli.environ())
    log.close()
    cli.procs.append(p)
    cli.manager_procs.append(p)

    def up():
        assert p.poll() is None, open(cli.dir + "/serve.log").read()
        return cli.run("--no-start", "ping").rc == EXIT_OK
    wait_for(up, T(15), "the foreground manager to answer")
    uuid = cli.new_worker("fg", start=True)
    wpid = cli.wait_worker_pid(uuid)
    r = cli.run("stop", timeout=90)
    assert r.rc == EXIT_OK, r
    assert p.wait(T(30)) == 0, open(cli.dir + "/serve.log").read()
    assert not pid_alive(wpid)
    text = open(cli.dir + "/serve.log").read()
    for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert marker not in text, text
