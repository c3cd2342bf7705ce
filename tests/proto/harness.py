"""Plays the fnwm master against a real fnwm-monitor (common/proto.h).

The monitor under test is $FNWM_MONITOR_BIN (default: build/monitor/
fnwm-monitor of this checkout). It is started as the master starts it:
``fnwm-monitor --uuid U --workers-dir D --debug`` with its end of a
socketpair on fd 3. Frames are built and parsed here with struct, in host
byte order and native alignment, exactly like the C structs (the sizes are
asserted below against what gcc gives on this machine).

Nothing here sleeps to wait for a state: waits are reads with deadlines or
wait_for() polls. With FNWM_SANITIZED=ON every deadline is tripled.
"""
import copy
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MONITOR_BIN = os.path.abspath(
    os.environ.get("FNWM_MONITOR_BIN")
    or os.path.join(REPO, "build", "monitor", "fnwm-monitor"))
SLEEPER = os.path.join(HERE, "sleeper.py")
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

from fnwmtest import (  # noqa: E402,F401
    PYTHON, SANITIZED, SANITIZER_MARKERS, SLOW, T, pid_alive, sanitizer_marker,
    wait_for)
from fnwmtest import cmdline as proc_cmdline  # noqa: E402,F401


# ----------------------------------------------------------------------------
# common/proto.h: numbers read from the header, layouts checked with cc

PROTO_H = os.path.join(REPO, "common", "proto.h")


def _proto_text():
    with open(PROTO_H) as f:
        return f.read()


def _proto_numbers():
    text = _proto_text()
    nums = {k: int(v) for k, v in
            re.findall(r"#define\s+(FNWM_\w+)\s+(\d+)\b", text)}
    nums.update({k: int(v) for k, v in
                 re.findall(r"\b(FNWM_\w+)\s*=\s*(\d+)\s*,", text)})
    return nums


P = _proto_numbers()
PROTO_VERSION = P["FNWM_PROTO_VERSION"]
MSG_MAX = P["FNWM_MSG_MAX"]
CHANNEL_FD = P["FNWM_CHANNEL_FD"]
ARGV_MAX = P["FNWM_ARGV_MAX"]

_CTYPES = {"uint8_t": "B", "int8_t": "b", "uint16_t": "H", "int16_t": "h",
           "uint32_t": "I", "int32_t": "i", "uint64_t": "Q", "int64_t": "q"}


class Layout:
    """A struct of proto.h: its fields in order, packed with native
    alignment as the C compiler lays them out (test_wire_layout checks)."""

    def __init__(self, name, fmt, fields):
        self.name, self.fmt, self.fields = name, fmt, fields
        self.st = struct.Struct("@" + fmt)
        self.size = self.st.size

    def build(self, **kw):
        """Packs the fields given by name; the others are 0."""
        unknown = set(kw) - set(self.fields)
        assert not unknown, "struct %s has no %s" % (self.name, unknown)
        return self.st.pack(*(kw.get(f, 0) for f in self.fields))

    def parse(self, data):
        return dict(zip(self.fields, self.st.unpack(data)))

    def offsets(self):
        return [struct.calcsize("@" + self.fmt[:i + 1]) -
                struct.calcsize("@" + c) for i, c in enumerate(self.fmt)]


def _proto_structs():
    text = re.sub(r"/\*.*?\*/", "", _proto_text(), flags=re.S)
    out = {}
    for name, body in re.findall(r"struct\s+(fnwm_\w+)\s*\{(.*?)\}\s*;",
                                 text, re.S):
        decls = re.findall(r"\b(u?int(?:8|16|32|64)_t)\s+(\w+)\s*;", body)
        rest = re.sub(r"\b(u?int(?:8|16|32|64)_t)\s+(\w+)\s*;", "", body)
        assert not rest.strip(), \
            "struct %s: cannot read %r; teach harness.py" % (name, rest)
        out[name] = Layout(name, "".join(_CTYPES[t] for t, _ in decls),
                           [f for _, f in decls])
    return out


LAYOUTS = _proto_structs()
HDR = LAYOUTS["fnwm_msg_hdr"]
HELLO = LAYOUTS["fnwm_hello"]
STATE = LAYOUTS["fnwm_state_msg"]
EXIT = LAYOUTS["fnwm_exit_msg"]
CONFIG = LAYOUTS["fnwm_config_msg"]
STOP = LAYOUTS["fnwm_stop_cmd"]
assert HDR.fields == ["len", "type", "version", "flags", "seq"], HDR.fields


def py_layout(name):
    """(sizeof, [offsets]) of a struct as this harness packs it."""
    return LAYOUTS[name].size, LAYOUTS[name].offsets()


def c_layout(tmpdir, cc="cc"):
    """{struct: (sizeof, [offsets])} as the C compiler lays out proto.h."""
    lines = ["#include <stddef.h>", "#include <stdio.h>",
             '#include "proto.h"', "int main(void) {"]
    for name, lay in LAYOUTS.items():
        args = ", ".join(["sizeof(struct %s)" % name] + [
            "offsetof(struct %s, %s)" % (name, f) for f in lay.fields])
        lines.append('printf("%s%s\\n", %s);' % (
            name, " %zu" * (len(lay.fields) + 1), args))
    lines.append("return 0; }")
    src = os.path.join(tmpdir, "layout.c")
    exe = os.path.join(tmpdir, "layout")
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run([cc, "-I", os.path.dirname(PROTO_H), "-o", exe, src],
                   check=True)
    out = subprocess.run([exe], check=True, capture_output=True,
                         text=True).stdout
    res = {}
    for line in out.splitlines():
        name, *nums = line.split()
        res[name] = (int(nums[0]), [int(n) for n in nums[1:]])
    return res


MSG_HELLO = 1
MSG_ERROR = 2
MSG_MON_STATE = 100
MSG_MON_EXIT = 101
MSG_CMD_CONFIG = 200
MSG_CMD_START = 201
MSG_CMD_STOP = 202
MSG_CMD_RESTART = 203
MSG_CMD_EXIT = 204
MSG_NAMES = {
    MSG_HELLO: "HELLO", MSG_ERROR: "ERROR", MSG_MON_STATE: "MON_STATE",
    MSG_MON_EXIT: "MON_EXIT", MSG_CMD_CONFIG: "CMD_CONFIG",
    MSG_CMD_START: "CMD_START", MSG_CMD_STOP: "CMD_STOP",
    MSG_CMD_RESTART: "CMD_RESTART", MSG_CMD_EXIT: "CMD_EXIT",
}
# Types are never renumbered (proto.h): these must still be what they were.
for _t, _n in MSG_NAMES.items():
    assert P["FNWM_MSG_" + _n] == _t, (_n, _t)

ROLE_MASTER = P["FNWM_ROLE_MASTER"]
ROLE_MONITOR = P["FNWM_ROLE_MONITOR"]

WS_NAMES = ["down", "starting", "running", "stopping", "backoff", "failed"]
(WS_DOWN, WS_STARTING, WS_RUNNING, WS_STOPPING, WS_BACKOFF,
 WS_FAILED) = (P["FNWM_WS_" + n.upper()] for n in WS_NAMES)
assert [WS_DOWN, WS_STARTING, WS_RUNNING, WS_STOPPING, WS_BACKOFF,
        WS_FAILED] == list(range(6))

RESTART_NEVER = P["FNWM_RESTART_NEVER"]
RESTART_ON_FAILURE = P["FNWM_RESTART_ON_FAILURE"]
RESTART_ALWAYS = P["FNWM_RESTART_ALWAYS"]
RESTART_MAX = RESTART_ALWAYS + 1  # the enum's next value
ERROR_MAX = 1024  # common/msg.c: the payload of an ERROR frame
INT32_MIN = -2 ** 31

MON_EXIT_OK = P["FNWM_MON_EXIT_OK"]
MON_EXIT_PERMANENT = P["FNWM_MON_EXIT_PERMANENT"]
MON_EXIT_LOCKED = P["FNWM_MON_EXIT_LOCKED"]
MON_EXIT_TEMPORARY = P["FNWM_MON_EXIT_TEMPORARY"]


# ----------------------------------------------------------------------------
# frames

def frame(type_, payload=b"", seq=0, version=PROTO_VERSION, flags=0,
          length=None):
    """One frame; length/version/flags may be forged."""
    if length is None:
        length = HDR.size + len(payload)
    return HDR.build(len=length, type=type_, version=version, flags=flags,
                     seq=seq) + payload


def hello_payload(pid=None, role=ROLE_MASTER, state=0):
    return HELLO.build(pid=os.getpid() if pid is None else pid, role=role,
                       state=state)


def stop_payload(term_after_ms=0, kill_after_ms=1000):
    return STOP.build(term_after_ms=term_after_ms, kill_after_ms=kill_after_ms)


def config_fixed(argc, restart=RESTART_ON_FAILURE, healthy_ms=10000,
                 backoff_initial_ms=50, backoff_max_ms=200, giveup_count=0,
                 giveup_window_ms=10000, log_max_bytes=0, log_keep=0):
    return CONFIG.build(restart=restart, argc=argc, healthy_ms=healthy_ms,
                        backoff_initial_ms=backoff_initial_ms,
                        backoff_max_ms=backoff_max_ms,
                        giveup_count=giveup_count,
                        giveup_window_ms=giveup_window_ms,
                        log_max_bytes=log_max_bytes, log_keep=log_keep)


def config_payload(argv, log, argc=None, **policy):
    """struct fnwm_config_msg + the log path + argv, NUL-terminated."""
    strings = b"".join(os.fsencode(s) + b"\0" for s in [log] + list(argv))
    return config_fixed(len(argv) if argc is None else argc,
                        **policy) + strings


class Msg:
    """A frame from the monitor, decoded and checked against proto.h."""

    def __init__(self, hdr, payload):
        self.__dict__.update(hdr)
        self.payload = payload
        self.name = MSG_NAMES.get(self.type, "type %d" % self.type)
        assert self.version == PROTO_VERSION and self.flags == 0, self
        fixed = {MSG_HELLO: HELLO, MSG_MON_STATE: STATE, MSG_MON_EXIT: EXIT}
        if self.type in fixed:
            lay = fixed[self.type]
            assert len(payload) == lay.size, self
            self.__dict__.update(lay.parse(payload))
            if self.type == MSG_MON_STATE:
                assert self.state < len(WS_NAMES), self
        elif self.type == MSG_ERROR:
            assert 1 <= len(payload) <= ERROR_MAX, self
            assert payload.endswith(b"\0"), self
            self.text = payload[:-1].decode("utf-8", "replace")
        else:
            raise AssertionError("the monitor sent a frame of type %d, "
                                 "not one of its types" % self.type)

    def __repr__(self):
        hide = ("len", "type", "version", "flags", "seq", "payload", "name")
        d = {k: v for k, v in self.__dict__.items() if k not in hide}
        if self.type == MSG_MON_STATE and d.get("state", 99) < len(WS_NAMES):
            d["state"] = WS_NAMES[d["state"]]
            if self.state == WS_BACKOFF:
                d["in_ms"] = self.next_start_ms - self.since_ms
        if "text" not in d and self.type not in (MSG_HELLO, MSG_MON_STATE,
                                                 MSG_MON_EXIT):
            d["payload"] = self.payload[:32]
        return "<%s seq=%s %s>" % (
            self.name, self.__dict__.get("seq", "?"),
            " ".join("%s=%r" % kv for kv in d.items()))


class ChannelClosed(Exception):
    pass


# ----------------------------------------------------------------------------
# waiting and processes

def assert_stays(cond, duration, interval=0.01, what=None):
    """Asserts cond() holds for the whole of duration (an absence check)."""
    deadline = time.monotonic() + duration
    while True:
        assert cond(), "%s stopped holding" % (what or cond)
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


def proc_pgid(pid):
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def processes_of(uuid):
    """Live pids whose command line names uuid (workers, grandchildren)."""
    me = os.getpid()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        pid = int(d)
        cl = proc_cmdline(pid)
        if any(uuid in a for a in cl) and pid_alive(pid) and \
                not any("fnwm-monitor" in a for a in cl[:1]):
            out.append(pid)
    return sorted(out)


def workers_of(uuid):
    """Live sleeper workers (not grandchildren) of uuid."""
    return [p for p in processes_of(uuid) if SLEEPER in proc_cmdline(p)]


def read_file(path):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def read_kv(path):
    """A key=value file such as the .status, as a dict; None if absent."""
    text = read_file(path)
    if text is None:
        return None
    return dict(line.split("=", 1) for line in text.splitlines()
                if "=" in line)


# ----------------------------------------------------------------------------
# the monitor

class Monitor:
    """One fnwm-monitor process and the master's end of its channel."""

    def __init__(self, wdir, uuid, stderr_path, debug=True, env=None,
                 args=None, fd3=True):
        self.wdir = wdir
        self.uuid = uuid
        self.stderr_path = stderr_path
        self.sock, child = socket.socketpair(socket.AF_UNIX,
                                             socket.SOCK_STREAM)
        cfd = child.fileno()

        def to_fd3():
            # Only async-signal-safe work: put the channel on fd 3,
            # inheritable (dup2 clears FD_CLOEXEC; dup2(3, 3) does not).
            if not fd3:
                try:
                    os.close(CHANNEL_FD)
                except OSError:
                    pass
            elif cfd == CHANNEL_FD:
                os.set_inheritable(CHANNEL_FD, True)
            else:
                os.dup2(cfd, CHANNEL_FD)

        argv = [MONITOR_BIN, "--uuid", uuid, "--workers-dir", wdir]
        if debug:
            argv.append("--debug")
        if args is not None:
            argv = [MONITOR_BIN] + list(args)
        self.errf = open(stderr_path, "ab")
        # close_fds=False: Python's own fds are non-inheritable (PEP 446);
        # with close_fds=True the dup2'd fd 3 would be closed after
        # preexec_fn, since only pass_fds survive.
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self.errf,
            stderr=self.errf, close_fds=False, preexec_fn=to_fd3,
            env=env)
        child.close()
        self.pid = self.proc.pid
        self.rbuf = b""
        self.eof = False
        self.frames = []   # everything received, in order
        self.seq = 0
        self.attached = []  # sockets of attach(), shared by the copies

    # -- sending

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, type_, payload=b""):
        self.seq += 1
        self.sock.sendall(frame(type_, payload, seq=self.seq))

    def config(self, argv, log, **policy):
        self.send(MSG_CMD_CONFIG, config_payload(argv, log, **policy))

    def start(self):
        self.send(MSG_CMD_START)

    def stop(self, term_after_ms=0, kill_after_ms=1000):
        self.send(MSG_CMD_STOP, stop_payload(term_after_ms, kill_after_ms))

    def restart(self, term_after_ms=0, kill_after_ms=1000):
        self.send(MSG_CMD_RESTART, stop_payload(term_after_ms, kill_after_ms))

    def exit(self, term_after_ms=0, kill_after_ms=1000):
        self.send(MSG_CMD_EXIT, stop_payload(term_after_ms, kill_after_ms))

    def close_channel(self):
        self.sock.close()

    def attach(self, sock):
        """This monitor seen through another channel (a new master's
        connection to its worker_<uuid>.sock): a fresh frame stream."""
        other = copy.copy(self)
        self.attached.append(sock)
        other.sock = sock
        other.rbuf = b""
        other.eof = False
        other.frames = []
        other.seq = 0
        return other

    def connect_control(self):
        """Connects as a new master to worker_<uuid>.sock, through
        /proc/self/fd like the monitor (sun_path is short); returns the
        attached channel (see attach)."""
        dfd = os.open(self.wdir, os.O_PATH | os.O_DIRECTORY)
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect("/proc/self/fd/%d/worker_%s.sock" % (dfd, self.uuid))
        finally:
            os.close(dfd)
        return self.attach(s)

    # -- receiving

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            # Linux: closing an AF_UNIX socket with unread data resets.
            data = b""
        if not data:
            self.eof = True
            raise ChannelClosed()
        self.rbuf += data

    def recv(self, timeout):
        """The next frame; raises ChannelClosed at EOF, socket.timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.rbuf) >= HDR.size:
                hdr = HDR.parse(self.rbuf[:HDR.size])
                n = hdr["len"]
                assert HDR.size <= n <= MSG_MAX, \
                    "monitor sent a frame of length %d" % n
                if len(self.rbuf) >= n:
                    payload = self.rbuf[HDR.size:n]
                    self.rbuf = self.rbuf[n:]
                    m = Msg(hdr, payload)
                    # The monitor numbers its frames 1, 2, 3, ...
                    assert m.seq == len(self.frames) + 1, (m, self.frames)
                    self.frames.append(m)
                    return m
            if self.eof:
                assert not self.rbuf, "EOF inside a frame: %r" % self.rbuf
                raise ChannelClosed()
            self._fill(deadline)

    def expect(self, type_, timeout=None, skip=(), **fields):
        """Reads until a frame of type_ whose fields match; returns it.

        Frames of the types in skip are passed over; any other frame is a
        failure, so the order of events is checked too.
        """
        timeout = T(5) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                m = self.recv(max(left, 0.001))
            except socket.timeout:
                raise AssertionError(
                    "no %s %s within %.2fs; got %r" % (
                        MSG_NAMES[type_], _fields(fields), timeout,
                        self.frames[-8:])) from None
            except ChannelClosed:
                raise AssertionError(
                    "channel closed while waiting for %s %s; got %r" % (
                        MSG_NAMES[type_], _fields(fields),
                        self.frames[-8:])) from None
            if m.type == type_ and all(
                    getattr(m, k) == v for k, v in fields.items()):
                return m
            assert m.type in skip, "expected %s %s, got %r" % (
                MSG_NAMES[type_], _fields(fields), m)

    def expect_state(self, state, timeout=None, skip=(), **fields):
        return self.expect(MSG_MON_STATE, timeout, skip=skip, state=state,
                           **fields)

    def expect_none(self, window):
        """Asserts that nothing arrives (no frame, no EOF) for window s."""
        try:
            m = self.recv(window)
        except socket.timeout:
            return
        except ChannelClosed:
            raise AssertionError("channel closed unexpectedly") from None
        raise AssertionError("unexpected frame %r" % m)

    def expect_eof(self, timeout=None):
        """Reads until the monitor closes the channel; returns the frames
        that came before the EOF."""
        timeout = T(5) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        got = []
        while True:
            try:
                got.append(self.recv(max(deadline - time.monotonic(), 0.001)))
            except ChannelClosed:
                return got
            except socket.timeout:
                raise AssertionError(
                    "the monitor did not close the channel within %.2fs; "
                    "got %r" % (timeout, got)) from None

    def handshake(self, timeout=None):
        """HELLO then MON_STATE, as the monitor must open; returns both."""
        hello = self.expect(MSG_HELLO, timeout)
        assert hello.seq == 1, hello
        assert hello.pid == self.pid and hello.role == ROLE_MONITOR, hello
        st = self.expect(MSG_MON_STATE, timeout)
        assert st.state == hello.state, (hello, st)
        return hello, st

    # -- the process

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout=None):
        """The exit status; fails the test if it does not exit in time."""
        timeout = T(5) if timeout is None else timeout
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("monitor %d still running after %.2fs" % (
                self.pid, timeout)) from None

    def stderr(self):
        return read_file(self.stderr_path) or ""

    def cleanup(self):
        if self.alive():
            self.proc.kill()
        try:
            self.proc.wait(T(5))
        except subprocess.TimeoutExpired:
            pass
        for s in [self.sock] + self.attached:
            try:
                s.close()
            except OSError:
                pass
        self.errf.close()


def _fields(fields):
    return " ".join("%s=%s" % kv for kv in fields.items())


# ----------------------------------------------------------------------------
# a test's world: a workers dir, a uuid, monitors, workers

class World:
    """The workers dir of one test, its monitors and the worker argv."""

    def __init__(self, tmp_path, uuid):
        self.tmp = str(tmp_path)
        self.wdir = os.path.join(self.tmp, "workers")
        os.makedirs(self.wdir)
        self.uuid = uuid
        self.log = os.path.join(self.tmp, "worker.log")
        self.monitors = []
        self.uuids = {uuid}

    def path(self, suffix, uuid=None):
        return os.path.join(self.wdir, "worker_%s%s" % (uuid or self.uuid,
                                                        suffix))

    def monitor(self, uuid=None, handshake=True, **kw):
        uuid = uuid or self.uuid
        self.uuids.add(uuid)
        n = len(self.monitors)
        m = Monitor(self.wdir, uuid,
                    os.path.join(self.tmp, "monitor-%d.stderr" % n), **kw)
        self.monitors.append(m)
        if handshake:
            m.handshake()
        return m

    def argv(self, uuid=None, python=PYTHON, **opts):
        """The sleeper's argv; opts become --options (True: a flag)."""
        argv = [python, "-S", SLEEPER, "--dir", self.wdir,
                "--uuid", uuid or self.uuid]
        for k, v in opts.items():
            k = "--" + k.replace("_", "-")
            if v is True:
                argv.append(k)
            elif isinstance(v, (list, tuple)):
                for x in v:
                    argv += [k, str(x)]
            elif v is not None:
                argv += [k, str(v)]
        return argv

    def p_pid(self, uuid=None):
        text = read_file(self.path(".p", uuid))
        try:
            return int(text)
        except (TypeError, ValueError):
            return None

    def status(self, uuid=None):
        return read_kv(self.path(".status", uuid))

    def cleanup(self):
        """Kills what is left; returns the sanitizer reports found."""
        for m in self.monitors:
            m.cleanup()
        for uuid in self.uuids:
            for pid in processes_of(uuid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        reports = []
        for m in self.monitors:
            err = m.stderr()
            if sanitizer_marker(err):
                reports.append("%s:\n%s" % (m.stderr_path, err))
        return reports


def start_worker(w, m, timeout=None, **opts):
    """CONFIG + START on m; returns the MON_STATE starting (with the pid)
    once the worker has written its .p (so it really runs)."""
    policy = {k: opts.pop(k) for k in list(opts) if k in (
        "restart", "healthy_ms", "backoff_initial_ms", "backoff_max_ms",
        "giveup_count", "giveup_window_ms", "log_max_bytes", "log_keep")}
    m.config(w.argv(**opts), w.log, **policy)
    m.start()
    st = m.expect_state(WS_STARTING, timeout)
    assert st.pid > 0 and st.flags == 0, st
    wait_for(lambda: w.p_pid() == st.pid, T(5), what="the worker's .p")
    return st


def prime_fast_stop(w, m, kill_after_ms=1000):
    """Restarts the worker with a STOP timing of (0, kill_after_ms).

    A monitor that gets SIGTERM stops its worker with the timings of the
    master's last stop command, 10 s + 5 s by default. One RESTART makes
    the teardown of the tests that SIGTERM a monitor fast. Returns the new
    MON_STATE starting.
    """
    m.restart(0, kill_after_ms)
    m.expect_state(WS_STOPPING)
    m.expect(MSG_MON_EXIT, signal=signal.SIGTERM)
    st = m.expect_state(WS_STARTING)
    wait_for(lambda: w.p_pid() == st.pid, T(5), what="the worker's .p")
    return st
