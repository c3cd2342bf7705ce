# SPDX-License-Identifier: MIT
"""The Debian package under a real systemd.

A Debian 12 root with systemd is booted with systemd as PID 1 in
`systemd-nspawn -b --register=no --keep-unit`; the package built by
packaging/debian/build-deb.sh is installed into it with apt, and the
system unit is checked against the init system itself: enable --now
reaches active with a STATUS= text, a worker created through the CLI
runs as user fnwm, restart keeps the worker's pid, kill -9 of the main
pid is followed by a new main pid and the same worker, reload is logged,
stop stops the worker, a worker marked autostart (`fnwm worker enable`)
is running again after `systemctl start`, and the journal of a clean
start and stop holds no warning. Needs root, debootstrap, systemd-nspawn and Debian's archive.

FNWM_SYSTEMD_WORK: where the container root is made (default /var/tmp);
FNWM_FRESH_MIRROR: the Debian mirror (default http://deb.debian.org/debian).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
from fnwmtest import free_port, wait_for  # noqa: E402
MIRROR = os.environ.get("FNWM_FRESH_MIRROR", "http://deb.debian.org/debian")
WORKER_DIR = "/usr/local/lib/fnwm-test-worker"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _run(argv, timeout=600, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, **kw)
    assert r.returncode == 0, "%s: exit %d\n%s" % (argv, r.returncode,
                                                   r.stdout[-4000:])
    return r.stdout


def say(*args):
    print("[systemd]", *args, flush=True)


class Container:
    """A booted systemd-nspawn container, and commands run inside it."""

    def __init__(self, root, logpath):
        self.root = root
        self.log = open(logpath, "w")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "-b", "-D", root, "--register=no",
             "--keep-unit", "--console=pipe", "--resolv-conf=copy-host",
             "--timezone=off"],
            stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)
        self.leader = wait_for(self._leader, 60, "the container's PID 1")
        wait_for(self._booted, 120,
                 "systemd in the container to finish booting", interval=0.5)

    def _leader(self):
        if self.proc.poll() is not None:
            raise AssertionError("systemd-nspawn exited %d: %s"
                                 % (self.proc.returncode,
                                    open(self.log.name).read()[-3000:]))
        try:
            kids = open("/proc/%d/task/%d/children"
                        % (self.proc.pid, self.proc.pid)).read().split()
        except OSError:
            return None
        for k in kids:
            try:
                comm = open("/proc/%s/comm" % k).read().strip()
            except OSError:
                continue
            if comm == "systemd":
                return int(k)
        return None

    def _booted(self):
        r = self.sh("systemctl is-system-running", check=False, timeout=30)
        state = r.stdout.strip()
        return state in ("running", "degraded")

    def sh(self, script, check=True, timeout=300):
        argv = ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n",
                "-p", "-r", "-w", "--", "/usr/bin/env", "-i", "PATH=" + PATH,
                "LANG=C.UTF-8", "/bin/sh", "-c", script]
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
        if check:
            assert r.returncode == 0, "in the container: %s: exit %d\n%s" % (
                script, r.returncode, r.stdout[-4000:])
        return r

    def out(self, script, **kw):
        return self.sh(script, **kw).stdout.strip()

    def stop(self):
        if self.proc.poll() is None:
            # SIGTERM makes nspawn shut the container down in order.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def make_root(root):
    _run(["debootstrap", "--variant=minbase",
          "--include=systemd,systemd-sysv,dbus,python3,ca-certificates",
          "bookworm", root, MIRROR], timeout=1200)
    with open(os.path.join(root, "etc/apt/sources.list"), "w") as f:
        f.write("deb %s bookworm main\n" % MIRROR)
        f.write("deb %s bookworm-updates main\n" % MIRROR)
        f.write("deb http://deb.debian.org/debian-security "
                "bookworm-security main\n")
    # The FuncNodes worker double the workers of the test run as.
    shutil.copytree(os.path.join(REPO, "tests", "worker"),
                    root + WORKER_DIR,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def unit_state(c):
    return c.out("systemctl show -p ActiveState,SubState,MainPID,"
                 "StatusText fnwm", check=False)


def main_pid(c):
    return int(c.out("systemctl show -p MainPID --value fnwm"))


def journal_cursor(c):
    out = c.out("journalctl -u fnwm -n 0 --show-cursor -q", check=False)
    m = re.search(r"-- cursor: (\S+)", out)
    return m.group(1) if m else None


def journal_since(c, cursor):
    if cursor:
        return c.out("journalctl -u fnwm -o cat --no-pager --after-cursor "
                     "'%s'" % cursor, check=False)
    return c.out("journalctl -u fnwm -o cat --no-pager", check=False)


def problems(text):
    return [l for l in text.split("\n")
            if re.search(r"\b(warning|error|fatal):", l)]


def cli(c, port, args):
    # stdout only: progress lines go to stderr
    return c.out("runuser -u fnwm -- /usr/bin/fnwm --dir /var/lib/fnwm "
                 "--port %d --no-start %s 2>/root/cli.err || "
                 "{ cat /root/cli.err; exit 1; }" % (port, args))


def worker_of(c, port, uuid):
    listing = json.loads(cli(c, port, "worker list --json"))
    for w in listing:
        if w["uuid"] == uuid:
            return w
    raise AssertionError("worker %s not listed: %s" % (uuid, listing))


def pid_alive(c, pid):
    return c.sh("test -d /proc/%d" % pid, check=False).returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="booting a container needs root")
def test_package_under_systemd():
    for tool in ("debootstrap", "systemd-nspawn", "nsenter"):
        assert shutil.which(tool), "%s is missing (install-deps.sh)" % tool
    work = os.environ.get("FNWM_SYSTEMD_WORK", "/var/tmp")
    os.makedirs(work, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="fnwm-systemd-", dir=work)
    root = os.path.join(tmp, "root")
    c = None
    ok = False
    try:
        t = time.monotonic()
        out = _run([os.path.join(REPO, "packaging", "debian", "build-deb.sh"),
                    os.path.join(tmp, "build")])
        deb = [l for l in out.split("\n") if l.endswith(".deb")][-1]
        make_root(root)
        shutil.copy(deb, os.path.join(root, "root", "fnwm.deb"))
        say("package and root made in %.0f s" % (time.monotonic() - t))

        c = Container(root, os.path.join(tmp, "nspawn.log"))
        say("container booted, PID 1 is %d on the host" % c.leader)
        c.sh("apt-get -q update >/dev/null && DEBIAN_FRONTEND=noninteractive "
             "apt-get -q install -y --no-install-recommends /root/fnwm.deb "
             "> /root/apt.log 2>&1 || { tail -30 /root/apt.log; exit 1; }")
        apt_log = c.out("cat /root/apt.log")
        assert "Warning: The home dir" not in apt_log, apt_log
        assert c.out("stat -c %U:%a /var/lib/fnwm") == "fnwm:700"

        # A port of our own (the container shares the host's network) and
        # the worker double on the workers' PYTHONPATH.
        port = free_port()
        c.sh("printf '{\"worker_manager\": {\"port\": %d}}\\n' "
             "> /var/lib/fnwm/config.json" % port)
        c.sh("mkdir -p /etc/systemd/system/fnwm.service.d && printf "
             "'[Service]\\nEnvironment=PYTHONPATH=%s\\n' > "
             "/etc/systemd/system/fnwm.service.d/test.conf && "
             "systemctl daemon-reload" % WORKER_DIR)

        cursor = journal_cursor(c)
        c.sh("systemctl enable --now fnwm")
        state = unit_state(c)
        say("enable --now:", state.replace("\n", " "))
        assert "ActiveState=active" in state, state
        status = c.out("systemctl show -p StatusText --value fnwm")
        assert status, state

        uuid = cli(c, port, "worker new --name sd --not-in-venv --start"
                   ).split("\n")[0]
        w = wait_for(lambda: (lambda w: w if w.get("state") == "running"
                              and w.get("pid") else None)(
                         worker_of(c, port, uuid)), 60, "the worker to run")
        wpid = w["pid"]
        owner = c.out("stat -c %%U /proc/%d" % wpid)
        say("worker %s runs as pid %d, user %s" % (uuid, wpid, owner))
        assert owner == "fnwm"
        start_log = journal_since(c, cursor)
        assert not problems(start_log), start_log
        assert wait_for(lambda: "1 running" in c.out(
            "systemctl show -p StatusText --value fnwm"), 30,
            "STATUS= to count the worker")

        m1 = main_pid(c)
        c.sh("systemctl restart fnwm")
        m2 = main_pid(c)
        say("restart: main pid %d -> %d, worker pid %d" % (m1, m2, wpid))
        assert m2 != m1 and m2 > 0
        assert wait_for(lambda: worker_of(
            c, port, uuid).get("state") == "running", 30,
            "the worker to be re-adopted")
        assert worker_of(c, port, uuid)["pid"] == wpid
        assert pid_alive(c, wpid)

        c.sh("kill -9 %d" % m2)
        m3 = wait_for(lambda: (
            lambda p: p if p not in (0, m2) else None)(main_pid(c)), 30,
            "systemd to start a new master")
        assert wait_for(lambda: c.out(
            "systemctl is-active fnwm", check=False) == "active", 30,
            "the unit to be active again")
        assert wait_for(lambda: worker_of(
            c, port, uuid).get("state") == "running", 30,
            "the worker to be re-adopted")
        say("kill -9: main pid %d -> %d, worker pid %d" % (m2, m3, wpid))
        assert worker_of(c, port, uuid)["pid"] == wpid

        cursor = journal_cursor(c)
        c.sh("systemctl reload fnwm")
        assert wait_for(lambda: re.search(
            r"reload", journal_since(c, cursor), re.I), 30,
            "the reload to be logged")
        assert main_pid(c) == m3

        # Marked to start with the manager, as `systemctl enable` does.
        assert cli(c, port, "worker --uuid %s enable" % uuid).startswith(
            "worker sd (%s) enabled" % uuid)
        assert worker_of(c, port, uuid)["autostart"] is True

        cursor = journal_cursor(c)
        c.sh("systemctl stop fnwm")
        assert c.out("systemctl is-active fnwm", check=False) == "inactive"
        assert wait_for(lambda: not pid_alive(c, wpid), 30,
                        "the worker to be stopped")
        stop_log = journal_since(c, cursor)
        say("stop: unit inactive, worker pid %d gone" % wpid)
        assert not problems(stop_log), stop_log

        # systemctl start brings the autostart worker back by itself.
        cursor = journal_cursor(c)
        c.sh("systemctl start fnwm")
        w = wait_for(lambda: (
            lambda w: w if w.get("state") == "running" and w.get("pid")
            and w["pid"] != wpid else None)(worker_of(c, port, uuid)), 60,
            "the autostart worker to run")
        say("start: autostart worker %s runs again as pid %d"
            % (uuid, w["pid"]))
        assert c.out("stat -c %%U /proc/%d" % w["pid"]) == "fnwm"
        assert "autostart" in journal_since(c, cursor)
        # Unmarked again, the next starts are the manager's alone.
        cli(c, port, "worker --uuid %s disable" % uuid)
        c.sh("systemctl stop fnwm")
        assert wait_for(lambda: not pid_alive(c, w["pid"]), 30,
                        "the autostart worker to be stopped")
        assert not problems(journal_since(c, cursor)), journal_since(
            c, cursor)

        # A clean start and stop once more, start to end in the journal.
        cursor = journal_cursor(c)
        c.sh("systemctl start fnwm")
        assert c.out("systemctl is-active fnwm") == "active"
        c.sh("systemctl stop fnwm")
        clean = journal_since(c, cursor)
        assert not problems(clean), clean
        say("clean start and stop: %d journal lines, no warning"
            % len(clean.split("\n")))
        ok = True
    finally:
        if c is not None:
            if not ok:
                print(c.out("systemctl status --no-pager fnwm; journalctl "
                            "--no-pager -u fnwm | tail -60", check=False))
            c.stop()
            if not ok:
                print(open(c.log.name).read()[-3000:])
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept for a look:", tmp)
