"""The master re-adopts a monitor through worker_<uuid>.sock only when the
process serving it runs as the master's own user (SO_PEERCRED); any other
is ignored with a log line, never adopted, never signalled."""
import os
import signal
import subprocess
import sys

import pytest

from workers_util import harness  # noqa: F401 (the fixture)
from workers_util import T, is_type, pid_alive, wait_for, wait_worker_pids

NOBODY = 65534

# Binds the socket as root (the workers dir is 0700), then becomes nobody
# before listen(): SO_PEERCRED names the listener's credentials.
FOREIGN = r"""
import os, socket, sys
d, name = sys.argv[1], sys.argv[2]
fd = os.open(d, os.O_PATH | os.O_DIRECTORY)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("/proc/self/fd/%d/%s" % (fd, name))
os.chmod(os.path.join(d, name), 0o666)
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
s.listen(16)
print("ready", flush=True)
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)
    print("connection", flush=True)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to be nobody")
def test_sock_of_another_uid_ignored(harness):
    async def body():
        h = harness.start()
        c = await h.client()
        uuid = await h.created_worker(c, name="peer")
        await c.close()
        h.proc.send_signal(signal.SIGTERM)
        assert h.proc.wait(T(20)) == 0
        fake = subprocess.Popen(
            [sys.executable, "-c", FOREIGN, h.workers_dir,
             "worker_%s.sock" % uuid],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            assert fake.stdout.readline().strip() == b"ready"
            st = os.stat(h.path(uuid, ".sock"))
            start_of_log = len(h.log())
            h.start()
            c = await h.client()
            line = wait_for(
                lambda: "worker_%s.sock is served by pid %d of uid %d, "
                "not ours; ignored" % (uuid, fake.pid, NOBODY)
                in h.log()[start_of_log:], T(10), "the 'ignored' line")
            assert line
            assert "re-adopted" not in h.log()[start_of_log:], h.log()
            assert fake.poll() is None and pid_alive(fake.pid)
            # The worker is still the master's to run: a real monitor
            # takes the place (the stale socket is replaced).
            data = await h.activate(c, uuid)
            pids = await wait_worker_pids(uuid, 1)
            assert data["pid"] == pids[0]
            assert fake.poll() is None, "the foreign process was signalled"
            assert os.stat(h.path(uuid, ".sock")).st_ino != st.st_ino
        finally:
            fake.kill()
            fake.wait()
    harness.run(body())
