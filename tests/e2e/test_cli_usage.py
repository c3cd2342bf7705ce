"""fnwm's command line: help on every level and usage errors.

A person who knows `funcnodes worker ...` should be able to drive fnwm from
its --help alone: every level answers --help with exit 0 and its usage on
stdout, and a usage error exits 2 without starting a manager.
"""
import re

import pytest

from cli_util import EXIT_OK, EXIT_USAGE, cli  # noqa: F401 (fixture)

GLOBAL_OPTIONS = ["--dir", "--host", "--port", "--no-start", "--debug"]


def assert_no_manager(cli, r):
    assert "started a worker manager" not in r.err, r
    assert cli.manager_pids() == [], r


@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], ["help"],
    ["worker", "--help"], ["worker", "-h"],
    ["worker", "new", "--help"],
    ["worker", "list", "--help"],
    ["worker", "--name", "w", "start", "--help"],
    ["worker", "--name", "w", "stop", "--help"],
    ["worker", "--name", "w", "restart", "--help"],
    ["worker", "--name", "w", "delete", "--help"],
    ["worker", "--name", "w", "status", "--help"],
    ["worker", "--name", "w", "repair", "--help"],
    ["worker", "--name", "w", "logs", "--help"],
    ["worker", "--name", "w", "modules", "--help"],
    ["ping", "--help"], ["identify", "--help"], ["stop", "--help"],
    ["startworkermanager", "--help"], ["serve", "--help"],
], ids=lambda a: " ".join(a))
def test_help_on_every_level(cli, args):
    """--help at any level: usage on stdout, exit 0, no manager needed."""
    r = cli.run("--no-start", *args, timeout=20)
    assert r.rc == EXIT_OK, r
    assert "usage" in r.out.lower(), r
    assert_no_manager(cli, r)


def test_help_without_dir_or_port(cli):
    r = cli.run("--help", dir=False, port=False, timeout=20)
    assert r.rc == EXIT_OK, r
    assert r.out.startswith("usage: fnwm"), r
    for cmd in ("startworkermanager", "ping", "identify", "stop", "worker"):
        assert cmd in r.out, (cmd, r)
    assert "0 success, 1 operation failed" in r.out
    assert "3 manager unreachable" in r.out


def test_help_describes_every_global_option(cli):
    """Each option of the synopsis is explained in the options list."""
    r = cli.run("--help", timeout=20)
    assert r.rc == EXIT_OK, r
    opt_lines = [l.strip() for l in r.out.splitlines()
                 if re.match(r"^\s+--[a-z]", l)]
    for opt in GLOBAL_OPTIONS:
        assert opt in r.out.splitlines()[0] + r.out.splitlines()[1], opt
        assert any(l.startswith(opt + " ") or l.startswith(opt + ",")
                   or l == opt for l in opt_lines), \
            "%s is not described under options:\n%s" % (opt, r.out)


def test_worker_help_lists_every_command(cli):
    r = cli.run("worker", "--help", timeout=20)
    assert r.rc == EXIT_OK, r
    for word in ("list", "--full", "--json", "new", "--name", "--uuid",
                 "--not-in-venv", "--workertype", "--reference",
                 "--copy-lib", "--copy-ns", "--start", "start", "stop",
                 "restart", "delete", "status", "logs", "-f", "-n",
                 "repair", "modules list", "py"):
        assert word in r.out, (word, r.out)


def test_version(cli):
    r = cli.run("--version", timeout=20)
    assert r.rc == EXIT_OK, r
    assert re.match(r"^fnwm \d+\.\d+\.\d+", r.out), r


@pytest.mark.parametrize("args", [
    [],
    ["bogus"],
    ["--bogus", "ping"],
    ["--port", "nine", "ping"],
    ["--port", "70000", "ping"],
    ["ping", "extra"],
    ["identify", "extra"],
    ["stop", "--bogus"],
    ["worker"],
    ["worker", "--bogus"],
    ["worker", "list", "--bogus"],
    ["worker", "list", "extra"],
    ["worker", "new", "--bogus"],
    ["worker", "new", "extra"],
    ["worker", "new", "--copy-lib"],
    ["worker", "new", "--copy-ns"],
    ["worker", "start"],
    ["worker", "status"],
    ["worker", "--name", "w", "bogus"],
    ["worker", "--name", "w"],
    ["worker", "--name", "w", "start", "extra"],
    ["worker", "--name", "w", "logs", "-n"],
    ["worker", "--name", "w", "logs", "-n", "many"],
    ["worker", "--name", "w", "logs", "-n", "-3"],
    ["worker", "--name", "w", "logs", "--bogus"],
    ["worker", "--name", "w", "modules"],
    ["worker", "--name", "w", "modules", "install"],
    ["worker", "py", "-c", "1"],
    ["worker", "--all", "py"],
    ["worker", "--uuid"],
    ["startworkermanager", "--bogus"],
    ["startworkermanager", "--port", "nine"],
    ["startworkermanager", "extra"],
], ids=lambda a: " ".join(a) or "(nothing)")
def test_usage_errors_exit_2(cli, args):
    """Usage errors: exit 2, a message on stderr, nothing on stdout, and
    no manager started (the manager port has nothing on it)."""
    r = cli.run(*args, timeout=20)
    assert r.rc == EXIT_USAGE, r
    assert r.err.strip(), r
    assert r.out == "", r
    assert_no_manager(cli, r)


def test_usage_error_names_the_problem(cli):
    r = cli.run("worker", "start", timeout=20)
    assert r.rc == EXIT_USAGE, r
    assert "--uuid" in r.err and "--name" in r.err, r
    r = cli.run("worker", "new", "--copy-lib", timeout=20)
    assert r.rc == EXIT_USAGE, r
    assert "--reference" in r.err, r
    r = cli.run("worker", "--name", "w", "frobnicate", timeout=20)
    assert r.rc == EXIT_USAGE, r
    assert "frobnicate" in r.err, r
    r = cli.run("frobnicate", timeout=20)
    assert r.rc == EXIT_USAGE, r
    assert "frobnicate" in r.err, r
