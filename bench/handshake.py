#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
What the peer-uid lookup adds to a WebSocket handshake.

Starts two masters of the same build on private temporary config dirs:

  trusted  default configuration: a loopback client of the manager's own
           user is trusted after one sock_diag lookup of its socket's uid;
  token    fnwm.require_token: true: no lookup, the client sends
           "Authorization: Bearer T" and the hub compares SHA-256 digests.

and times N handshakes on each, alternating between the two (and which
goes first) so that both
see the same machine load: TCP connect, the upgrade request, until the
"101" head is read (then the connection is closed). Prints the median and
the 90th percentile of each and the difference of the medians. The token
path is not free either (one SHA-256 of ~64 bytes, about a microsecond), so
the difference is "lookup minus token check", a lower bound of the lookup.

Wall-clock latency on a loaded machine is noisy, so the CPU time each
master spent over the run (/proc/PID/schedstat, ns) is divided by N too.
The lookup alone is also timed without the noise of a Python client:
bench/peerlookup.c (compiled here with cc -O2 from master/peer.c) calls it
20000 times on one loopback connection.

  bench/handshake.py [--fnwm build/master/fnwm] [-n 2000]
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def start(fnwm, tmp, name, config):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f)
    log = open(os.path.join(tmp, name + ".log"), "wb+")
    p = subprocess.Popen([fnwm, "startworkermanager", "--dir", d, "--port",
                          "0"], stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log.seek(0)
        m = re.search(rb"listening on ws://127\.0\.0\.1:(\d+)/", log.read())
        if m:
            with open(os.path.join(d, "fnwm.token")) as f:
                return p, int(m.group(1)), f.read().strip()
        time.sleep(0.02)
    p.kill()
    raise SystemExit("fnwm did not start; see %s.log" % name)


def cpu_ns(pid):
    """CPU time the process has run, ns (/proc/PID/schedstat)."""
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def handshake(port, token=None):
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n" % (port, key))
    if token:
        req += "Authorization: Bearer %s\r\n" % token
    req = (req + "\r\n").encode()
    t0 = time.perf_counter_ns()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(4096)
        if not c:
            break
        buf += c
    t1 = time.perf_counter_ns()
    s.close()
    if not buf.startswith(b"HTTP/1.1 101"):
        raise SystemExit("handshake refused: %r" % buf[:80])
    return (t1 - t0) / 1000.0  # us


def lookup_alone(tmp):
    repo = os.path.dirname(HERE)
    exe = os.path.join(tmp, "peerlookup")
    cflags = subprocess.run(["pkg-config", "--cflags", "libwebsockets",
                             "json-c"], capture_output=True, text=True,
                            check=True).stdout.split()
    subprocess.run(["cc", "-O2", "-D_GNU_SOURCE",
                    "-I" + os.path.join(repo, "master"),
                    "-I" + os.path.join(repo, "common")] + cflags +
                   [os.path.join(HERE, "peerlookup.c"),
                    os.path.join(repo, "master", "peer.c"),
                    os.path.join(repo, "common", "log.c"), "-o", exe],
                   check=True)
    out = subprocess.run([exe, "20000"], capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[0]) / 1000.0, int(out[1]) / 1000.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fnwm", default=os.path.join(
        HERE, "..", "build", "master", "fnwm"))
    ap.add_argument("-n", type=int, default=2000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="fnwm-bench-hs-")
    procs = []
    try:
        p1, trusted_port, _ = start(a.fnwm, tmp, "trusted", {})
        procs.append(p1)
        p2, token_port, token = start(a.fnwm, tmp, "token",
                                      {"fnwm": {"require_token": True}})
        procs.append(p2)
        trusted, tokened = [], []
        for _ in range(50):  # warm-up
            handshake(trusted_port)
            handshake(token_port, token)
        c1, c2 = cpu_ns(p1.pid), cpu_ns(p2.pid)
        for i in range(a.n):
            # Which goes first alternates too: no path always runs right
            # after the other.
            if i % 2:
                trusted.append(handshake(trusted_port))
                tokened.append(handshake(token_port, token))
            else:
                tokened.append(handshake(token_port, token))
                trusted.append(handshake(trusted_port))
        cpu_t = (cpu_ns(p1.pid) - c1) / a.n / 1000.0
        cpu_k = (cpu_ns(p2.pid) - c2) / a.n / 1000.0
        mt, mk = statistics.median(trusted), statistics.median(tokened)
        q = lambda v: statistics.quantiles(v, n=10)[-1]
        print("handshakes: %d per path, alternating, loopback" % a.n)
        print("trusted by peer uid (sock_diag lookup): median %.1f us, "
              "p90 %.1f us" % (mt, q(trusted)))
        print("token, lookup off (require_token):      median %.1f us, "
              "p90 %.1f us" % (mk, q(tokened)))
        print("difference of the medians (lookup - token check): %+.1f us"
              % (mt - mk))
        print("master CPU time per handshake (schedstat): trusted %.1f us, "
              "token %.1f us, difference %+.1f us" % (cpu_t, cpu_k,
                                                      cpu_t - cpu_k))
        med, p90 = lookup_alone(tmp)
        print("peer_identify() alone, 20000 calls: median %.1f us, "
              "p90 %.1f us" % (med, p90))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(10)
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
