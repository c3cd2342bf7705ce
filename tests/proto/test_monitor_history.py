"""fnwm-monitor's exit history (the exit= lines of worker_<uuid>.status)
and its stop of a worker that does not answer (CMD_UNRESPONSIVE), driven
over the channel with real worker processes (sleeper.py)."""
import os
import signal
import time

from harness import (
    MON_EXIT_OK, MSG_HELLO, MSG_MON_EXIT, MSG_MON_STATE, P, RESTART_NEVER,
    RESTART_ON_FAILURE, T, WS_BACKOFF, WS_DOWN, WS_FAILED, WS_RUNNING,
    WS_STARTING, WS_STOPPING, pid_alive, read_file, start_worker,
    stop_payload, wait_for, workers_of)

MSG_CMD_UNRESPONSIVE = P["FNWM_MSG_CMD_UNRESPONSIVE"]
HISTORY_MAX = P["FNWM_HISTORY_MAX"] if "FNWM_HISTORY_MAX" in P else 20


def history(w):
    """The exit= lines of the .status: [(at_ms, how, ran_ms, reason)]."""
    text = read_file(w.path(".status")) or ""
    out = []
    for line in text.splitlines():
        if line.startswith("exit="):
            at, how, ran, reason = line[5:].split(" ")
            out.append((int(at), how, int(ran), reason))
    return out


def totals(w):
    st = w.status() or {}
    return {k[6:]: int(v) for k, v in st.items() if k.startswith("exits_")}


def test_crash_loop_is_recorded(w):
    """Three quick deaths with status 7 and a give-up after the third:
    crash, crash, gave-up, oldest first, with times and run lengths."""
    t0 = int(time.time() * 1000)
    m = w.monitor()
    m.config(w.argv(exit_after=0, code=7), w.log,
             restart=RESTART_ON_FAILURE, healthy_ms=10000,
             backoff_initial_ms=50, backoff_max_ms=50, giveup_count=3,
             giveup_window_ms=10000)
    m.start()
    m.expect_state(WS_FAILED, skip=(MSG_MON_STATE, MSG_MON_EXIT),
                   timeout=T(5))
    wait_for(lambda: (w.status() or {}).get("state") == "failed", T(2),
             what=".status failed")
    h = history(w)
    assert [(how, why) for _, how, _, why in h] == [
        ("status:7", "crash"), ("status:7", "crash"), ("status:7", "gave-up")]
    now = int(time.time() * 1000)
    assert all(t0 <= at <= now for at, _, _, _ in h), h
    assert [at for at, _, _, _ in h] == sorted(at for at, _, _, _ in h)
    assert all(0 <= ran < 5000 for _, _, ran, _ in h), h
    t = totals(w)
    assert (t["crash"], t["gave_up"], t["stop"]) == (2, 1, 0), t


def test_history_keeps_the_last_twenty(w):
    """A worker that always dies: only the last 20 exits stay; the totals
    count them all."""
    m = w.monitor()
    m.config(w.argv(exit_after=0, code=3), w.log,
             restart=RESTART_ON_FAILURE, healthy_ms=10000,
             backoff_initial_ms=1, backoff_max_ms=1, giveup_count=25,
             giveup_window_ms=60000)
    m.start()
    m.expect_state(WS_FAILED, skip=(MSG_MON_STATE, MSG_MON_EXIT),
                   timeout=T(30))
    wait_for(lambda: (w.status() or {}).get("state") == "failed", T(2),
             what=".status failed")
    h = history(w)
    assert len(h) == HISTORY_MAX, h
    assert h[-1][3] == "gave-up" and all(x[3] == "crash" for x in h[:-1])
    t = totals(w)
    assert (t["crash"], t["gave_up"]) == (24, 1), t


def test_stop_and_restart_are_recorded(w):
    m = w.monitor()
    st = start_worker(w, m)
    m.restart(0, 1000)
    m.expect_state(WS_STOPPING, pid=st.pid)
    m.expect(MSG_MON_EXIT, pid=st.pid, signal=signal.SIGTERM)
    st2 = m.expect_state(WS_STARTING)
    wait_for(lambda: w.p_pid() == st2.pid, T(5), what="the new .p")
    m.stop(0, 1000)
    m.expect_state(WS_STOPPING, pid=st2.pid)
    m.expect(MSG_MON_EXIT, pid=st2.pid, signal=signal.SIGTERM)
    m.expect_state(WS_DOWN)
    wait_for(lambda: len(history(w)) == 2, T(2), what="two exits")
    assert [(how, why) for _, how, _, why in history(w)] == [
        ("signal:15", "restart"), ("signal:15", "stop")]


def test_history_survives_a_monitor_kill_and_adoption(w):
    """Monitor A records a crash; A is killed with SIGKILL; B adopts the
    running worker and carries the history on. The adopted worker's death
    (not B's child) is recorded and logged as of unknown status, with the
    run measured from the process's own start."""
    a = w.monitor()
    st = start_worker(w, a, healthy_ms=10000, backoff_initial_ms=50,
                      backoff_max_ms=50)
    os.kill(st.pid, signal.SIGKILL)
    a.expect(MSG_MON_EXIT, pid=st.pid, signal=signal.SIGKILL)
    st2 = a.expect_state(WS_STARTING, skip=(MSG_MON_STATE,))
    wait_for(lambda: w.p_pid() == st2.pid, T(5), what="the new .p")
    wait_for(lambda: len(history(w)) == 1, T(2), what="one exit")
    a.signal(signal.SIGKILL)
    a.wait()
    assert pid_alive(st2.pid)
    time.sleep(0.3)

    b = w.monitor(handshake=False)
    b.expect_state(WS_RUNNING, skip=(MSG_HELLO,), pid=st2.pid)
    wait_for(lambda: (w.status() or {}).get("monitor") == str(b.pid), T(2),
             what="B's .status")
    assert [(how, why) for _, how, _, why in history(w)] == [
        ("signal:9", "crash")]
    b.config(w.argv(), w.log, healthy_ms=10000, backoff_initial_ms=50,
             backoff_max_ms=50)
    os.kill(st2.pid, signal.SIGKILL)
    b.expect(MSG_MON_EXIT, pid=st2.pid, code=-1, signal=0)
    wait_for(lambda: len(history(w)) == 2, T(2), what="two exits")
    h = history(w)
    assert [(how, why) for _, how, _, why in h] == [
        ("signal:9", "crash"), ("unknown", "crash")]
    assert h[1][2] >= 300, h  # it ran since before B adopted it
    assert "exit status unknown (adopted)" in b.stderr()
    assert "status -1" not in b.stderr()
    assert totals(w)["crash"] == 2


def test_unresponsive_worker_is_stopped_then_restarted_by_policy(w):
    """CMD_UNRESPONSIVE: stopping (TERM after term_after_ms), and the
    exit goes to the restart policy as a failure: a quick one backs off,
    then a new process starts. Recorded as liveness."""
    m = w.monitor()
    st = start_worker(w, m, healthy_ms=10000, backoff_initial_ms=50,
                      backoff_max_ms=50)
    m.send(MSG_CMD_UNRESPONSIVE, stop_payload(100, 1000))
    m.expect_state(WS_STOPPING, pid=st.pid)
    m.expect(MSG_MON_EXIT, pid=st.pid, signal=signal.SIGTERM)
    m.expect_state(WS_BACKOFF, pid=0, restarts=1,
                   last_exit=-signal.SIGTERM)
    st2 = m.expect_state(WS_STARTING)
    assert st2.pid not in (0, st.pid)
    wait_for(lambda: w.p_pid() == st2.pid, T(5), what="the new .p")
    assert [(how, why) for _, how, _, why in history(w)] == [
        ("signal:15", "liveness")]
    assert totals(w)["liveness"] == 1


def test_unresponsive_worker_with_policy_never_stays_down(w):
    m = w.monitor()
    st = start_worker(w, m, restart=RESTART_NEVER)
    m.send(MSG_CMD_UNRESPONSIVE, stop_payload(0, 1000))
    m.expect_state(WS_STOPPING, pid=st.pid)
    m.expect(MSG_MON_EXIT, pid=st.pid, signal=signal.SIGTERM)
    m.expect_state(WS_DOWN, pid=0)
    m.expect_none(T(0.3))
    assert workers_of(w.uuid) == []


def test_stop_while_stopping_an_unresponsive_worker_wins(w):
    """A stop asked for while an unresponsive worker is being stopped:
    down, no restart, recorded as a requested stop."""
    m = w.monitor()
    st = start_worker(w, m, ignore_term=True, healthy_ms=10000,
                      backoff_initial_ms=50, backoff_max_ms=50)
    m.send(MSG_CMD_UNRESPONSIVE, stop_payload(0, 500))
    m.expect_state(WS_STOPPING, pid=st.pid)
    m.stop(0, 500)
    m.expect(MSG_MON_EXIT, pid=st.pid, signal=signal.SIGKILL, timeout=T(3))
    m.expect_state(WS_DOWN, pid=0)
    m.expect_none(T(0.3))
    assert workers_of(w.uuid) == []
    wait_for(lambda: len(history(w)) == 1, T(2), what="one exit")
    assert history(w)[0][1:2] == ("signal:9",) and \
        history(w)[0][3] == "stop"
    m.exit(0, 0)
    m.expect_eof()
    assert m.wait() == MON_EXIT_OK
