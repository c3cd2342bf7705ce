"""fnwm's command line: progress output (a bar on a terminal, one line per
step otherwise) and Ctrl-C, which leaves the manager's operation running.
"""
import os
import re
import signal

from cli_util import (BAR_RE, EXIT_INTERRUPTED, EXIT_OK, PLAIN_PROGRESS_RE,
                      T, cli, parse_status, plain_progress,  # noqa: F401
                      wait_for, worker_pids)


def test_plain_progress_lines(cli):
    """stderr not a terminal: one `fnwm: NN% text` line per step, no \\r,
    no escape sequences; stdout has only the results."""
    cli.run("ping").ok()  # the manager, started beforehand
    r = cli.run("worker", "new", "--name", "plain", "--not-in-venv",
                "--start", timeout=90)
    assert r.rc == EXIT_OK, r
    assert "\r" not in r.err and "\x1b" not in r.err, r
    steps = plain_progress(r.err)
    assert len(steps) >= 3, r
    for l in r.err.splitlines():
        assert l.startswith("fnwm: "), r
        assert PLAIN_PROGRESS_RE.match(l), "not a progress line: %r" % l
    assert all(0 <= p <= 100 for p, _ in steps), steps
    texts = [t for _, t in steps]
    assert any("worker" in t.lower() for t in texts), texts
    # stdout: the uuid, then where it runs -- no progress there.
    uuid = r.lines[0]
    assert r.lines[1].startswith("worker plain (%s) running: ws://" % uuid)
    assert len(r.lines) == 2, r
    assert "%" not in r.out, r


def test_plain_progress_of_each_operation(cli):
    uuid = cli.new_worker("ops")
    for cmd in ("start", "restart", "stop", "delete"):
        r = cli.run("worker", "--uuid", uuid, cmd, timeout=90)
        assert r.rc == EXIT_OK, r
        assert plain_progress(r.err), "no progress lines for %s: %r" % (
            cmd, r)
        assert "\r" not in r.err, r


def test_terminal_progress_bar(cli):
    """stderr on a terminal: a bar redrawn in place with \\r, the current
    text after it, and the bar cleared at the end; results on stdout."""
    cli.run("ping").ok()
    r = cli.run_pty("worker", "new", "--name", "tty", "--not-in-venv",
                    "--start", timeout=90)
    assert r.rc == EXIT_OK, r
    term = r.err
    assert "[####" in term, repr(term)
    assert "\r" in term, repr(term)
    bars = BAR_RE.findall(term)
    assert len(bars) >= 2, repr(term)
    for hashes, dashes, pct in bars:
        assert len(hashes) + len(dashes) == 20, bars
        assert 0 <= int(pct) <= 100
        # the bar fills as the percentage says
        assert abs(len(hashes) - int(pct) / 5) <= 1, (hashes, pct)
    # Each redraw starts at the line's start and clears it.
    assert term.count("\r\x1b[K[") >= len(bars), repr(term)
    # The bar is cleared before the command ends (no bar left behind).
    last_bar = list(BAR_RE.finditer(term))[-1].end()
    assert "\r\x1b[K" in term[last_bar:], repr(term)
    # No plain progress lines on a terminal.
    assert not re.search(r"fnwm: +\d+% ", term), repr(term)
    # Results still on stdout.
    uuid = r.lines[0]
    assert r.lines[1].startswith("worker tty (%s) running: ws://" % uuid), r
    assert "\x1b" not in r.out and "\r" not in r.out, r


def test_terminal_bar_fits_the_terminal(cli):
    """No redraw is wider than an 80-column terminal (a wrapped bar is
    not erased by \\r)."""
    cli.run("ping").ok()
    r = cli.run_pty("worker", "new", "--name", "narrow", "--not-in-venv",
                    "--start", timeout=90, cols=80)
    assert r.rc == EXIT_OK, r
    for seg in r.err.split("\r"):
        seg = seg.replace("\x1b[K", "")
        assert len(seg.rstrip("\n")) <= 80, repr(seg)


def test_terminal_errors_are_readable(cli):
    """On a terminal, an error ends on its own line after the bar."""
    cli.new_worker("dup")
    cli.new_worker("dup")
    r = cli.run_pty("worker", "--name", "dup", "start", timeout=60)
    assert r.rc == 1, r
    assert re.search(r'(^|\n)fnwm: 2 workers are named "dup"', r.err), \
        repr(r.err)


def test_ctrl_c_during_start_leaves_the_operation_running(cli):
    """Ctrl-C while `worker start` waits for a slow worker: exit 130, a
    message that the manager carries on, and the worker still becomes
    active afterwards."""
    slow = {"FNWM_TEST_START_DELAY": "5"}
    # The manager (and so the worker) inherits the start delay.
    uuid = cli.new_worker("slow", env=slow)
    p = cli.popen("worker", "--name", "slow", "start", env=slow,
                  start_new_session=True)
    # Wait until the worker is starting (the start delay is spent in
    # "Loading config"), then press Ctrl-C: SIGINT to the foreground
    # process group, as a terminal does.
    p.err.wait(lambda l: "Loading config" in l, T(30),
               "the worker to be loading its config")
    assert p.poll() is None, "start returned before the worker answered"
    assert worker_pids(uuid), "no worker process while it starts"
    assert cli.status(uuid)["state"] != "running"
    os.killpg(p.pid, signal.SIGINT)
    rc = p.wait(T(10))
    p.err.join(T(5))
    assert rc == EXIT_INTERRUPTED, (rc, p.err.text())
    err = p.err.text()
    assert "interrupted" in err and "manager carries on" in err, err
    # The operation goes on: the worker becomes active.

    def running():
        s = cli.status(uuid)
        return s if s["state"] == "running" else None
    st = wait_for(running, T(30), "the worker to be running")
    pids = worker_pids(uuid)
    assert pids and int(st["pid"]) == pids[0], (st, pids)
    e = [x for x in cli.worker_status()["active"] if x["uuid"] == uuid]
    assert e, "worker not active in worker_status"
    # One manager, not disturbed by the Ctrl-C.
    assert len(cli.manager_pids()) == 1


def test_ctrl_c_during_plain_wait_exits_130(cli):
    """Ctrl-C during `logs -f` (a command that waits forever)."""
    uuid = cli.new_worker("follow", start=True)
    cli.wait_worker_pid(uuid)
    p = cli.popen("worker", "--name", "follow", "logs", "-f",
                  start_new_session=True)
    p.out.wait(lambda l: "WebSocket server running" in l, T(30),
               "the log tail")
    os.killpg(p.pid, signal.SIGINT)
    assert p.wait(T(10)) == EXIT_INTERRUPTED
    # The manager is fine.
    cli.run("--no-start", "ping").ok()
    assert parse_status(cli.run("worker", "--uuid", uuid, "status")
                        .ok().out)["state"] == "running"
