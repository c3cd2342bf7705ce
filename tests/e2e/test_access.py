"""Who may use the hub: trust by peer uid on loopback, the control and
read-only tokens, the Host allow-list (DNS rebinding), /metrics and
/healthz. Clients of another user run as `nobody` through runuser."""
import asyncio
import json
import os
import pathlib
import re
import shutil
import stat
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import (EXIT_PERMANENT, FAST_CONFIG, FNWM_BIN, T, connect,
                      handshake_request, http_exchange, recv_json,
                      recv_until, is_status, write_worker)

NOBODY = "nobody"
HAVE_RUNUSER = os.geteuid() == 0 and shutil.which("runuser") is not None
needs_root = pytest.mark.skipif(not HAVE_RUNUSER,
                                reason="needs root and runuser")

# A client for another user: a raw WebSocket handshake, then one text
# command and its first answer. Given on stdin: nobody needs no file of ours.
CLIENT = r'''
import base64, os, socket, struct, sys
port, query, bearer, cmd, host = sys.argv[1:6]
s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
key = base64.b64encode(os.urandom(16)).decode()
req = ("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
       "Sec-WebSocket-Version: 13\r\n" % (query, host, key))
if bearer:
    req += "Authorization: Bearer %s\r\n" % bearer
s.sendall((req + "\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    c = s.recv(4096)
    if not c:
        break
    buf += c
head, _, rest = buf.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode())
if b" 101 " not in head.split(b"\r\n")[0]:
    while True:
        c = s.recv(4096)
        if not c:
            break
        rest += c
    print("BODY " + rest.decode().strip())
    sys.exit(0)
p = cmd.encode()
m = os.urandom(4)
s.sendall(struct.pack("!BB", 0x81, 0x80 | len(p)) + m +
          bytes(b ^ m[i % 4] for i, b in enumerate(p)))
def need(n):
    global rest
    while len(rest) < n:
        c = s.recv(65536)
        if not c:
            raise SystemExit("EOF")
        rest += c
    out, rest = rest[:n], rest[n:]
    return out
b0, b1 = need(2)
n = b1 & 0x7f
if n == 126:
    n = struct.unpack("!H", need(2))[0]
elif n == 127:
    n = struct.unpack("!Q", need(8))[0]
print("FRAME " + need(n).decode())
'''


def as_nobody(port, query="", bearer="", cmd="ping", host=None):
    """Runs CLIENT as nobody: (status line, body or frame text)."""
    r = subprocess.run(
        ["runuser", "-u", NOBODY, "--", "/usr/bin/python3", "-", str(port),
         query, bearer, cmd, host or "127.0.0.1:%d" % port],
        input=CLIENT, capture_output=True, text=True, timeout=T(20),
        cwd="/")
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    return lines[0], (lines[1] if len(lines) > 1 else "")


def token_of(m):
    with open(os.path.join(m.config_dir, "fnwm.token")) as f:
        return f.read().strip()


def http_get(port, path, headers=None, host=None):
    h = {"Host": host or "127.0.0.1:%d" % port}
    h.update(headers or {})
    req = "GET %s HTTP/1.1\r\n" % path + "".join(
        "%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
    return http_exchange(port, req.encode())


@needs_root
async def test_other_user_needs_the_token(fnwm):
    m = fnwm.start(config=FAST_CONFIG, debug=True)
    tok = token_of(m)
    path = os.path.join(m.config_dir, "fnwm.token")
    assert re.fullmatch(r"[0-9a-f]{64}", tok)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    status, body = as_nobody(m.port)
    assert " 401 " in status, status
    assert body == "BODY a token is required (?token=T in the URL or " \
        "Authorization: Bearer T)"
    await m.async_wait_log(r"refused WebSocket from peer 127\.0\.0\.1: 401 "
                           r"a token is required")
    status, body = as_nobody(m.port, bearer="x" * 64)
    assert " 401 " in status and "not valid" in body, (status, body)

    status, frame = as_nobody(m.port, query="?token=" + tok)
    assert " 101 " in status and frame == "FRAME pong", (status, frame)
    status, frame = as_nobody(m.port, bearer=tok)
    assert " 101 " in status and frame == "FRAME pong", (status, frame)

    # The manager's own user needs nothing.
    ws = await connect(m)
    await ws.send("ping")
    assert await ws.recv() == "pong"
    await ws.close()
    # The token is never written to the log, even at debug level.
    assert tok not in m.log()


@needs_root
async def test_token_made_once_and_kept(fnwm):
    d = fnwm.new_dir(config=FAST_CONFIG)
    m = fnwm.start(config_dir=d)
    tok = token_of(m)
    m.signal(15)
    assert m.wait_exit() == 0
    m2 = fnwm.start(config_dir=d)
    assert token_of(m2) == tok
    status, frame = as_nobody(m2.port, query="?token=" + tok)
    assert frame == "FRAME pong", (status, frame)


async def test_token_file_setting_and_bad_files(fnwm, tmp_path):
    own = tmp_path / "elsewhere.token"
    own.write_text("s3cret-token-of-16_\n")
    os.chmod(own, 0o600)
    cfg = {"fnwm": {"token_file": str(own), "require_token": True}}
    m = fnwm.start(config=cfg, wait=False)
    m.wait_listening()
    assert not os.path.exists(os.path.join(m.config_dir, "fnwm.token"))
    ws = await connect("ws://127.0.0.1:%d/?token=s3cret-token-of-16_"
                       % m.port)
    await ws.close()

    # Missing, readable by others, too short: refused at start, exit 100.
    for text, mode, why in ((None, 0, "No such file"),
                            ("s3cret-token-of-16_", 0o644,
                             "readable by it alone"),
                            ("short", 0o600, "a token is 16 to 256")):
        p = tmp_path / "bad.token"
        if p.exists():
            p.unlink()
        if text is not None:
            p.write_text(text)
            os.chmod(p, mode)
        rc, log = fnwm.run(["startworkermanager", "--dir",
                            fnwm.new_dir(config={"fnwm": {
                                "token_file": str(p)}}), "--port", "0"])
        assert rc == EXIT_PERMANENT, log
        assert why in log, log


async def test_require_token_turns_trust_off(fnwm):
    m = fnwm.start(config={"fnwm": {"require_token": True}}, wait=False)
    m.wait_listening()
    tok = token_of(m)
    status, head, body = http_exchange(m.port, handshake_request(m.port))
    assert status == 401, head
    assert body == b"a token is required (?token=T in the URL or " \
        b"Authorization: Bearer T)\n"
    status, _, _ = http_exchange(m.port, handshake_request(
        m.port, headers={"Authorization": "Bearer " + tok}))
    assert status == 101
    ws = await connect("ws://127.0.0.1:%d/?token=%s" % (m.port, tok))
    await ws.send("ping")
    assert await ws.recv() == "pong"
    await ws.close()


async def test_dns_rebinding_refused_and_creates_nothing(fnwm):
    m = fnwm.start(config=FAST_CONFIG)
    p = m.port
    evil = "evil.example:%d" % p
    for path in ("/", "/metrics", "/healthz"):
        req = handshake_request(p, path, headers={
            "Origin": "http://" + evil}, host=evil) if path == "/" else \
            ("GET %s HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\n\r\n"
             % (path, evil, evil)).encode()
        status, head, body = http_exchange(p, req)
        assert status == 403, (path, head)
        assert b"Host header" in body
    # A worker creation in the same request never reaches the hub.
    assert os.listdir(m.workers_dir) == []
    await m.async_wait_log(r"refused WebSocket from origin http://evil\."
                           r"example:\d+, peer 127\.0\.0\.1: 403")

    # Names the hub may be called by: loopback, localhost, allowed_hosts.
    for host in ("localhost:%d" % p, "127.0.0.2:%d" % p, "[::1]:%d" % p,
                 "LOCALHOST."):
        status, _, _ = http_exchange(p, handshake_request(p, host=host))
        assert status == 101, host
    m2 = fnwm.start(config={"fnwm": {"allowed_hosts": ["ui.example.org"]}})
    status, _, _ = http_exchange(m2.port, handshake_request(
        m2.port, host="ui.example.org:%d" % m2.port,
        headers={"Origin": "http://ui.example.org:%d" % m2.port}))
    assert status == 101
    status, _, _ = http_exchange(m2.port, handshake_request(
        m2.port, host="evil.example:%d" % m2.port))
    assert status == 403


@needs_root
async def test_metrics_needs_a_credential_healthz_does_not(fnwm):
    m = fnwm.start(config=FAST_CONFIG)
    tok = token_of(m)
    r = subprocess.run(
        ["runuser", "-u", NOBODY, "--", "/usr/bin/python3", "-c",
         "import sys,urllib.request as u\n"
         "def get(path, tok=None):\n"
         "    rq = u.Request('http://127.0.0.1:%s' + path)\n"
         "    if tok: rq.add_header('Authorization', 'Bearer ' + tok)\n"
         "    try:\n"
         "        r = u.urlopen(rq, timeout=10)\n"
         "        print(path, r.status, r.read().decode()[:30])\n"
         "    except u.HTTPError as e:\n"
         "        print(path, e.code, e.read().decode().strip())\n"
         "get('/metrics'); get('/healthz'); get('/metrics', sys.argv[1])"
         % m.port, tok], capture_output=True, text=True, timeout=T(20),
        cwd="/")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("/metrics 401 a token is required"), r
    assert lines[1].startswith("/healthz 200"), r
    assert lines[2].startswith("/metrics 200 # HELP"), r
    # The manager's own user reads /metrics as before.
    status, _, body = http_get(m.port, "/metrics")
    assert status == 200 and body.startswith(b"# HELP")


async def test_readonly_token_looks_but_does_not_touch(fnwm, tmp_path):
    ro = tmp_path / "ro.token"
    ro.write_text("read-only-token-0123456789\n")
    os.chmod(ro, 0o600)
    d = fnwm.new_dir(config={"fnwm": dict(FAST_CONFIG["fnwm"],
                                          readonly_token_file=str(ro),
                                          require_token=True)})
    write_worker(os.path.join(d, "workers"), "w1")
    m = fnwm.start(config_dir=d, wait=False)
    m.wait_listening()
    before = sorted(os.listdir(m.workers_dir))
    ws = await connect("ws://127.0.0.1:%d/?token=read-only-token-0123456789"
                       % m.port)
    await ws.send("ping")
    assert await ws.recv() == "pong"
    await ws.send("identify")
    assert (await recv_json(ws))["class"] == "WorkerManager"
    await ws.send("worker_status")
    st = await recv_until(ws, is_status, T(10))
    assert [e["uuid"] for e in st["inactive"]] == ["w1"]
    for cmd in ('{"type": "new_worker", "name": "x"}',
                '{"type": "stop_worker", "workerid": "w1"}',
                '{"type": "set_active", "workerid": "w1"}',
                '{"type": "delete_worker", "workerid": "w1"}',
                "stop"):
        await ws.send(cmd)
        msg = await recv_until(ws, lambda x: isinstance(x, dict) and
                               x.get("type") == "error")
        assert "is not permitted: this connection has read-only access" \
            in msg["message"], msg
    await ws.send('{"type": "worker_details", "workerid": "w1"}')
    msg = await recv_until(ws, lambda x: isinstance(x, dict) and
                           x.get("type") in ("worker_details", "error"))
    assert msg["type"] == "worker_details", msg
    # The dashboard's figures too; it is told to offer no actions.
    await ws.send('{"type": "worker_stats"}')
    msg = await recv_until(ws, lambda x: isinstance(x, dict) and
                           x.get("type") in ("worker_stats", "error"))
    assert msg["type"] == "worker_stats" and msg["access"] == "read", msg
    await ws.close()
    assert m.alive()
    assert sorted(os.listdir(m.workers_dir)) == before
    with open(os.path.join(m.workers_dir, "worker_w1.json")) as f:
        assert json.load(f)["uuid"] == "w1"
    # /metrics with the read-only token; the control token still controls.
    status, _, body = http_get(m.port, "/metrics", {
        "Authorization": "Bearer read-only-token-0123456789"})
    assert status == 200 and body.startswith(b"# HELP")
    ws = await connect("ws://127.0.0.1:%d/?token=%s" % (m.port,
                                                        token_of(m)))
    await ws.send('{"type": "new_worker", "kwargs": {"name": "made", '
                  '"in_venv": false}}')
    msg = await recv_until(ws, lambda x: isinstance(x, dict) and
                           x.get("type") in ("worker_created", "error"),
                           T(30))
    assert msg["type"] == "worker_created", msg
    await ws.close()


@pytest.fixture
def nobody_home():
    """A directory nobody owns and can reach (pytest's tmp is 0700), with
    a copy of the fnwm binary beside it: the build tree may lie where
    nobody cannot go (a clone in /root, 0700)."""
    d = tempfile.mkdtemp(prefix="fnwm-nobody-")
    os.chmod(d, 0o755)
    home = os.path.join(d, "home")
    os.mkdir(home)
    shutil.chown(home, NOBODY)
    shutil.copy(FNWM_BIN, os.path.join(d, "fnwm"))
    yield pathlib.Path(home)
    shutil.rmtree(d)


@needs_root
def test_cli_of_another_user(fnwm, nobody_home):
    m = fnwm.start(config=FAST_CONFIG)
    home = nobody_home

    def cli(*args, env=None):
        e = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
        e.update(env or {})
        return subprocess.run(
            ["runuser", "-u", NOBODY, "--", "env"] +
            ["%s=%s" % kv for kv in e.items()] +
            [str(home.parent / "fnwm"), "--dir", str(home / "cfg"),
             "--no-start"] +
            list(args), capture_output=True, text=True, timeout=T(20),
            cwd="/")

    r = cli("--port", str(m.port), "ping")
    assert r.returncode == 3, r
    assert "refused the connection (401): a token is required" in r.stderr
    url = subprocess.run([FNWM_BIN, "--dir", m.config_dir, "--port",
                          str(m.port), "url"], capture_output=True,
                         text=True, timeout=T(10)).stdout.strip()
    assert url == "ws://127.0.0.1:%d/?token=%s" % (m.port, token_of(m))
    page = subprocess.run([FNWM_BIN, "--dir", m.config_dir, "--port",
                           str(m.port), "url", "--dashboard"],
                          capture_output=True, text=True,
                          timeout=T(10)).stdout.strip()
    assert page == "http://127.0.0.1:%d/?token=%s" % (m.port, token_of(m))
    with urllib.request.urlopen(page, timeout=T(10)) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/html")
    r = cli("--url", url, "ping")
    assert r.returncode == 0 and "pong" in r.stdout, r
    r = cli("--port", str(m.port), "worker", "list",
            env={"FNWM_TOKEN": token_of(m)})
    assert r.returncode == 0, r


NO_NETLINK_SHIM = r'''
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
/* socket(AF_NETLINK, ...) refused, as under RestrictAddressFamilies. */
int
socket(int domain, int type, int protocol)
{
	static int (*real)(int, int, int);

	if (domain == AF_NETLINK) {
		errno = EAFNOSUPPORT;
		return (-1);
	}
	if (real == NULL)
		real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	return (real(domain, type, protocol));
}
'''


@needs_root
async def test_proc_net_tcp_fallback_without_netlink(fnwm, tmp_path):
    """Where netlink sockets are not allowed the peer's uid comes from
    /proc/net/tcp: the same decisions, and one log line saying so."""
    src = tmp_path / "nonetlink.c"
    src.write_text(NO_NETLINK_SHIM)
    so = str(tmp_path / "nonetlink.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", so, str(src), "-ldl"],
                   check=True, timeout=T(60))
    m = fnwm.start(config=FAST_CONFIG, extra_env={
        "LD_PRELOAD": so,
        "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:"
                        "verify_asan_link_order=0"})
    await m.async_wait_log(r"sock_diag netlink unavailable; peers are "
                           r"looked up in /proc/net/tcp")
    ws = await connect(m)  # the manager's own user, trusted
    await ws.send("ping")
    assert await ws.recv() == "pong"
    await ws.close()
    status, body = as_nobody(m.port)
    assert " 401 " in status, (status, body)
    status, frame = as_nobody(m.port, query="?token=" + token_of(m))
    assert frame == "FRAME pong", (status, frame)


async def test_refusals_are_logged_at_a_bounded_rate(fnwm):
    """A client knocking in a loop gets its refusals, but at most ten log
    lines a second; the others are counted in a later line."""
    m = fnwm.start(config=FAST_CONFIG)
    evil = "evil.example:%d" % m.port
    t0 = time.monotonic()
    for _ in range(100):
        status, _, _ = http_exchange(m.port, handshake_request(
            m.port, host=evil))
        assert status == 403
    elapsed = time.monotonic() - t0
    await asyncio.sleep(1.1)
    status, _, _ = http_exchange(m.port, handshake_request(m.port,
                                                           host=evil))
    assert status == 403
    await m.async_wait_log(r"more refused requests were not logged")
    log = m.log()
    lines = len(re.findall(r"warning: refused WebSocket", log))
    skipped = sum(int(n) for n in re.findall(
        r"(\d+) more refused requests were not logged", log))
    assert lines + skipped == 101, (lines, skipped)
    assert lines <= 10 * (int(elapsed) + 3), (lines, elapsed)
    assert skipped > 0
