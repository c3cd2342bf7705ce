# SPDX-License-Identifier: MIT
"""The Debian package: built with packaging/debian/build-deb.sh, installed
on this machine (root only), checked (binaries, monitor under libexec,
units where systemd looks, man page, the fnwm user, an installed manager
that really supervises a worker), then removed again."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
WORKER_TREE = os.path.join(REPO, "tests", "worker")


def _run(argv, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, **kw)
    assert r.returncode == 0, "%s: %s\n%s%s" % (argv, r.returncode,
                                                r.stdout, r.stderr)
    return r


@pytest.mark.skipif(os.geteuid() != 0, reason="installing needs root")
@pytest.mark.skipif(shutil.which("dpkg") is None, reason="not Debian")
def test_build_install_run_remove():
    st = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "fnwm"],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                        text=True).stdout
    if "install ok installed" in st:
        pytest.skip("an fnwm package is installed already; not touching it")
    tmp = tempfile.mkdtemp(prefix="fnwm-deb-")
    installed = False
    try:
        out = _run([os.path.join(REPO, "packaging", "debian", "build-deb.sh"),
                    os.path.join(tmp, "build")]).stdout
        debs = [l for l in out.split("\n") if l.endswith(".deb")]
        assert debs, out
        deb = debs[-1]
        info = _run(["dpkg-deb", "-I", deb]).stdout
        # The runtime library does not pull in lws's libev glue.
        assert "libwebsockets-evlib-ev" in info
        assert re.search(r"Depends:.*libwebsockets17", info), info
        _run(["dpkg", "-i", deb])
        installed = True
        version = _run(["/usr/bin/fnwm", "--version"]).stdout
        assert version.startswith("fnwm "), version
        assert os.access("/usr/libexec/fnwm/fnwm-monitor", os.X_OK)
        for unit in ("/usr/lib/systemd/system/fnwm.service",
                     "/usr/lib/systemd/user/fnwm.service"):
            text = open(unit).read()
            assert "Type=notify" in text and "KillMode=process" in text
        assert os.path.exists("/usr/share/man/man1/fnwm.1")
        _run(["getent", "passwd", "fnwm"])
        if shutil.which("systemd-analyze"):
            r = subprocess.run(["systemd-analyze", "verify",
                                "/usr/lib/systemd/system/fnwm.service"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
            # Offline verify may complain about the absent bus; not about
            # the unit's own directives.
            assert "Unknown key" not in r.stdout, r.stdout
            assert "Invalid" not in r.stdout, r.stdout

        # The installed manager finds its installed monitor and runs a
        # worker with it.
        cfg = os.path.join(tmp, "cfg")
        env = dict(os.environ, PYTHONPATH=WORKER_TREE,
                   FUNCNODES_WS_WORKER_STARTPORT=str(
                       21000 + os.getpid() % 20000))
        env.pop("FNWM_MONITOR", None)
        log = open(os.path.join(tmp, "fnwm.log"), "w")
        mgr = subprocess.Popen(["/usr/bin/fnwm", "startworkermanager",
                                "--dir", cfg, "--port", "0", "--python",
                                "/usr/bin/python3"], stdout=log, stderr=log,
                               env=env)
        try:
            port = None
            deadline = time.monotonic() + 30
            while port is None and time.monotonic() < deadline:
                m = re.search(r"listening on ws://127\.0\.0\.1:(\d+)/",
                              open(log.name).read())
                port = int(m.group(1)) if m else None
                time.sleep(0.05)
            assert port, open(log.name).read()
            base = ["/usr/bin/fnwm", "--dir", cfg, "--port", str(port),
                    "--no-start"]
            uuid = _run(base + ["worker", "new", "--name", "pkg",
                                "--not-in-venv", "--start"],
                        env=env).stdout.split("\n")[0]
            listing = json.loads(_run(base + ["worker", "list", "--json"],
                                      env=env).stdout)
            assert [w["uuid"] for w in listing] == [uuid]
            assert listing[0]["state"] in ("running", "starting")
            assert listing[0]["monitor_pid"] > 0
            exe = os.readlink("/proc/%d/exe" % listing[0]["monitor_pid"])
            assert exe == "/usr/libexec/fnwm/fnwm-monitor", exe
            _run(base + ["stop"], env=env)
            assert mgr.wait(60) == 0
        finally:
            if mgr.poll() is None:
                mgr.kill()
                mgr.wait()
            log.close()
    finally:
        if installed:
            subprocess.run(["dpkg", "-P", "fnwm"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)
