"""Fixtures of the fnwm-monitor protocol tests; helpers are in harness.py.

Every test gets a World (its own workers dir and worker uuid). At the end
all its monitors and workers are killed, and the test fails if a monitor's
stderr holds a sanitizer report.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def pytest_report_header(config):
    return "fnwm-monitor: %s (sanitized: %s)" % (harness.MONITOR_BIN,
                                                 harness.SANITIZED)


@pytest.fixture
def w(tmp_path):
    assert os.access(harness.MONITOR_BIN, os.X_OK), \
        "no monitor at %s (set FNWM_MONITOR_BIN)" % harness.MONITOR_BIN
    world = harness.World(tmp_path, "t" + os.urandom(6).hex())
    yield world
    reports = world.cleanup()
    if reports:
        pytest.fail("sanitizer report in the monitor's stderr:\n"
                    + "\n".join(reports), pytrace=False)
