"""`fnwm worker start|stop|restart --all | --state STATE`: every worker,
or those in one state, one after the other with a line each; the exit
status says whether all succeeded."""
import json
import os
import re

from cli_util import (EXIT_FAILED, EXIT_OK, EXIT_USAGE, T, cli,  # noqa
                      parse_table, wait_for, worker_pids)

LINE_RE = re.compile(r"^(\S+) \((\S+)\): (restarted|started|stopped)"
                     r"(?:, pid (\d+))?$")


def test_bulk_restart_of_three_workers(cli):
    uuids = [cli.new_worker("b%d" % i, start=True) for i in range(3)]
    old = {u: cli.wait_worker_pid(u) for u in uuids}
    r = cli.run("worker", "restart", "--all", timeout=120)
    assert r.rc == EXIT_OK, r
    assert len(r.lines) == 3, r
    seen = {}
    for l in r.lines:
        m = LINE_RE.match(l)
        assert m and m.group(3) == "restarted", l
        seen[m.group(2)] = int(m.group(4))
    assert sorted(seen) == sorted(uuids), r
    for u in uuids:
        assert worker_pids(u) == [seen[u]] and seen[u] != old[u], (u, r)

    # --state running: the same three, stopped.
    r = cli.run("worker", "stop", "--state", "running", timeout=120)
    assert r.rc == EXIT_OK, r
    assert sorted(LINE_RE.match(l).group(2) for l in r.lines) == \
        sorted(uuids), r
    assert all(worker_pids(u) == [] for u in uuids)
    # Nothing in that state: said so, and not a failure.
    r = cli.run("worker", "restart", "--state", "running")
    assert r.rc == EXIT_OK and r.out == "" and \
        "no worker is running" in r.err, r


def test_bulk_start_reports_each_failure(cli):
    good = [cli.new_worker("g%d" % i) for i in range(2)]
    bad = cli.new_worker("bad")
    path = os.path.join(cli.workers_dir, "worker_%s.json" % bad)
    doc = cli.worker_json(bad)
    doc["env_path"] = "/nonexistent/venv"
    with open(path, "w") as f:
        json.dump(doc, f)
    r = cli.run("worker", "--state", "down", "start", timeout=120)
    assert r.rc == EXIT_FAILED, r
    lines = {l.split(" ")[1].strip("():"): l for l in r.lines}
    assert set(lines) == set(good + [bad]), r
    for u in good:
        assert LINE_RE.match(lines[u]).group(3) == "started", r
        assert worker_pids(u) != []
    assert "failed:" in lines[bad] and "interpreter" in lines[bad], r
    assert "1 of 3 workers failed" in r.err, r


def test_bulk_usage(cli):
    for args in (["restart", "--state", "bogus"],
                 ["--name", "x", "restart", "--all"],
                 ["logs", "--all"],
                 ["restart", "--all", "--state", "down"]):
        r = cli.run("worker", *args)
        assert r.rc == EXIT_USAGE, r
