#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The README's two set-up commands on a fresh Debian 12.

Builds a minimal Debian 12 root with debootstrap (plus git and
ca-certificates, as a new user would have), clones this repository's HEAD
into it, and runs the two commands of the README's "Set-up" section, read
from README.md itself so that the check and the README cannot drift:

  1. the build-and-start command, in the background, until
     `fnwm --no-start ping` (run inside the root) is answered; then
     `fnwm --no-start stop` ends it, and it must exit 0;
  2. the test command, with FNWM_FRESH_INNER=1 (so this check does not run
     again inside), which must exit 0 and print that all stages passed.

It prints what it ran and how long each step took, and the number of
packages command 1 installed. Needs root (debootstrap, chroot, mounts).
An unreachable Debian archive is a failure with that reason, never a skip.

usage: fresh_check.py [WORKDIR]   (default: build/fresh of the repository)
Environment: FNWM_FRESH_MIRROR (default http://deb.debian.org/debian),
FNWM_FRESH_KEEP=1 keeps the root after a pass (it is always kept after a
failure), FNWM_FRESH_INNER=1 means "already inside such a root": exit 77
(CTest's skip) at once.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MIRROR = os.environ.get("FNWM_FRESH_MIRROR", "http://deb.debian.org/debian")
SECURITY = "http://deb.debian.org/debian-security"
SUITE = "bookworm"
SRC = "/root/fnwm"      # where the clone lives inside the root
PING_DEADLINE = 1200    # command 1: packages + build + start, s
TEST_DEADLINE = 3600    # command 2: the whole suite, s
SKIP = 77

T0 = time.monotonic()


def say(*args):
    print("[fresh %6.0fs]" % (time.monotonic() - T0), *args, flush=True)


class Failure(Exception):
    pass


def readme_commands():
    """The two indented command lines of the README's Set-up section."""
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    m = re.search(r"^## Set-up.*?$(.*?)^## ", text, re.M | re.S)
    if not m:
        raise Failure("README.md has no '## Set-up' section")
    cmds = [l.strip() for l in m.group(1).split("\n")
            if l.startswith("    ") and l.strip()]
    if len(cmds) != 2:
        raise Failure("README's Set-up section shows %d commands, not 2: %r"
                      % (len(cmds), cmds))
    start, test = cmds
    if "startworkermanager" not in start and " serve" not in start:
        raise Failure("the first set-up command does not start the "
                      "manager: %r" % start)
    return start, test


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw)


def must(argv, what, **kw):
    r = run(argv, **kw)
    if r.returncode != 0:
        raise Failure("%s failed (%d): %s\n%s" % (what, r.returncode,
                                                   " ".join(argv),
                                                   r.stdout[-4000:]))
    return r.stdout


def mounts_under(root):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == root or mp.startswith(root + "/"):
                out.append(mp)
    return out


def kill_processes_in(root):
    """Every process whose root directory is inside the fresh root."""
    for _ in range(20):
        found = False
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                r = os.readlink("/proc/%s/root" % pid)
            except OSError:
                continue
            if r == root or r.startswith(root + "/"):
                found = True
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        if not found:
            return
        time.sleep(0.5)


def teardown(root):
    kill_processes_in(root)
    for mp in sorted(mounts_under(root), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)


def remove_root(root):
    """Deletes the root, never through a mount still inside it."""
    left = mounts_under(root)
    if left:
        raise Failure("not deleting %s: still mounted: %s" % (root, left))
    shutil.rmtree(root)


# The host's network settings, passed on as they are.
NETWORK_ENV = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY",
               "HTTPS_PROXY", "NO_PROXY", "NODE_EXTRA_CA_CERTS")


def chroot_env():
    env = {"HOME": "/root", "USER": "root", "LOGNAME": "root",
           "LANG": "C.UTF-8", "TERM": "dumb",
           "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                   "/sbin:/bin"}
    env.update({k: os.environ[k] for k in NETWORK_ENV if k in os.environ})
    if host_extra_cas():
        # node reads its own CA list; this makes it read the system's too
        env.setdefault("NODE_EXTRA_CA_CERTS",
                       "/etc/ssl/certs/ca-certificates.crt")
    return env


def host_extra_cas():
    d = "/usr/local/share/ca-certificates"
    return os.path.isdir(d) and bool(os.listdir(d))


def in_root(root, script, **kw):
    """argv running a shell command line inside the root, in the clone."""
    return ["chroot", root, "/bin/sh", "-c", "cd %s && %s" % (SRC, script)]


def make_root(root):
    say("debootstrap --variant=minbase --include=git,ca-certificates",
        SUITE, root, MIRROR)
    t = time.monotonic()
    r = run(["debootstrap", "--variant=minbase",
             "--include=git,ca-certificates", SUITE, root, MIRROR])
    if r.returncode != 0:
        tail = r.stdout[-3000:]
        if re.search(r"Failed getting release file|Temporary failure|"
                     r"Could not resolve|unable to fetch|Connection",
                     tail, re.I):
            raise Failure("the Debian archive %s cannot be reached:\n%s"
                          % (MIRROR, tail))
        raise Failure("debootstrap failed (%d):\n%s" % (r.returncode, tail))
    # A Debian 12 as installed: main, updates and security.
    with open(os.path.join(root, "etc/apt/sources.list"), "w") as f:
        f.write("deb %s %s main\n" % (MIRROR, SUITE))
        f.write("deb %s %s-updates main\n" % (MIRROR, SUITE))
        f.write("deb %s %s-security main\n" % (SECURITY, SUITE))
    # On the host's network: its resolver, and the certificate authorities
    # its admin added (a proxy that intercepts TLS, as on a company
    # network), as a machine set up on that network would have them.
    shutil.copyfile("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
    local_ca = "/usr/local/share/ca-certificates"
    if host_extra_cas():
        shutil.copytree(local_ca, root + local_ca, dirs_exist_ok=True)
        must(["chroot", root, "update-ca-certificates"],
             "update-ca-certificates", env=chroot_env())
        say("the host's extra certificate authorities:",
            " ".join(sorted(os.listdir(local_ca))))
    say("root made in %.0f s" % (time.monotonic() - t))


def mount_root(root):
    # systemd-nspawn (the packaging test) wants the root to be a mount
    # point of its own; chromium wants /dev/shm; the suite wants /proc.
    must(["mount", "--bind", root, root], "bind mount of the root")
    must(["mount", "--make-private", root], "make-private")
    must(["mount", "-t", "proc", "proc", root + "/proc"], "mount /proc")
    for d in ("sys", "dev"):
        must(["mount", "--rbind", "/" + d, os.path.join(root, d)],
             "mount /" + d)
        must(["mount", "--make-rslave", os.path.join(root, d)], "rslave")
    must(["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs",
          root + "/tmp"], "mount /tmp")
    # as on a booted system (systemd-nspawn keeps state there)
    must(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs",
          root + "/run"], "mount /run")


def clone(root):
    head = must(["git", "-C", REPO, "rev-parse", "HEAD"], "git rev-parse")
    dirty = run(["git", "-C", REPO, "status", "--porcelain",
                 "--untracked-files=no"]).stdout.strip()
    if dirty:
        say("note: the work tree has uncommitted changes; the fresh root "
            "gets the committed HEAD only")
    must(["git", "clone", "-q", "--no-local", REPO, root + SRC], "git clone")
    say("cloned %s at %s" % (REPO, head.strip()[:12]))


def packages(root):
    out = run(["chroot", root, "dpkg-query", "-W", "-f=${Status}\n"],
              env=chroot_env()).stdout
    return out.count("install ok installed")


def ping(root):
    return run(["chroot", root, "/bin/sh", "-c",
                "cd %s && ./build/master/fnwm --no-start ping" % SRC],
               env=chroot_env(), timeout=30)


def command_start(root, cmd, logdir):
    before = packages(root)
    say("command 1:", cmd)
    log = open(os.path.join(logdir, "command1.log"), "w")
    t = time.monotonic()
    proc = subprocess.Popen(in_root(root, cmd), stdout=log,
                            stderr=subprocess.STDOUT, env=chroot_env(),
                            start_new_session=True)
    try:
        while True:
            if proc.poll() is not None:
                raise Failure("command 1 exited (%d) before it answered "
                              "ping; see %s" % (proc.returncode, log.name))
            if time.monotonic() - t > PING_DEADLINE:
                raise Failure("command 1: no ping answered within %d s; "
                              "see %s" % (PING_DEADLINE, log.name))
            if os.path.exists(root + SRC + "/build/master/fnwm"):
                r = ping(root)
                if r.returncode == 0:
                    break
            time.sleep(1)
        first_ping = time.monotonic() - t
        say("command 1: ping answered after %.0f s (%d packages installed)"
            % (first_ping, packages(root) - before))
        r = run(["chroot", root, "/bin/sh", "-c",
                 "cd %s && ./build/master/fnwm --no-start stop" % SRC],
                env=chroot_env(), timeout=120)
        if r.returncode != 0:
            raise Failure("fnwm stop failed (%d): %s" % (r.returncode,
                                                         r.stdout))
        try:
            rc = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            raise Failure("the manager of command 1 did not exit after "
                          "`fnwm stop`")
        if rc != 0:
            raise Failure("command 1 exited %d after `fnwm stop`; see %s"
                          % (rc, log.name))
        say("command 1: the manager stopped on request, exit 0")
        return first_ping
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def command_test(root, cmd, logdir):
    say("command 2:", cmd)
    logpath = os.path.join(logdir, "command2.log")
    env = dict(chroot_env(), FNWM_FRESH_INNER="1")
    t = time.monotonic()
    tail = []
    with open(logpath, "w", buffering=1) as log:
        proc = subprocess.Popen(in_root(root, cmd), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env, text=True,
                                start_new_session=True)
        try:
            for line in proc.stdout:
                log.write(line)
                # the stage lines, and ctest's verdicts, as they come
                if line.startswith("== ") or re.search(
                        r"tests passed|\*\*\*Failed|Timeout\b", line):
                    say("  |", line.rstrip())
                tail = (tail + [line])[-60:]
                if time.monotonic() - t > TEST_DEADLINE:
                    raise Failure("command 2 ran over %d s" % TEST_DEADLINE)
            rc = proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    took = time.monotonic() - t
    if rc != 0:
        raise Failure("command 2 exited %d after %.0f s; see %s; its end:\n%s"
                      % (rc, took, logpath, "".join(tail)))
    text = open(logpath).read()
    if "all stages passed" not in text:
        raise Failure("command 2 exited 0 but did not say that all stages "
                      "passed; see %s" % logpath)
    if re.search(r"ui_browser .*(Not Run|Skipped)", text):
        raise Failure("command 2 did not run the browser test")
    say("command 2: exit 0, all stages passed, in %.0f s" % took)
    return took


def on_sigterm(signo, frame):
    raise Failure("stopped by signal %d" % signo)


def main():
    # A stop from outside still unmounts and kills what runs in the root.
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigterm)
    if os.environ.get("FNWM_FRESH_INNER") == "1":
        print("FNWM_FRESH_INNER=1: already inside a fresh root; the fresh "
              "check does not run again")
        return SKIP
    work = os.path.abspath(sys.argv[1] if len(sys.argv) > 1
                           else os.path.join(REPO, "build", "fresh"))
    if os.geteuid() != 0:
        print("FAIL: the fresh check needs root (debootstrap, chroot)")
        return 1
    for tool in ("debootstrap", "chroot", "git", "mount"):
        if shutil.which(tool) is None:
            print("FAIL: %s is missing (packaging/install-deps.sh installs "
                  "it)" % tool)
            return 1
    root = os.path.join(work, "root")
    os.makedirs(work, exist_ok=True)
    ok = False
    try:
        if os.path.exists(root):
            teardown(root)
            remove_root(root)
        start, test = readme_commands()
        make_root(root)
        clone(root)
        mount_root(root)
        first_ping = command_start(root, start, work)
        took = command_test(root, test, work)
        say("PASS: command 1 answered ping after %.0f s; command 2 took "
            "%.0f s" % (first_ping, took))
        ok = True
        return 0
    except (Failure, subprocess.TimeoutExpired) as e:
        say("FAIL:", e)
        return 1
    finally:
        teardown(root)
        if ok and os.environ.get("FNWM_FRESH_KEEP") != "1":
            try:
                remove_root(root)
            except (Failure, OSError) as e:
                say("could not remove the root:", e)
        elif not ok:
            say("the root is kept for a look:", root)


if __name__ == "__main__":
    sys.exit(main())
