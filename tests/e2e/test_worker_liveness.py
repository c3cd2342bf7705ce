"""Liveness: a worker whose process runs but does not answer its identity
probe for liveness_timeout is shown unresponsive (CLI, worker_details,
the worker_status entry, /metrics) and, after as long again, stopped and
restarted by its restart policy, recorded as liveness; one that answers
again in time is running again, same process."""
import json
import os
import re
import time
import urllib.request

from cli_util import (FNWM_CONFIG, T, cli, wait_for,  # noqa: F401
                      worker_pids, ws_request)

POLICY = {"healthy_after": 60, "backoff_initial": 0.2, "backoff_max": 0.2,
          "giveup_count": 10, "giveup_window": 60}


def configure(cli, liveness):
    cfg = dict(FNWM_CONFIG, probe_interval=0.5, liveness_timeout=liveness,
               stop_timeout=1, kill_timeout=1, activate_timeout=3)
    cli.write_config({"fnwm": cfg})


def set_json(cli, uuid, **keys):
    path = os.path.join(cli.workers_dir, "worker_%s.json" % uuid)
    with open(path) as f:
        doc = json.load(f)
    doc.update(keys)
    with open(path + ".tmp-test", "w") as f:
        json.dump(doc, f, indent=2)
    os.rename(path + ".tmp-test", path)


def state(cli, uuid):
    return cli.status(uuid)["state"]


def metrics(cli):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % cli.port,
                                timeout=T(5)) as r:
        return r.read().decode()


def status_entry(cli, uuid):
    st = cli.worker_status()
    for e in st["active"] + st["inactive"]:
        if e.get("uuid") == uuid:
            return e
    raise AssertionError("%s not in %s" % (uuid, st))


def test_never_listening_worker_is_unresponsive_then_restarted(cli):
    configure(cli, 2)
    uuid = cli.new_worker("hung")
    set_json(cli, uuid, fnwm=POLICY, test_behaviour={"never_ready": True})
    # It never answers: the start gives up after activate_timeout.
    r = cli.run("worker", "--uuid", uuid, "start", timeout=60)
    assert r.rc == 1, r
    pid = cli.wait_worker_pid(uuid)
    wait_for(lambda: state(cli, uuid) == "unresponsive", T(15),
             "the worker to be shown unresponsive")
    # Stopped (TERM) and started again by its policy: a new process.
    new = wait_for(lambda: [p for p in worker_pids(uuid) if p != pid],
                   T(20), "a new worker process")
    assert len(new) == 1
    rows = cli.full_details(uuid)["history"]
    assert rows[0]["reason"] == "liveness", rows
    assert rows[0]["signal"] == 15, rows
    h = cli.run("worker", "--uuid", uuid, "history").ok().out
    assert re.search(r"signal 15 .* liveness", h), h
    assert re.search(r'fnwm_worker_exits_total\{uuid="%s",name="hung",'
                     r'reason="liveness"\} [1-9]' % re.escape(uuid),
                     metrics(cli))
    log = cli.read_manager_log()
    assert "unresponsive" in log and "(liveness)" in log, log


def test_stalled_worker_recovers_and_is_running_again(cli):
    # Room for the checks below between unresponsive and the restart.
    configure(cli, T(4))
    stall = os.path.join(cli.dir, "stall")
    uuid = cli.new_worker("stall")
    set_json(cli, uuid, fnwm=POLICY, test_behaviour={"stall_file": stall})
    cli.run("worker", "--uuid", uuid, "start", timeout=60).ok()
    pid = cli.wait_worker_pid(uuid)
    assert state(cli, uuid) == "running"
    open(stall, "w").close()
    wait_for(lambda: state(cli, uuid) == "unresponsive", T(15),
             "the stalled worker to be shown unresponsive")
    wait_for(lambda: status_entry(cli, uuid).get("unresponsive") is True,
             T(5), "the worker_status entry to say unresponsive")
    assert re.search(r'fnwm_workers\{state="unresponsive"\} 1\n',
                     metrics(cli))
    rows = [l for l in cli.run("worker", "list").ok().out.splitlines()
            if uuid in l]
    assert " unresponsive " in rows[0], rows
    os.unlink(stall)
    wait_for(lambda: state(cli, uuid) == "running", T(10),
             "the worker to answer again")
    assert worker_pids(uuid) == [pid]
    # The worker_status entry follows within the registry's debounce.
    wait_for(lambda: "unresponsive" not in status_entry(cli, uuid), T(5),
             "the worker_status entry to drop unresponsive")
    assert cli.full_details(uuid)["history"] == []
    wait_for(lambda: re.search(r'fnwm_workers\{state="unresponsive"\} 0\n',
                               metrics(cli)), T(5),
             "/metrics to count no unresponsive worker")
    assert "answers again" in cli.read_manager_log()


def test_liveness_off(cli):
    """liveness_timeout 0 (here per worker): never unresponsive."""
    configure(cli, 1)
    uuid = cli.new_worker("off")
    set_json(cli, uuid, fnwm=dict(POLICY, liveness_timeout=0),
             test_behaviour={"never_ready": True})
    cli.run("worker", "--uuid", uuid, "start", timeout=60)
    pid = cli.wait_worker_pid(uuid)
    deadline = T(5)
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline:
        assert state(cli, uuid) != "unresponsive"
        time.sleep(0.3)
    assert worker_pids(uuid) == [pid]
    assert cli.details(uuid)["liveness_timeout"] == 0
