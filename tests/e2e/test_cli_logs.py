"""fnwm's command line: `worker logs [-n LINES] [-f]`."""
import os
import signal
import uuid as uuidlib

from cli_util import (EXIT_OK, T, cli, worker_cmd,  # noqa: F401
                      wait_for)


def stopped_worker_with_log(cli, name):
    """A worker that ran once (so it has a worker.log) and is down."""
    uuid = cli.new_worker(name, start=True)
    cli.wait_worker_pid(uuid)
    cli.run("worker", "--uuid", uuid, "stop", timeout=90).ok()
    wait_for(lambda: os.path.getsize(cli.worker_log(uuid)) > 0, T(10),
             "worker.log")
    return uuid


def file_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read().splitlines()


def test_logs_n_prints_exactly_the_last_lines(cli):
    uuid = stopped_worker_with_log(cli, "tail")
    with open(cli.worker_log(uuid), "a") as f:
        f.write("line one\nline two\nline three\n")
    r = cli.run("worker", "--name", "tail", "logs", "-n", "2")
    assert r.rc == EXIT_OK, r
    assert r.out == "line two\nline three\n", r
    r = cli.run("worker", "--uuid", uuid, "logs", "--lines", "1")
    assert r.rc == EXIT_OK, r
    assert r.out == "line three\n", r
    r = cli.run("worker", "--uuid", uuid, "logs", "-n", "0")
    assert r.rc == EXIT_OK and r.out == "", r


def test_logs_default_is_the_last_50_lines(cli):
    uuid = stopped_worker_with_log(cli, "fifty")
    with open(cli.worker_log(uuid), "a") as f:
        for i in range(80):
            f.write("numbered %d\n" % i)
    r = cli.run("worker", "--name", "fifty", "logs")
    assert r.rc == EXIT_OK, r
    assert r.lines == ["numbered %d" % i for i in range(30, 80)], r
    # -n larger than the file: the whole file.
    r = cli.run("worker", "--name", "fifty", "logs", "-n", "100000")
    assert r.rc == EXIT_OK, r
    assert r.lines == file_lines(cli.worker_log(uuid)), r


def test_logs_of_a_worker_that_never_ran(cli):
    cli.new_worker("fresh")
    r = cli.run("worker", "--name", "fresh", "logs", "-n", "5")
    assert r.rc == EXIT_OK, r
    assert r.out == "", r


def test_logs_follow_a_live_worker(cli):
    """`logs -f`: the tail, then every new line as the worker writes it."""
    uuid = cli.new_worker("live", start=True)
    cli.wait_worker_pid(uuid)
    port = cli.worker_json(uuid)["port"]
    wait_for(lambda: any("WebSocket server running" in l for l in
                         file_lines(cli.worker_log(uuid))), T(10),
             "the worker's start-up lines in worker.log")
    p = cli.popen("worker", "--name", "live", "logs", "-f", "-n", "3")
    p.out.wait(lambda l: "WebSocket server running" in l, T(20),
               "the tail of the log")
    assert p.poll() is None, "logs -f ended"

    # The worker itself writes: an unknown command makes it log an error.
    marker = "say_%s" % uuidlib.uuid4().hex
    reply = worker_cmd(port, marker)
    assert reply and reply["type"] == "error", reply
    p.out.wait(lambda l: marker in l, T(10), "the worker's own log line")

    # A line appended to worker.log by someone else.
    marker2 = "appended-%s" % uuidlib.uuid4().hex
    with open(cli.worker_log(uuid), "a") as f:
        f.write(marker2 + "\n")
    p.out.wait(lambda l: l == marker2, T(10), "the appended line")

    # A line written in two pieces comes out once, whole.
    marker3 = "pieces-%s" % uuidlib.uuid4().hex
    with open(cli.worker_log(uuid), "a") as f:
        f.write(marker3[:10])
        f.flush()
        f.write(marker3[10:] + "\n")
    p.out.wait(lambda l: l == marker3, T(10), "the line written in pieces")
    assert p.out.lines.count(marker2) == 1
    assert p.poll() is None, "logs -f ended by itself"

    p.send_signal(signal.SIGTERM)
    p.wait(T(10))
    # The manager carries on without the follower.
    with open(cli.worker_log(uuid), "a") as f:
        f.write("after the follower left\n")
    cli.run("--no-start", "ping").ok()
    r = cli.run("worker", "--name", "live", "logs", "-n", "1").ok()
    assert r.out == "after the follower left\n", r


def test_logs_follow_sees_a_restart(cli):
    """-f keeps following across a restart of the worker (the new process
    appends its start-up lines)."""
    uuid = cli.new_worker("again", start=True)
    pid1 = cli.wait_worker_pid(uuid)
    p = cli.popen("worker", "--name", "again", "logs", "-f", "-n", "0")
    # -n 0: nothing yet; wait until the follower is registered by writing and seeing it.
    # a line (again and again: it may come before the follower is) and
    # seeing it.
    probe = "probe-%s" % uuidlib.uuid4().hex

    def seen():
        if any(l.startswith(probe) for l in p.out.lines):
            return True
        with open(cli.worker_log(uuid), "a") as f:
            f.write(probe + "\n")
        return False
    wait_for(seen, T(10), "a probe line", interval=0.2)
    r = cli.run("worker", "--name", "again", "restart", timeout=90).ok()
    assert "pid %d" % pid1 not in r.out
    p.out.wait(lambda l: "Starting worker %s (pid" % uuid in l and
               "pid %d," % pid1 not in l, T(20),
               "the restarted worker's start-up line")
    p.kill()
