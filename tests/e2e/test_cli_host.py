"""The command line with a host name longer than any fixed buffer: the
handshake request is built to its length, never read past (the sanitized
build runs this file with the sanitized fnwm and fails on any report)."""
from cli_util import EXIT_OK, EXIT_UNREACHABLE, cli, start_manager  # noqa: F401

# 480 characters that resolve to 127.0.0.1 (a hexadecimal IPv4 number
# with leading zeros), so the handshake request really reaches the hub.
LONG_HOST = "0x" + "0" * 470 + "7f000001"


def test_long_host_ping(cli):
    start_manager(cli)
    r = cli.run("--host", LONG_HOST, "--no-start", "ping", timeout=30)
    # The hub may refuse a Host it does not know as its own: then a clean
    # error, never a read past the request.
    assert r.rc in (EXIT_OK, EXIT_UNREACHABLE), r
    assert "Sanitizer" not in r.err and "runtime error" not in r.err, r
    assert r.rc == EXIT_OK or r.err.startswith("fnwm: "), r
    # The manager is unharmed and answers a normal ping.
    r = cli.run("--host", "127.0.0.1", "--no-start", "ping", timeout=30)
    assert r.rc == EXIT_OK, r
