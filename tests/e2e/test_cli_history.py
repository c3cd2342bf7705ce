"""The exit history of a worker (`fnwm worker history`, worker_details'
"history", /metrics' fnwm_worker_exits_total): kept in its monitor's
.status across the death of the master and of the monitor, with an
adopted worker's exit told as of unknown status."""
import json
import os
import re
import signal
import urllib.request

from cli_util import T, cli, pid_alive, wait_for, worker_pids  # noqa: F401
from workers_util import monitor_pids

POLICY = {"healthy_after": 60, "backoff_initial": 0.2, "backoff_max": 0.2,
          "giveup_count": 4, "giveup_window": 60}

ROW_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +(.+?) +(\d+\.\d+s|\S+)"
                    r"  (\S+)$")


def set_json(cli, uuid, **keys):
    path = os.path.join(cli.workers_dir, "worker_%s.json" % uuid)
    with open(path) as f:
        doc = json.load(f)
    doc.update(keys)
    tmp = path + ".tmp-test"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
    os.rename(tmp, path)


def history(cli, uuid):
    """`worker history` as [(exit text, reason)], and its last line."""
    r = cli.run("worker", "--uuid", uuid, "history").ok()
    lines = r.lines
    if lines and lines[0].startswith("no exits"):
        return [], lines[0]
    assert lines[0].split()[:3] == ["TIME", "(UTC)", "EXIT"], r
    rows = []
    for l in lines[1:-1]:
        m = ROW_RE.match(l)
        assert m, "bad history row %r in %r" % (l, r)
        rows.append((m.group(1).strip(), m.group(3)))
    return rows, lines[-1]


def test_history_survives_monitor_and_master_kill9(cli):
    uuid = cli.new_worker("hist", start=True)
    set_json(cli, uuid, fnwm=POLICY)
    pid = cli.wait_worker_pid(uuid)
    assert history(cli, uuid) == ([], "no exits recorded for worker %s"
                                  % uuid)

    # A crash: the monitor restarts it and records the exit.
    os.kill(pid, signal.SIGKILL)
    pid2 = wait_for(lambda: [p for p in worker_pids(uuid) if p != pid],
                    T(15), "the restarted worker")[0]
    wait_for(lambda: history(cli, uuid)[0] == [("signal 9", "crash")],
             T(10), "the crash in the history")

    # The monitor dies: its replacement adopts the worker, history kept.
    [mon] = monitor_pids(uuid)
    os.kill(mon, signal.SIGKILL)
    wait_for(lambda: monitor_pids(uuid) and monitor_pids(uuid) != [mon],
             T(15), "a new monitor")
    assert worker_pids(uuid) == [pid2]
    # The master dies too; the next command starts a new one.
    [mpid] = cli.manager_pids()
    os.kill(mpid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(mpid), T(10), "the master to die")
    assert history(cli, uuid)[0] == [("signal 9", "crash")]
    assert worker_pids(uuid) == [pid2]

    # Stopped on request while adopted: not our child, status unknown.
    cli.run("worker", "--uuid", uuid, "stop", timeout=90).ok()
    rows, total = history(cli, uuid)
    assert rows == [("signal 9", "crash"),
                    ("exit status unknown (adopted)", "stop")], rows
    assert total == "exits in all: 1 crash, 1 stop", total
    det = cli.full_details(uuid)
    assert [h["reason"] for h in det["history"]] == ["crash", "stop"]
    assert det["history"][1]["unknown"] is True
    assert det["history"][1]["code"] is None
    assert det["exits"]["crash"] == 1 and det["exits"]["stop"] == 1
    # The CLI's table asks without the exits, only their totals.
    brief = cli.details(uuid)
    assert "history" not in brief and brief["exits"] == det["exits"]
    # The monitor's own log says so too, not a made-up -1.
    log = open(cli.manager_log, errors="replace").read() + "".join(
        open(os.path.join(cli.logs_dir, n), errors="replace").read()
        for n in os.listdir(cli.logs_dir) if n != "fnwm-manager.log")
    assert "exit status unknown (adopted)" in log
    assert "worker exited (status -1)" not in log

    # /metrics counts exits by reason.
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % cli.port,
                                timeout=T(5)) as resp:
        text = resp.read().decode()
    assert re.search(r'fnwm_worker_exits_total\{uuid="%s",name="hist",'
                     r'reason="crash"\} 1\n' % re.escape(uuid), text), text
    assert re.search(r'fnwm_worker_exits_total\{uuid="%s",name="hist",'
                     r'reason="stop"\} 1\n' % re.escape(uuid), text), text


def test_history_of_a_crash_loop(cli):
    """A worker that crashes soon after every start: crash, crash, crash,
    and the restart policy gives up on the fourth."""
    uuid = cli.new_worker("loop")
    set_json(cli, uuid, fnwm=POLICY,
             test_behaviour={"crash_after": 0.3})
    cli.run("worker", "--uuid", uuid, "start", timeout=90)
    wait_for(lambda: cli.status(uuid)["state"] == "failed", T(30),
             "the restart policy to give up")
    rows, total = history(cli, uuid)
    assert rows == [("status 1", "crash")] * 3 + [("status 1", "gave-up")]
    assert total == "exits in all: 3 crash, 1 gave-up", total
    r = cli.run("worker", "--uuid", uuid, "history").ok()
    print(r.out)
