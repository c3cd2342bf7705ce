"""fnwm-monitor over its channel, with this test as the master (proto layer).

Tables where they fit, in the manner of redis' protocol.tcl: the bytes a
master may write, and what the monitor must do about them. A malformed
frame closes the channel, never the monitor while it has a worker to
supervise; with nothing to supervise the monitor exits 0 once its channel
is gone. Deadlines are reads with timeouts or polls (harness.wait_for);
the only fixed pauses split writes so that the monitor reads them apart,
or check that something does not happen within a window.
"""
import fcntl
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from harness import (
    ARGV_MAX, ERROR_MAX, EXIT, HDR, INT32_MIN, LAYOUTS, MON_EXIT_LOCKED,
    MON_EXIT_OK, MON_EXIT_PERMANENT, MSG_CMD_CONFIG, MSG_CMD_EXIT,
    MSG_CMD_RESTART, MSG_CMD_START, MSG_CMD_STOP, MSG_ERROR, MSG_HELLO,
    MSG_MAX, MSG_MON_EXIT, MSG_MON_STATE, PROTO_VERSION, RESTART_ALWAYS,
    RESTART_MAX, RESTART_NEVER, RESTART_ON_FAILURE, ROLE_MONITOR, STATE, T,
    WS_BACKOFF, WS_DOWN, WS_FAILED, WS_RUNNING, WS_STARTING, WS_STOPPING,
    ChannelClosed, assert_stays, c_layout, config_fixed, config_payload,
    frame, hello_payload, pid_alive, prime_fast_stop, proc_cmdline,
    proc_pgid, processes_of, py_layout, read_file, start_worker,
    stop_payload, wait_for, workers_of)

# ----------------------------------------------------------------------------
# the wire


def test_wire_layout(tmp_path):
    """The harness packs every struct as cc lays out common/proto.h."""
    try:
        c = c_layout(str(tmp_path))
    except FileNotFoundError:
        pytest.skip("no C compiler")
    for name in LAYOUTS:
        assert c[name] == py_layout(name), name


# ----------------------------------------------------------------------------
# malformed frames


def _state_payload():
    return STATE.build(state=WS_RUNNING, pid=1)


STOP8 = stop_payload(0, 1000)
# A CONFIG's strings: the log path, then argv. /dev/null: harmless should
# a monitor take a bad CONFIG for a good one.
MALFORMED = [
    # id, bytes written by the master
    ("len-0", frame(MSG_CMD_START, length=0)),
    ("len-below-header", frame(MSG_CMD_START, length=HDR.size - 1)),
    ("len-above-max", frame(MSG_CMD_CONFIG,
                            b"\0" * (MSG_MAX - HDR.size + 1))),
    ("len-4GiB-header-only", frame(MSG_CMD_START, length=0xFFFFFFFF)),
    ("unknown-type", frame(999)),
    ("type-0", frame(0)),
    ("version-0", frame(MSG_CMD_START, version=0)),
    ("version-previous", frame(MSG_CMD_START, version=PROTO_VERSION - 1)),
    ("version-next", frame(MSG_CMD_START, version=PROTO_VERSION + 1)),
    ("version-255", frame(MSG_CMD_START, version=255)),
    ("flags-1", frame(MSG_CMD_START, flags=1)),
    ("flags-0x80", frame(MSG_CMD_START, flags=0x80)),
    ("stop-payload-1-short", frame(MSG_CMD_STOP, STOP8[:-1])),
    ("stop-payload-1-long", frame(MSG_CMD_STOP, STOP8 + b"\0")),
    ("exit-payload-empty", frame(MSG_CMD_EXIT)),
    ("start-with-payload", frame(MSG_CMD_START, b"\0")),
    ("hello-payload-1-short", frame(MSG_HELLO, hello_payload()[:-1])),
    ("error-empty", frame(MSG_ERROR)),
    ("error-without-nul", frame(MSG_ERROR, b"oops")),
    ("error-too-long", frame(MSG_ERROR, b"x" * ERROR_MAX + b"\0")),
    ("config-fixed-part-only", frame(MSG_CMD_CONFIG, config_fixed(1))),
    ("config-without-final-nul", frame(
        MSG_CMD_CONFIG, config_fixed(1) + b"/dev/null\0/bin/true")),
    ("config-argc-beyond-strings", frame(
        MSG_CMD_CONFIG, config_fixed(3) + b"/dev/null\0/bin/true\0")),
    ("mon-state-from-master", frame(MSG_MON_STATE, _state_payload())),
    ("mon-exit-from-master", frame(MSG_MON_EXIT, EXIT.build(pid=1))),
]
MALFORMED_IDS = [c[0] for c in MALFORMED]
MALFORMED_DATA = [c[1] for c in MALFORMED]


@pytest.mark.parametrize("data", MALFORMED_DATA, ids=MALFORMED_IDS)
def test_malformed_frame_with_worker(w, data):
    """Closes the channel; the monitor and its worker live on; SIGTERM
    then stops the worker and the monitor exits 0."""
    m = w.monitor()
    start_worker(w, m)
    st = prime_fast_stop(w, m)
    m.send_raw(data)
    got = m.expect_eof(T(2))
    assert all(f.type == MSG_ERROR for f in got), got
    assert_stays(lambda: m.alive() and pid_alive(st.pid), T(0.2),
                 what="monitor and worker alive")
    assert workers_of(w.uuid) == [st.pid]
    m.signal(signal.SIGTERM)
    assert m.wait() == MON_EXIT_OK
    # The monitor stopped (and reaped) its worker before it exited.
    assert not pid_alive(st.pid)
    assert workers_of(w.uuid) == []
    assert_left_down(w, reason="stop")


@pytest.mark.parametrize("data", MALFORMED_DATA, ids=MALFORMED_IDS)
def test_malformed_frame_without_worker(w, data):
    """Closes the channel; with nothing to supervise the monitor exits 0."""
    m = w.monitor()
    m.config(w.argv(), w.log)
    m.send_raw(data)
    got = m.expect_eof(T(2))
    assert all(f.type == MSG_ERROR for f in got), got
    assert m.wait(T(2)) == MON_EXIT_OK
    assert workers_of(w.uuid) == []


# ----------------------------------------------------------------------------
# valid frames that must not be errors


def _split_writes(m, data, cuts):
    """Writes data in pieces at cuts, pausing so that the monitor reads
    each piece on its own (a pause, not a wait for a state)."""
    prev = 0
    for c in list(cuts) + [len(data)]:
        if c > prev:
            m.send_raw(data[prev:c])
            time.sleep(0.02)
        prev = c


def _config_start_stream(w):
    cfg = frame(MSG_CMD_CONFIG, config_payload(w.argv(), w.log), seq=1)
    return cfg, cfg + frame(MSG_CMD_START, seq=2)


SPLITS = [
    # id, where the CONFIG+START stream is cut, as a function of len(CONFIG)
    ("config-header-1", lambda c: [1]),
    ("config-header-mid-len", lambda c: [2]),
    ("config-header-after-len", lambda c: [4]),
    ("config-header-mid-type", lambda c: [5]),
    ("config-header-before-seq", lambda c: [8]),
    ("config-header-11", lambda c: [11]),
    ("config-header-payload", lambda c: [12]),
    ("config-payload", lambda c: [20]),
    ("config-last-byte", lambda c: [c - 1]),
    ("start-header", lambda c: [c + 5]),
    ("both-headers", lambda c: [3, c + 7]),
]


@pytest.mark.parametrize("cuts", [s[1] for s in SPLITS],
                         ids=[s[0] for s in SPLITS])
def test_split_frames(w, cuts):
    m = w.monitor()
    cfg, stream = _config_start_stream(w)
    _split_writes(m, stream, cuts(len(cfg)))
    st = m.expect_state(WS_STARTING)
    wait_for(lambda: w.p_pid() == st.pid, T(5), what="the worker's .p")


def test_byte_by_byte(w):
    m = w.monitor()
    _, stream = _config_start_stream(w)
    for i in range(len(stream)):
        m.send_raw(stream[i:i + 1])
        time.sleep(0.001)
    st = m.expect_state(WS_STARTING)
    wait_for(lambda: w.p_pid() == st.pid, T(5), what="the worker's .p")


ACCEPTED = [
    # id, a frame the monitor takes without a reply and without closing
    ("hello", frame(MSG_HELLO, hello_payload())),
    ("hello-seq-max", frame(MSG_HELLO, hello_payload(), seq=0xFFFFFFFF)),
    ("error-nul-only", frame(MSG_ERROR, b"\0")),
    ("error-text", frame(MSG_ERROR, b"the master is unhappy\0")),
    ("error-max", frame(MSG_ERROR, b"e" * (ERROR_MAX - 1) + b"\0")),
    ("error-binary", frame(MSG_ERROR, bytes(range(1, 256)) + b"\0")),
    ("stop-when-down", frame(MSG_CMD_STOP, STOP8)),
]


@pytest.mark.parametrize("data", [a[1] for a in ACCEPTED],
                         ids=[a[0] for a in ACCEPTED])
def test_accepted_frame(w, data):
    m = w.monitor()
    m.send_raw(data)
    # The next frame is the answer to this probe: nothing came before it.
    m.send(MSG_CMD_START)
    e = m.expect(MSG_ERROR)
    assert e.text == "start before configuration"
    assert m.alive()


SEMANTIC = [
    # id, a well-formed frame the monitor must refuse with an ERROR frame,
    # keeping the channel (and staying unconfigured)
    ("start-unconfigured", frame(MSG_CMD_START), "start before configuration"),
    ("restart-unconfigured", frame(MSG_CMD_RESTART, STOP8),
     "restart before configuration"),
    ("config-argc-0", frame(MSG_CMD_CONFIG, config_fixed(0) + b"/dev/null\0"),
     "bad configuration"),
    ("config-argc-33", frame(MSG_CMD_CONFIG, config_fixed(ARGV_MAX + 1)
                             + b"/dev/null\0" + b"x\0" * (ARGV_MAX + 1)),
     "bad configuration"),
    ("config-restart-mode-3", frame(
        MSG_CMD_CONFIG,
        config_fixed(1, restart=RESTART_MAX) + b"/dev/null\0/bin/true\0"),
     "bad configuration"),
    ("config-backoff-0", frame(
        MSG_CMD_CONFIG,
        config_fixed(1, backoff_initial_ms=0) + b"/dev/null\0/bin/true\0"),
     "bad configuration"),
    ("config-backoff-max-below-initial", frame(
        MSG_CMD_CONFIG,
        config_fixed(1, backoff_initial_ms=100, backoff_max_ms=99)
        + b"/dev/null\0/bin/true\0"),
     "bad configuration"),
]


@pytest.mark.parametrize("data,reason", [s[1:] for s in SEMANTIC],
                         ids=[s[0] for s in SEMANTIC])
def test_refused_command(w, data, reason):
    m = w.monitor()
    m.send_raw(data)
    e = m.expect(MSG_ERROR)
    assert e.text == reason
    # Still unconfigured, channel still open.
    m.send(MSG_CMD_START)
    e = m.expect(MSG_ERROR)
    assert e.text == "start before configuration"
    assert workers_of(w.uuid) == []


def _max_config_argv(w, total):
    """A CONFIG frame of exactly total bytes with ARGV_MAX - 1 strings."""
    base = w.argv(stdout="big")
    pairs = (ARGV_MAX - len(base)) // 2
    fixed = len(frame(MSG_CMD_CONFIG, config_payload(base, w.log)))
    room = total - fixed - pairs * len(b"--pad\0") - pairs  # NULs
    sizes = [room // pairs] * pairs
    sizes[-1] += room - sum(sizes)
    argv = list(base)
    for i, n in enumerate(sizes):
        argv += ["--pad", ("%d" % i + "p" * n)[:n]]
    data = frame(MSG_CMD_CONFIG, config_payload(argv, w.log), seq=1)
    assert len(data) == total and len(argv) <= ARGV_MAX
    return argv, data


def test_config_of_max_size(w):
    """A CONFIG of exactly FNWM_MSG_MAX bytes is taken; argv arrives
    intact in the worker."""
    m = w.monitor()
    argv, data = _max_config_argv(w, MSG_MAX)
    m.send_raw(data)
    m.start()
    st = m.expect_state(WS_STARTING)
    wait_for(lambda: w.p_pid() == st.pid, T(5), what="the worker's .p")
    assert proc_cmdline(st.pid) == argv


def test_config_one_byte_over_max(w):
    m = w.monitor()
    _, data = _max_config_argv(w, MSG_MAX + 1)
    m.send_raw(data)
    assert m.expect_eof() == []
    assert m.wait() == MON_EXIT_OK


def test_frames_at_unaligned_offsets(w):
    """Frames back to back in one write put payloads at any offset of the
    monitor's read buffer (after an ERROR of odd length, an odd one). The
    structs must still be read correctly, without undefined behaviour
    (UBSan reports a misaligned access in the sanitizer build)."""
    m = w.monitor()
    odd = frame(MSG_ERROR, b"ab\0")  # 15 bytes
    assert len(odd) % 2 == 1
    m.send_raw(odd + frame(MSG_CMD_CONFIG,
                           config_payload(w.argv(), w.log, healthy_ms=60000))
               + odd + frame(MSG_CMD_START))
    st = m.expect_state(WS_STARTING)
    wait_for(lambda: w.p_pid() == st.pid, T(5), what="the worker's .p")
    m.send_raw(odd + odd + odd + frame(MSG_CMD_STOP, stop_payload(0, 1000)))
    m.expect_state(WS_STOPPING, pid=st.pid)
    m.expect(MSG_MON_EXIT, pid=st.pid, signal=signal.SIGTERM)
    m.expect_state(WS_DOWN)
    m.send_raw(odd + frame(MSG_CMD_EXIT, stop_payload(0, 0)))
    assert m.expect_eof() == []
    assert m.wait() == MON_EXIT_OK


def test_10000_frames_without_replies(w):
    """10,000 HELLO frames back to back, before and while the worker runs:
    the channel survives and nothing is answered. A START while running
    changes nothing but is answered with the unchanged state."""
    m = w.monitor()
    m.send_raw(frame(MSG_HELLO, hello_payload()) * 10000)
    m.send(MSG_CMD_START)
    assert m.expect(MSG_ERROR).text == "start before configuration"

    st = start_worker(w, m)
    m.send_raw(frame(MSG_HELLO, hello_payload()) * 10000)
    m.send(MSG_CMD_START)
    again = m.expect(MSG_MON_STATE, pid=st.pid)
    assert again.state in (WS_STARTING, WS_RUNNING), again
    m.stop(0, 1000)
    # expect() fails on any other frame: the 10,000 got no answer.
    m.expect_state(WS_STOPPING, pid=st.pid)
    m.expect(MSG_MON_EXIT, pid=st.pid, signal=signal.SIGTERM)
    m.expect_state(WS_DOWN, pid=0, last_exit=-signal.SIGTERM)
    assert workers_of(w.uuid) == []


def test_10000_frames_with_replies(w):
    """10,000 START before CONFIG, sent while the master reads: 10,000
    ERROR frames, none lost, channel open."""
    m = w.monitor()
    data = frame(MSG_CMD_START) * 10000
    failed = []

    def send():
        try:
            m.send_raw(data)
        except OSError as e:
            failed.append(e)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    try:
        for _ in range(10000):
            e = m.expect(MSG_ERROR, T(10))
            assert e.text == "start before configuration"
    finally:
        t.join(T(10))
    assert not failed, failed
    m.send(MSG_CMD_RESTART, STOP8)
    assert m.expect(MSG_ERROR).text == "restart before configuration"


# ----------------------------------------------------------------------------
# the worker's life


def test_happy_path(w):
    env = dict(os.environ, PATH="/usr/bin:/bin")
    m = w.monitor(env=env)
    hello = m.frames[0]
    assert hello.type == MSG_HELLO and hello.state == WS_DOWN
    assert hello.role == ROLE_MONITOR and hello.pid == m.pid
    st0 = m.frames[1]
    assert (st0.state, st0.pid, st0.flags, st0.restarts,
            st0.last_exit) == (WS_DOWN, 0, 0, 0, INT32_MIN), st0
    assert abs(st0.since_ms - time.time() * 1000) < T(5) * 1000

    # argv[0] without a '/' is searched on PATH.
    argv = w.argv(python="python3", stdout="out-" + w.uuid,
                  stderr="err-" + w.uuid)
    m.config(argv, w.log, restart=RESTART_ON_FAILURE, healthy_ms=10000,
             backoff_initial_ms=50, backoff_max_ms=200)
    m.start()
    st = m.expect_state(WS_STARTING, flags=0, restarts=0)
    assert st.pid > 0 and pid_alive(st.pid)
    wait_for(lambda: w.p_pid() == st.pid, T(5), what="the worker's .p")
    assert proc_cmdline(st.pid) == argv
    # The worker leads its own process group, in the monitor's session
    # (a session of its own would be a scheduling group of its own).
    assert proc_pgid(st.pid) == st.pid
    assert os.getsid(st.pid) == os.getsid(m.pid)
    wait_for(lambda: w.status() and w.status()["state"] == "starting",
             T(5), what=".status starting")
    status = w.status()
    assert status["pid"] == str(st.pid) and status["monitor"] == str(m.pid)
    # Its output lands in the configured log file.
    wait_for(lambda: ("out-" + w.uuid) in (read_file(w.log) or "") and
             ("err-" + w.uuid) in (read_file(w.log) or ""),
             T(5), what="stdout and stderr in the log")
    # It holds the run lock.
    fd = os.open(w.path(".run.lock"), os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)

    # kill -9: MON_EXIT, then backoff (a quick death), then a new worker.
    os.kill(st.pid, signal.SIGKILL)
    ex = m.expect(MSG_MON_EXIT, pid=st.pid, code=-1, signal=signal.SIGKILL)
    assert ex.uptime_ms < T(10) * 1000
    # The dead worker's .p went before the monitor said so.
    assert w.p_pid() != st.pid
    bo = m.expect_state(WS_BACKOFF, pid=0, restarts=1,
                        last_exit=-signal.SIGKILL)
    assert bo.next_start_ms - bo.since_ms == 50
    st2 = m.expect_state(WS_STARTING, restarts=1)
    assert st2.pid > 0 and st2.pid != st.pid
    wait_for(lambda: w.p_pid() == st2.pid, T(5), what="the new .p")
    assert workers_of(w.uuid) == [st2.pid]
    wait_for(lambda: (read_file(w.log) or "").count("out-" + w.uuid) == 2,
             T(5), what="the new worker's output appended to the log")

    # STOP: stopping, TERM after term_after_ms, down.
    m.stop(100, 2000)
    m.expect_state(WS_STOPPING, pid=st2.pid)
    ex = m.expect(MSG_MON_EXIT, pid=st2.pid, signal=signal.SIGTERM)
    assert ex.uptime_ms >= 100
    m.expect_state(WS_DOWN, pid=0, last_exit=-signal.SIGTERM)
    assert not pid_alive(st2.pid)
    assert w.p_pid() is None
    # The .status follows the frame (the master is told first).
    wait_for(lambda: (w.status() or {}).get("state") == "down", T(2),
             what=".status down")

    # EXIT: the monitor exits 0, closes the channel, and leaves a .status
    # that says down (not meant to run) with the exit history.
    m.exit(0, 0)
    assert m.expect_eof() == []
    assert m.wait() == MON_EXIT_OK
    assert_left_down(w, reason="stop")


POLICY = [
    # id, restart mode, worker's exit code, state after the exit
    ("never-exit-1", RESTART_NEVER, 1, WS_DOWN),
    ("never-exit-0", RESTART_NEVER, 0, WS_DOWN),
    ("on-failure-exit-0", RESTART_ON_FAILURE, 0, WS_DOWN),
    ("on-failure-exit-1", RESTART_ON_FAILURE, 1, WS_BACKOFF),
    ("always-exit-0", RESTART_ALWAYS, 0, WS_BACKOFF),
    ("always-exit-2", RESTART_ALWAYS, 2, WS_BACKOFF),
]


@pytest.mark.parametrize("mode,code,after", [p[1:] for p in POLICY],
                         ids=[p[0] for p in POLICY])
def test_restart_policy(w, mode, code, after):
    m = w.monitor()
    m.config(w.argv(exit_after=0, code=code), w.log, restart=mode,
             backoff_initial_ms=50, backoff_max_ms=200, giveup_count=0)
    m.start()
    st = m.expect_state(WS_STARTING)
    m.expect(MSG_MON_EXIT, pid=st.pid, code=code, signal=0)
    nxt = m.expect_state(after, pid=0, last_exit=code)
    if after == WS_DOWN:
        assert nxt.restarts == 0
        m.expect_none(T(0.5))  # ten times the backoff: no restart
        assert workers_of(w.uuid) == []
    else:
        assert nxt.restarts == 1
        assert nxt.next_start_ms - nxt.since_ms == 50
        st2 = m.expect_state(WS_STARTING)
        assert st2.pid not in (0, st.pid)
    m.exit(0, 1000)
    m.expect_eof()
    assert m.wait() == MON_EXIT_OK


def test_crash_loop_gives_up(w):
    """Backoff 50 ms doubling to at most 200, give up after 3 deaths in
    10 s: failed, then no further restarts; START begins afresh."""
    m = w.monitor()
    m.config(w.argv(exit_after=0, code=7), w.log,
             restart=RESTART_ON_FAILURE, healthy_ms=10000,
             backoff_initial_ms=50, backoff_max_ms=200, giveup_count=3,
             giveup_window_ms=10000)
    m.start()
    pids = []
    for delay in (50, 100, None):
        st = m.expect_state(WS_STARTING)
        pids.append(st.pid)
        m.expect(MSG_MON_EXIT, pid=st.pid, code=7, signal=0)
        if delay is None:
            break
        bo = m.expect_state(WS_BACKOFF, last_exit=7)
        assert bo.next_start_ms - bo.since_ms == delay
    m.expect_state(WS_FAILED, pid=0, last_exit=7, restarts=2)
    assert len(set(pids)) == 3
    m.expect_none(T(0.6))  # three times backoff_max: nothing restarts
    assert workers_of(w.uuid) == []
    wait_for(lambda: (w.status() or {}).get("state") == "failed", T(2),
             what=".status failed")
    # A START from the master begins afresh: a new tally.
    m.start()
    st = m.expect_state(WS_STARTING)
    assert st.pid not in pids
    m.expect(MSG_MON_EXIT, pid=st.pid, code=7)
    bo = m.expect_state(WS_BACKOFF)
    assert bo.next_start_ms - bo.since_ms == 50


def test_exec_failure_counts_as_a_crash(w):
    m = w.monitor()
    m.config(["/nonexistent/fnwm-proto-worker"], w.log, giveup_count=2,
             backoff_initial_ms=50, backoff_max_ms=50)
    m.start()
    st = m.expect_state(WS_STARTING)
    m.expect(MSG_MON_EXIT, pid=st.pid, code=127, signal=0)
    m.expect_state(WS_BACKOFF, last_exit=127)
    st = m.expect_state(WS_STARTING)
    m.expect(MSG_MON_EXIT, pid=st.pid, code=127, signal=0)
    m.expect_state(WS_FAILED, last_exit=127)
    assert "No such file or directory" in m.stderr()


def test_healthy_run_restarts_at_once(w):
    """A death after healthy_ms is not a crash: no backoff at all."""
    m = w.monitor()
    st = start_worker(w, m, healthy_ms=200, backoff_initial_ms=5000,
                      backoff_max_ms=5000)
    m.expect_state(WS_RUNNING, pid=st.pid, timeout=T(3))
    wait_for(lambda: (w.status() or {}).get("state") == "running", T(2),
             what=".status running")
    os.kill(st.pid, signal.SIGKILL)
    t0 = time.monotonic()
    ex = m.expect(MSG_MON_EXIT, pid=st.pid, signal=signal.SIGKILL)
    assert ex.uptime_ms >= 200
    # Straight to starting: no backoff state in between.
    st2 = m.expect_state(WS_STARTING, restarts=1, last_exit=-signal.SIGKILL)
    assert time.monotonic() - t0 < T(1.0)  # far below the 5 s backoff
    assert st2.pid not in (0, st.pid)
    wait_for(lambda: w.p_pid() == st2.pid, T(5), what="the new .p")


def _hold_run_lock(w):
    """A process this test starts (not a worker of the monitor) that takes
    the run lock and sleeps; returns it once it holds the lock."""
    code = ("import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n")
    p = subprocess.Popen(["/usr/bin/python3", "-S", "-c", code,
                          w.path(".run.lock"), "holder-of-" + w.uuid],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_run_lock_free_once_the_worker_is_gone(w):
    """The monitor takes the run lock for its worker before the fork and
    keeps no hold of its own: the worker holds it in its own name, and
    once the worker is gone, so is the lock."""
    m = w.monitor()
    st = start_worker(w, m, restart=RESTART_NEVER)
    # /proc/locks names the worker as the holder (what a new master and
    # an adopting monitor read), not the monitor that took it first.
    ino = os.stat(w.path(".run.lock")).st_ino
    with open("/proc/locks") as f:
        holders = [int(ln.split()[4]) for ln in f
                   if " FLOCK " in ln and "->" not in ln and
                   int(ln.split()[5].rsplit(":", 1)[1]) == ino]
    assert holders == [st.pid], (holders, st.pid, m.pid)
    fd = os.open(w.path(".run.lock"), os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.kill(st.pid, signal.SIGKILL)
        m.expect(MSG_MON_EXIT, pid=st.pid, signal=signal.SIGKILL)
        m.expect_state(WS_DOWN, pid=0)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_run_lock_held_at_restart_is_adopted_not_doubled(w):
    """Something else took the run lock while the worker was in backoff
    (and wrote no .p): the restart takes that holder over instead of
    starting a second worker beside it."""
    m = w.monitor()
    st = start_worker(w, m, backoff_initial_ms=1500, backoff_max_ms=1500)
    os.kill(st.pid, signal.SIGKILL)
    m.expect(MSG_MON_EXIT, pid=st.pid, signal=signal.SIGKILL)
    m.expect_state(WS_BACKOFF, pid=0)
    holder = _hold_run_lock(w)
    try:
        got = m.expect_state(WS_RUNNING, timeout=T(5),
                             skip=(MSG_MON_STATE,))
        assert (got.pid, got.flags) == (holder.pid, 1), got
        assert workers_of(w.uuid) == []  # no sleeper started beside it
    finally:
        holder.kill()
        holder.wait()
    # The holder's end is the adopted worker's exit: a real start follows.
    m.expect(MSG_MON_EXIT, pid=holder.pid, code=-1, signal=0)
    st2 = m.expect_state(WS_STARTING, skip=(MSG_MON_STATE,), timeout=T(5))
    wait_for(lambda: w.p_pid() == st2.pid, T(5), what="the new .p")
    assert workers_of(w.uuid) == [st2.pid]


ESCALATION = [
    # id, worker ignores TERM, term_after_ms, kill_after_ms, signal it dies
    # of, least time from STOP to its death (s)
    ("term-honoured", False, 300, 5000, signal.SIGTERM, 0.3),
    ("term-ignored-kill", True, 0, 300, signal.SIGKILL, 0.3),
    ("term-ignored-wait-then-kill", True, 200, 200, signal.SIGKILL, 0.4),
]


@pytest.mark.parametrize("ignore,term_ms,kill_ms,sig,least",
                         [e[1:] for e in ESCALATION],
                         ids=[e[0] for e in ESCALATION])
def test_stop_escalation(w, ignore, term_ms, kill_ms, sig, least):
    gcfile = os.path.join(w.tmp, "grandchild.pid")
    m = w.monitor()
    st = start_worker(w, m, ignore_term=ignore or None,
                      grandchild=gcfile if ignore else None)
    gc = None
    if ignore:
        gc = int(wait_for(lambda: read_file(gcfile), T(5),
                          what="the grandchild's pid"))
        assert proc_pgid(gc) == st.pid  # in the worker's group
    t0 = time.monotonic()
    m.stop(term_ms, kill_ms)
    m.expect_state(WS_STOPPING, pid=st.pid)
    m.expect(MSG_MON_EXIT, pid=st.pid, signal=sig, timeout=T(6))
    assert time.monotonic() - t0 >= least
    m.expect_state(WS_DOWN, pid=0, last_exit=-sig)
    if gc is not None:
        # SIGKILL went to the whole process group.
        wait_for(lambda: not pid_alive(gc), T(2), what="the grandchild gone")
    assert processes_of(w.uuid) == []


RUNSTATE = [
    # id, what the worker writes to its .runstate (None: nothing), how it
    # ends, the .runstate left once the monitor reported the end
    ("own-runstate-killed", "running", "kill", "stopped"),
    ("own-runstate-stopped", "running", "stop", "stopped"),
    ("no-runstate-killed", None, "kill", None),
]


@pytest.mark.parametrize("runstate,how,final", [r[1:] for r in RUNSTATE],
                         ids=[r[0] for r in RUNSTATE])
def test_final_runstate(w, runstate, how, final):
    """The monitor writes the final runstate "stopped" over the one of a
    worker that ended without removing its own (docs/protocol.md); it
    writes none for a worker that kept none."""
    m = w.monitor()
    st = start_worker(w, m, restart=RESTART_NEVER, runstate=runstate)
    if runstate is not None:
        wait_for(lambda: read_file(w.path(".runstate")) == runstate, T(5),
                 what="the worker's own .runstate")
    if how == "kill":
        os.kill(st.pid, signal.SIGKILL)
    else:
        m.stop(0, 1000)
        m.expect_state(WS_STOPPING)
    m.expect(MSG_MON_EXIT, pid=st.pid)
    m.expect_state(WS_DOWN)
    # The files follow the frame (the master is told first): wait for the
    # .status, written after the runstate.
    wait_for(lambda: (w.status() or {}).get("state") == "down", T(2),
             what=".status down")
    assert read_file(w.path(".runstate")) == final


# ----------------------------------------------------------------------------
# the channel gone, other monitors


def assert_left_down(w, reason):
    """The .status a monitor leaves when it exits: down, no worker, and
    its worker's last exit in the history with that reason."""
    st = w.status()
    assert st is not None, "no .status left"
    assert st["state"] == "down" and st["pid"] == "0", st
    assert st["exit"].split()[-1] == reason, st
    assert int(st["exits_" + reason]) >= 1, st


def test_master_gone_worker_supervised(w):
    """The master's end closes: the monitor keeps supervising (the healthy
    timer still fires, a killed worker is restarted); SIGTERM then stops
    the worker and the monitor exits 0."""
    m = w.monitor()
    start_worker(w, m, healthy_ms=300)
    st = prime_fast_stop(w, m)
    m.close_channel()
    wait_for(lambda: (w.status() or {}).get("state") == "running", T(3),
             what=".status running")
    assert w.status()["pid"] == str(st.pid)
    assert m.alive() and pid_alive(st.pid)
    os.kill(st.pid, signal.SIGKILL)
    # Restarted at once (healthy run) with nobody on the channel.
    new = wait_for(lambda: [p for p in workers_of(w.uuid) if p != st.pid],
                   T(3), what="a new worker")
    assert len(new) == 1
    wait_for(lambda: (w.status() or {}).get("pid") == str(new[0]), T(3),
             what=".status naming the new worker")
    m.signal(signal.SIGTERM)
    assert m.wait() == MON_EXIT_OK
    assert workers_of(w.uuid) == []
    assert_left_down(w, reason="stop")


def test_master_gone_before_the_monitor_runs(w):
    """A master that dies right after it started a monitor: the monitor,
    with no master and nothing to supervise, exits 0 at once, and leaves
    the .status of the monitor it was to replace (which tells the next
    master what that one was doing)."""
    previous = ("version=1\nstate=backoff\npid=0\nadopted=0\n"
                "monitor=999999999\nrestarts=1\nlast_exit=-9\n"
                "since=1\nexiting=0\n")
    with open(w.path(".status"), "w") as f:
        f.write(previous)
    m = w.monitor(handshake=False)
    m.close_channel()
    assert m.wait(T(5)) == MON_EXIT_OK
    assert read_file(w.path(".status")) == previous


def test_told_to_exit_replaces_the_previous_status(w):
    """A monitor told to exit before it ever wrote a .status (a stop the
    master finishes through it) replaces the one its predecessor left by
    its own, down: the worker is down on request, and a new master must
    not read otherwise. The predecessor's exit history is kept."""
    with open(w.path(".status"), "w") as f:
        f.write("version=1\nstate=running\npid=0\nadopted=0\n"
                "monitor=999999999\nrestarts=0\nlast_exit=0\nsince=1\n"
                "exiting=0\nexits_crash=1\n"
                "exit=1700000000000 signal:9 1500 crash\n")
    m = w.monitor()
    m.config(w.argv(), w.log)
    m.exit()
    assert m.wait(T(5)) == MON_EXIT_OK
    st = w.status()
    assert st["state"] == "down" and st["pid"] == "0", st
    assert st["exit"] == "1700000000000 signal:9 1500 crash", st
    assert st["exits_crash"] == "1", st


@pytest.mark.parametrize("mode,giveup,final", [
    (RESTART_NEVER, 0, "down"),
    (RESTART_ON_FAILURE, 1, "failed"),
], ids=["worker-down", "worker-failed"])
def test_master_gone_then_nothing_to_supervise(w, mode, giveup, final):
    """The master's end closes while the worker runs; when the worker then
    ends for good (down, or failed), nothing is left to supervise and
    nobody can ask for more: the monitor exits 0, as it does when the
    channel closes with no worker."""
    m = w.monitor()
    st = start_worker(w, m, restart=mode, giveup_count=giveup)
    m.close_channel()
    assert_stays(lambda: m.alive(), T(0.1), what="monitor alive")
    os.kill(st.pid, signal.SIGKILL)
    wait_for(lambda: (w.status() or {}).get("state") != "starting", T(3),
             what=".status after the worker's death")
    assert m.wait(T(3)) == MON_EXIT_OK, "monitor lingers, " + str(w.status())


def test_second_monitor_is_locked_out(w):
    a = w.monitor()
    t0 = time.monotonic()
    b = w.monitor(handshake=False)
    assert b.wait(T(2)) == MON_EXIT_LOCKED
    assert time.monotonic() - t0 < T(1)
    assert b.expect_eof() == []  # not a word on its channel
    assert "another monitor" in b.stderr()
    a.send(MSG_CMD_START)
    assert a.expect(MSG_ERROR).text == "start before configuration"
    # Also while the first one supervises a worker.
    st = start_worker(w, a)
    c = w.monitor(handshake=False)
    assert c.wait(T(2)) == MON_EXIT_LOCKED
    assert workers_of(w.uuid) == [st.pid]


USAGE = [
    # id, argv after the program name (None: the usual), fd 3 a socket
    ("no-args", [], True),
    ("no-workers-dir", ["--uuid", "abc"], True),
    ("no-uuid", ["--workers-dir", "/tmp"], True),
    ("uuid-with-slash", ["--uuid", "../x", "--workers-dir", "/tmp"], True),
    ("uuid-dot", ["--uuid", ".x", "--workers-dir", "/tmp"], True),
    ("extra-arg", ["--uuid", "abc", "--workers-dir", "/tmp", "more"], True),
    ("unknown-option", ["--bogus"], True),
    ("no-fd-3", None, False),
]


@pytest.mark.parametrize("args,fd3", [u[1:] for u in USAGE],
                         ids=[u[0] for u in USAGE])
def test_usage_errors(w, args, fd3):
    m = w.monitor(handshake=False, args=args, fd3=fd3)
    assert m.wait(T(2)) == MON_EXIT_PERMANENT
    assert m.expect_eof() == []


# ----------------------------------------------------------------------------
# worker_<uuid>.sock: a new master finds the monitor


def test_new_master_attaches_through_sock(w):
    """The first master's channel is gone; a new one connects to
    worker_<uuid>.sock, is greeted with HELLO and MON_STATE, and drives
    the monitor as the first one did."""
    m = w.monitor()
    st = start_worker(w, m)
    m.close_channel()
    n = m.connect_control()
    hello, cur = n.handshake()
    assert hello.state in (WS_STARTING, WS_RUNNING)
    assert (cur.pid, cur.flags) == (st.pid, 0)
    n.stop(0, 1000)
    n.expect_state(WS_STOPPING, pid=st.pid)
    n.expect(MSG_MON_EXIT, pid=st.pid, signal=signal.SIGTERM)
    n.expect_state(WS_DOWN)
    n.exit(0, 0)
    assert n.expect_eof() == []
    assert m.wait() == MON_EXIT_OK
    assert not os.path.exists(w.path(".sock"))


def test_new_master_replaces_old_channel(w):
    """A second master connecting takes the channel over: the old one is
    closed, the monitor lives on (even with no worker) and answers the
    new one."""
    m = w.monitor()
    n = m.connect_control()
    n.handshake()
    assert m.expect_eof() == []
    assert_stays(m.alive, T(0.2), what="monitor alive")
    n.config(w.argv(), w.log)
    n.start()
    st = n.expect_state(WS_STARTING)
    wait_for(lambda: w.p_pid() == st.pid, T(5), what="the worker's .p")
    n.exit(0, 1000)
    n.expect_state(WS_STOPPING)
    n.expect(MSG_MON_EXIT, pid=st.pid)
    n.expect_state(WS_DOWN)
    n.expect_eof()
    assert m.wait() == MON_EXIT_OK


def test_stale_sock_file_replaced(w):
    """A worker_<uuid>.sock left behind (the monitor holds the lock, so it
    is stale) is replaced by a listening socket."""
    with open(w.path(".sock"), "w") as f:
        f.write("stale")
    m = w.monitor()
    n = m.connect_control()
    n.handshake()


def test_unfinished_write_temporaries_removed(w):
    """The temporaries of a .status or .runstate write whose writer died
    before its rename are removed once the monitor holds the worker's lock;
    any other file, another worker's temporaries included, is left."""
    other = "%032x" % 7
    gone = [".worker_%s.status.0123456789ab" % w.uuid,
            ".worker_%s.runstate.abcdef012345" % w.uuid]
    kept = [".worker_%s.status.0123456789AB" % w.uuid,   # not ours: upper
            ".worker_%s.status.0123456789a" % w.uuid,    # 11 digits
            ".worker_%s.status.0123456789ab.x" % w.uuid,
            ".worker_%s.status.0123456789ab" % other,
            "worker_%s.status.0123456789ab" % w.uuid,    # no leading dot
            ".worker_%s.p.0123456789ab" % w.uuid]        # the worker's
    for name in gone + kept:
        with open(os.path.join(w.wdir, name), "w") as f:
            f.write("x")
    w.monitor()
    left = set(os.listdir(w.wdir))
    assert not left & set(gone), left
    assert set(kept) <= left, left


# ----------------------------------------------------------------------------
# adoption


def _orphan_a_worker(w):
    """A worker whose monitor was killed with SIGKILL; returns its pid."""
    a = w.monitor()
    st = start_worker(w, a)
    a.signal(signal.SIGKILL)
    a.wait()
    assert pid_alive(st.pid)
    return st.pid


def test_adoption(w):
    pid = _orphan_a_worker(w)
    b = w.monitor(handshake=False)
    st = b.expect_state(WS_RUNNING, skip=(MSG_HELLO,))
    assert (st.pid, st.flags) == (pid, 1), st
    b.expect_none(T(0.3))
    assert workers_of(w.uuid) == [pid]  # no second worker
    status = w.status()
    assert (status["state"], status["pid"], status["adopted"],
            status["monitor"]) == ("running", str(pid), "1", str(b.pid))
    # Configured and stopped by the master: TERM to the adopted pid.
    b.config(w.argv(), w.log)
    b.stop(0, 1000)
    b.expect_state(WS_STOPPING, skip=(MSG_HELLO, MSG_MON_STATE), pid=pid)
    # Not our child: we learn that it ended, not how.
    b.expect(MSG_MON_EXIT, pid=pid, code=-1, signal=0)
    b.expect_state(WS_DOWN, pid=0, flags=0)
    assert not pid_alive(pid)
    b.exit(0, 0)
    b.expect_eof()
    assert b.wait() == MON_EXIT_OK


def test_adoption_hello_first(w):
    """An adopting monitor opens like any other: HELLO (state running),
    then MON_STATE running, adopted."""
    pid = _orphan_a_worker(w)
    b = w.monitor(handshake=False)
    hello, st = b.handshake()
    assert hello.state == WS_RUNNING
    assert (st.state, st.pid, st.flags) == (WS_RUNNING, pid, 1)


def test_stale_p_not_adopted(w):
    """A .p naming a dead process is not adopted; START starts a worker."""
    with open(w.path(".p"), "w") as f:
        f.write("%d" % 2 ** 22)  # above any pid_max default: no such pid
    m = w.monitor()
    hello, st = m.frames[0], m.frames[1]
    assert hello.state == WS_DOWN and (st.state, st.flags) == (WS_DOWN, 0)
    st = start_worker(w, m)
    assert workers_of(w.uuid) == [st.pid]


# ----------------------------------------------------------------------------
# a refused CONFIG


def test_rejected_config_keeps_previous(w):
    """A CONFIG that announces more argv strings than it carries is
    refused as a whole: the running configuration (argv, log file) stays
    in force for the next start."""
    m = w.monitor()
    st = start_worker(w, m, stdout="out-" + w.uuid)
    wait_for(lambda: ("out-" + w.uuid) in (read_file(w.log) or ""), T(5),
             what="the worker's output")
    other = os.path.join(w.tmp, "other.log")
    m.send(MSG_CMD_CONFIG,
           config_fixed(3) + other.encode() + b"\0/bin/true\0")
    # Whether the monitor answers ERROR or closes the channel, the
    # CONFIG must not be applied in part.
    try:
        m.recv(T(1))
    except (socket.timeout, ChannelClosed):
        pass
    os.kill(st.pid, signal.SIGKILL)
    new = wait_for(lambda: [p for p in workers_of(w.uuid) if p != st.pid],
                   T(3), what="the worker restarted with the old argv")
    assert proc_cmdline(new[0]) == w.argv(stdout="out-" + w.uuid)
    wait_for(lambda: (read_file(w.log) or "").count("out-" + w.uuid) == 2,
             T(5), what="the new worker's output in the old log")
    assert not os.path.exists(other)
