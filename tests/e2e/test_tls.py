"""The hub over TLS: wss:// and https:// on its port with a self-signed
certificate made by `openssl req`, plain connections refused, SIGHUP
loading a new certificate, the CLI verifying it; and the rule that a
non-loopback bind needs TLS."""
import asyncio
import json
import os
import re
import signal
import socket
import ssl
import subprocess

import pytest
import websockets

from conftest import (EXIT_PERMANENT, FAST_CONFIG, FNWM_BIN, T,
                      handshake_request, write_text)


def make_cert(d, name, cn="localhost"):
    """A self-signed certificate for localhost and 127.0.0.1."""
    cert = os.path.join(d, name + ".pem")
    key = os.path.join(d, name + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-subj", "/CN=%s" % cn, "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=T(30))
    return cert, key


def tls_config(cert, key, **fnwm):
    c = {"fnwm": dict(FAST_CONFIG["fnwm"], tls={"cert": cert, "key": key})}
    c["fnwm"].update(fnwm)
    return c


def client_ctx(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    return ctx


def served_cert(port):
    """The DER certificate the hub presents now."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=T(5)) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            return t.getpeercert(binary_form=True)


def der_of(cert):
    with open(cert) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def https_get(port, path, cafile):
    ctx = client_ctx(cafile)
    # Offered h2 as curl and browsers do, the hub keeps to HTTP/1.1.
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", port), timeout=T(5)) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            assert t.selected_alpn_protocol() in (None, "http/1.1")
            t.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                       % (path, port)).encode())
            data = b""
            while True:
                try:
                    c = t.recv(65536)
                except (ssl.SSLError, ConnectionResetError):
                    break
                if not c:
                    break
                data += c
                head, _, body = data.partition(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def wss_ping(port, cafile):
    async with websockets.connect("wss://127.0.0.1:%d/" % port,
                                  ssl=client_ctx(cafile), compression=None,
                                  open_timeout=T(10),
                                  close_timeout=T(5)) as ws:
        await ws.send("ping")
        return await asyncio.wait_for(ws.recv(), T(5))


async def wss_pings(port, cafile, n):
    """n pings sent at once: the pongs queue up and go out several to a
    send, through TLS."""
    async with websockets.connect("wss://127.0.0.1:%d/" % port,
                                  ssl=client_ctx(cafile), compression=None,
                                  open_timeout=T(10),
                                  close_timeout=T(5)) as ws:
        for _ in range(n):
            await ws.send("ping")
        return [await asyncio.wait_for(ws.recv(), T(5)) for _ in range(n)]


def start_tls(fnwm, cfg, args=()):
    m = fnwm.start(config=cfg, args=args, wait=False)
    m.wait_listening()
    return m


async def test_wss_https_and_plain_refused(fnwm, tmp_path):
    cert, key = make_cert(str(tmp_path), "a")
    m = start_tls(fnwm, tls_config(cert, key))
    assert re.search(r"listening on wss://127\.0\.0\.1:%d/" % m.port,
                     m.log())
    assert await wss_ping(m.port, cert) == "pong"
    assert await wss_pings(m.port, cert, 500) == ["pong"] * 500
    status, body = https_get(m.port, "/metrics", cert)
    assert status == 200 and body.startswith(b"# HELP"), body[:100]
    status, body = https_get(m.port, "/healthz", cert)
    assert status == 200 and json.loads(body)["status"] == "ok"

    # A plain ws:// handshake on the TLS port: no upgrade, no answer.
    s = socket.create_connection(("127.0.0.1", m.port), timeout=T(5))
    s.sendall(handshake_request(m.port))
    got = b""
    try:
        while True:
            c = s.recv(4096)
            if not c:
                break
            got += c
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    assert b"101" not in got, got
    # An untrusting client is not fooled either.
    with pytest.raises(ssl.SSLCertVerificationError):
        await wss_ping(m.port, None)
    assert m.alive()
    assert await wss_ping(m.port, cert) == "pong"


async def test_sighup_loads_a_new_certificate(fnwm, tmp_path):
    d = str(tmp_path)
    cert, key = make_cert(d, "live")
    first = der_of(cert)
    m = start_tls(fnwm, tls_config(cert, key))
    assert served_cert(m.port) == first
    # Renewed in place (as certbot does): SIGHUP picks it up.
    new_cert, new_key = make_cert(d, "next", cn="renewed")
    os.replace(new_cert, cert)
    os.replace(new_key, key)
    m.signal(signal.SIGHUP)
    await m.async_wait_log(r"TLS certificate .*live\.pem loaded")
    assert served_cert(m.port) == der_of(cert) != first
    assert await wss_ping(m.port, cert) == "pong"
    # A broken pair is refused and the working one stays.
    write_text(key, "not a key\n")
    m.signal(signal.SIGHUP)
    await m.async_wait_log(r"reload: the certificate stays as it was: TLS "
                           r"key")
    assert served_cert(m.port) == der_of(cert)
    assert await wss_ping(m.port, cert) == "pong"


def test_cli_over_tls(fnwm, tmp_path):
    cert, key = make_cert(str(tmp_path), "c")
    m = start_tls(fnwm, tls_config(cert, key))

    def cli(*args):
        return subprocess.run([FNWM_BIN] + list(args), capture_output=True,
                              text=True, timeout=T(20))

    # The local manager's own configuration: TLS and its certificate.
    r = cli("--dir", m.config_dir, "--port", str(m.port), "--no-start",
            "ping")
    assert r.returncode == 0, r
    assert "pong from wss://127.0.0.1:%d/" % m.port in r.stdout
    r = cli("--dir", m.config_dir, "--port", str(m.port), "url")
    with open(os.path.join(m.config_dir, "fnwm.token")) as f:
        tok = f.read().strip()
    assert r.stdout.strip() == "wss://127.0.0.1:%d/?token=%s" % (m.port,
                                                                 tok)
    r = cli("--dir", m.config_dir, "--port", str(m.port), "url",
            "--dashboard")
    assert r.stdout.strip() == "https://127.0.0.1:%d/?token=%s" % (m.port,
                                                                   tok)
    # From elsewhere: the URL, verified against --cacert.
    other = str(tmp_path / "other")
    r = cli("--dir", other, "--no-start", "--url",
            "wss://127.0.0.1:%d/?token=%s" % (m.port, tok), "--cacert",
            cert, "worker", "list")
    assert r.returncode == 0, r
    r = cli("--dir", other, "--no-start", "--tls", "--port", str(m.port),
            "ping")
    assert r.returncode == 3, r
    assert r.stderr.startswith("fnwm: TLS: the certificate of 127.0.0.1 "
                               "is not trusted"), r


def test_remote_bind_needs_tls(fnwm, tmp_path):
    rc, log = fnwm.run(["startworkermanager", "--dir", fnwm.new_dir(),
                        "--host", "0.0.0.0", "--port", "0"])
    assert rc == EXIT_PERMANENT, log
    assert "refusing to listen on 0.0.0.0 without TLS: set fnwm.tls.cert " \
        "and fnwm.tls.key in config.json (or fnwm.insecure_remote: true" \
        in log, log
    cert, key = make_cert(str(tmp_path), "r")
    m = start_tls(fnwm, tls_config(cert, key), args=["--host", "0.0.0.0"])
    assert re.search(r"listening on wss://0\.0\.0\.0:%d/" % m.port, m.log())
    status, body = https_get(m.port, "/healthz", cert)
    assert status == 200
    m2 = fnwm.start(config={"fnwm": {"insecure_remote": True}},
                    args=["--host", "0.0.0.0"])
    assert re.search(r"listening on ws://0\.0\.0\.0:%d/" % m2.port,
                     m2.log())


async def test_worker_manager_ssl_probes_workers_over_wss(fnwm, fakeworkers,
                                                         tmp_path):
    """worker_manager.ssl keeps its FuncNodes meaning: workers are probed
    over wss:// (the hub itself stays plain)."""
    from conftest import connect, wait_status, start_worker, active
    cert, key = make_cert(str(tmp_path), "w")
    env = {"SSL_CERT_FILE": cert}
    d = fnwm.new_dir(config={"worker_manager": {"ssl": True},
                             "fnwm": FAST_CONFIG["fnwm"]})
    wd = os.path.join(d, "workers")
    os.makedirs(wd)
    start_worker(fakeworkers, wd, "tlsw", tls=(cert, key))
    start_worker(fakeworkers, wd, "plainw")
    m = fnwm.start(config_dir=d, extra_env=env)
    assert re.search(r"listening on ws://", m.log())
    ws = await connect(m)
    st = await wait_status(ws, lambda s: active(s) == ["tlsw"], T(15),
                           poll=True)
    assert [e["uuid"] for e in st["inactive"]] == ["plainw"]
    await ws.close()
    m.signal(signal.SIGTERM)
    assert m.wait_exit() == 0
    # The worker's certificate is verified: untrusted, it is not active.
    m = fnwm.start(config_dir=d)
    ws = await connect(m)
    st = await wait_status(ws, lambda s: s["inactive"], T(15), poll=True)
    await asyncio.sleep(T(1))
    st = await wait_status(ws, lambda s: True, T(5), poll=True)
    assert active(st) == [], st
    await ws.close()
